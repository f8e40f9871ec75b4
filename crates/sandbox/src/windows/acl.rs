//! cordon's ACEs as they land in a DACL, and how a DACL is rewritten to
//! hold them.
//!
//! A writable root's grant is two ACEs, not one: the root itself gets
//! modify without `DELETE` (so the sandbox cannot rename the root away and
//! put something else, a junction say, in its place), and an inherit-only
//! ACE gives everything beneath full modify. A deny is one ACE, on the
//! object and inherited.
//!
//! The writer reads a DACL's ACEs, asks [`merged`] (or [`removed`]) for the
//! new order and carries it out: cordon's old ACEs of the kind for the SID
//! go, the new ones are put where Windows' canonical order wants them
//! (explicit denies first, then explicit allows, then inherited ACEs), and
//! every other ACE stays where it was.
//!
//! Before it writes, the writer makes sure the DACL it changes is the one
//! of the path it was given, and that the path is one cordon may grant:
//! no component of it is a junction, symbolic link or mount point
//! ([`redirecting_component`]), the object it opened (without following a
//! reparse point) is the path it named ([`same_object`]), and a grant never
//! goes on a system directory or a profile's root ([`sensitive_root`]).

use std::path::{Path, PathBuf};

use super::path;
use super::sddl::{AceKind, DELETE, DENY_ALL, DENY_WRITE, FILE_DELETE_CHILD, MODIFY};

/// `ACCESS_ALLOWED_ACE_TYPE`.
pub const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;
/// `ACCESS_DENIED_ACE_TYPE`.
pub const ACCESS_DENIED_ACE_TYPE: u8 = 1;
/// `OBJECT_INHERIT_ACE`: files beneath inherit it.
pub const OBJECT_INHERIT_ACE: u8 = 0x01;
/// `CONTAINER_INHERIT_ACE`: directories beneath inherit it.
pub const CONTAINER_INHERIT_ACE: u8 = 0x02;
/// `NO_PROPAGATE_INHERIT_ACE`: only the children inherit it, not their
/// children.
pub const NO_PROPAGATE_INHERIT_ACE: u8 = 0x04;
/// `INHERIT_ONLY_ACE`: it does not apply to the object it is on.
pub const INHERIT_ONLY_ACE: u8 = 0x08;
/// `INHERITED_ACE`: it came from a parent.
pub const INHERITED_ACE: u8 = 0x10;

/// The inheritance bits an ACE of cordon's is compared on.
const INHERITANCE: u8 =
    OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE | NO_PROPAGATE_INHERIT_ACE | INHERIT_ONLY_ACE;

/// What a writable root itself is granted (`0x1201bf`): [`MODIFY`] without
/// [`DELETE`]. Its entries keep `DELETE` from the inherited ACE; the root
/// can be neither deleted nor renamed by the sandbox.
pub const ROOT_MODIFY: u32 = MODIFY & !DELETE;

const _: () = assert!(ROOT_MODIFY == 0x0012_01bf);

/// One ACE: its type, its flags and its access mask (the SID is the
/// writer's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AceEntry {
    /// [`ACCESS_ALLOWED_ACE_TYPE`] or [`ACCESS_DENIED_ACE_TYPE`].
    pub ace_type: u8,
    /// Inheritance flags.
    pub flags: u8,
    /// The access mask.
    pub mask: u32,
}

const ROOT_ITSELF: AceEntry = AceEntry { ace_type: ACCESS_ALLOWED_ACE_TYPE, flags: 0, mask: ROOT_MODIFY };
const ROOT_BENEATH: AceEntry = AceEntry {
    ace_type: ACCESS_ALLOWED_ACE_TYPE,
    flags: OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE | INHERIT_ONLY_ACE,
    mask: MODIFY,
};
const DENY_WRITE_ENTRY: AceEntry = AceEntry {
    ace_type: ACCESS_DENIED_ACE_TYPE,
    flags: OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE,
    mask: DENY_WRITE,
};
const DENY_ALL_ENTRY: AceEntry = AceEntry {
    ace_type: ACCESS_DENIED_ACE_TYPE,
    flags: OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE,
    mask: DENY_ALL,
};

/// The ACEs of `kind` for one SID, in the order they go in.
///
/// ```
/// use cordon_sandbox::windows::acl::{INHERIT_ONLY_ACE, entries};
/// use cordon_sandbox::windows::sddl::{AceKind, DELETE};
///
/// let [root, beneath] = entries(AceKind::AllowModify) else { panic!() };
/// assert_eq!(root.mask & DELETE, 0);
/// assert_ne!(beneath.flags & INHERIT_ONLY_ACE, 0);
/// ```
pub fn entries(kind: AceKind) -> &'static [AceEntry] {
    match kind {
        AceKind::AllowModify => &[ROOT_ITSELF, ROOT_BENEATH],
        AceKind::DenyWrite => &[DENY_WRITE_ENTRY],
        AceKind::DenyAll => &[DENY_ALL_ENTRY],
    }
}

/// The SDDL of one entry for `sid` (checked by the caller).
pub(crate) fn entry_sddl(entry: &AceEntry, sid: &str) -> String {
    let kind = if entry.ace_type == ACCESS_DENIED_ACE_TYPE { "D" } else { "A" };
    let mut flags = String::new();
    for (bit, text) in [
        (OBJECT_INHERIT_ACE, "OI"),
        (CONTAINER_INHERIT_ACE, "CI"),
        (NO_PROPAGATE_INHERIT_ACE, "NP"),
        (INHERIT_ONLY_ACE, "IO"),
    ] {
        if entry.flags & bit != 0 {
            flags.push_str(text);
        }
    }
    format!("({kind};{flags};{:#x};;;{sid})", entry.mask)
}

/// An ACE already in a DACL, as the writer reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Existing {
    /// Its type (any: object ACEs, callback ACEs, …).
    pub ace_type: u8,
    /// Its flags.
    pub flags: u8,
    /// Its mask (0 for a type without one).
    pub mask: u32,
    /// Whether it is for the SID being written.
    pub for_sid: bool,
}

impl Existing {
    fn is_explicit(&self) -> bool {
        self.flags & INHERITED_ACE == 0
    }

    /// Whether it is an explicit ACE for the SID of the type of `kind`:
    /// what writing `kind` replaces and removing `kind` takes away.
    fn is_replaced_by(&self, kind: AceKind) -> bool {
        self.for_sid && self.is_explicit() && self.ace_type == entries(kind)[0].ace_type
    }

    fn matches(&self, entry: &AceEntry) -> bool {
        self.for_sid
            && self.is_explicit()
            && self.ace_type == entry.ace_type
            && self.flags & INHERITANCE == entry.flags
            && self.mask == entry.mask
    }
}

/// One ACE of a rewritten DACL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The existing ACE at this index, as it was.
    Keep(usize),
    /// A new ACE of cordon's for the SID.
    New(AceEntry),
}

/// Whether a DACL with `existing` holds exactly `kind`'s ACEs for the SID.
pub fn has(existing: &[Existing], kind: AceKind) -> bool {
    entries(kind).iter().all(|entry| existing.iter().any(|ace| ace.matches(entry)))
}

/// Whether writing `kind` would change nothing: the DACL holds exactly
/// its ACEs for the SID and no other explicit ACE of that type for it.
pub fn is_current(existing: &[Existing], kind: AceKind) -> bool {
    has(existing, kind)
        && existing.iter().filter(|ace| ace.is_replaced_by(kind)).count() == entries(kind).len()
}

/// The DACL with `kind`'s ACEs for the SID: the SID's explicit ACEs of
/// that type are dropped (an earlier grant, or one with another mask), the
/// rest kept in order, and the new ACEs put in canonical order: a deny
/// before every other ACE, an allow after the explicit ACEs and before the
/// inherited ones.
pub fn merged(existing: &[Existing], kind: AceKind) -> Vec<Slot> {
    let mut slots = removed(existing, kind);
    let new = entries(kind).iter().copied().map(Slot::New);
    let at = if entries(kind)[0].ace_type == ACCESS_DENIED_ACE_TYPE {
        0
    } else {
        slots
            .iter()
            .position(|slot| matches!(slot, Slot::Keep(i) if !existing[*i].is_explicit()))
            .unwrap_or(slots.len())
    };
    slots.splice(at..at, new);
    slots
}

/// The DACL without the SID's explicit ACEs of `kind`'s type.
pub fn removed(existing: &[Existing], kind: AceKind) -> Vec<Slot> {
    (0..existing.len()).filter(|&i| !existing[i].is_replaced_by(kind)).map(Slot::Keep).collect()
}

/// Whether `entries` give the object they are on the right to delete or
/// rename itself, or its children whatever their own DACL says.
pub fn deletes_itself(entries: &[AceEntry]) -> bool {
    entries.iter().any(|entry| {
        entry.ace_type == ACCESS_ALLOWED_ACE_TYPE
            && entry.flags & INHERIT_ONLY_ACE == 0
            && entry.mask & (DELETE | FILE_DELETE_CHILD) != 0
    })
}

/// `FILE_ATTRIBUTE_REPARSE_POINT`.
pub const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x0400;

/// Whether a reparse tag names another object in place of the one it is
/// on (`IsReparseTagNameSurrogate`: bit 29): junctions and mount points
/// (`IO_REPARSE_TAG_MOUNT_POINT`), symbolic links, WSL's links. Other
/// reparse points (OneDrive's cloud files, deduplication) hold data and
/// redirect nothing.
pub fn is_name_surrogate(tag: u32) -> bool {
    tag & 0x2000_0000 != 0
}

/// One component of a path on the way to the object an ACE goes on, as
/// `GetFileInformationByHandleEx(FileAttributeTagInfo)` of a handle opened
/// without following reparse points describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// The path up to and with this component.
    pub path: PathBuf,
    /// Its `FileAttributes`.
    pub attributes: u32,
    /// Its `ReparseTag` (meaningful with [`FILE_ATTRIBUTE_REPARSE_POINT`]).
    pub reparse_tag: u32,
}

/// The first component, the object itself included, that is a reparse
/// point naming something else: a DACL written through it would be the
/// target's, wherever that is (a junction planted for `.git` could point
/// at `C:\Windows`).
///
/// ```
/// use std::path::PathBuf;
/// use cordon_sandbox::windows::acl::{Component, FILE_ATTRIBUTE_REPARSE_POINT, redirecting_component};
///
/// let dir = |path: &str, attributes, reparse_tag| Component { path: PathBuf::from(path), attributes, reparse_tag };
/// let walk = [dir(r"C:\work", 0x10, 0), dir(r"C:\work\.git", 0x10 | FILE_ATTRIBUTE_REPARSE_POINT, 0xA000_0003)];
/// assert_eq!(redirecting_component(&walk).unwrap().path, PathBuf::from(r"C:\work\.git"));
/// ```
pub fn redirecting_component(components: &[Component]) -> Option<&Component> {
    components
        .iter()
        .find(|c| c.attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 && is_name_surrogate(c.reparse_tag))
}

/// Whether the object a handle refers to (`final_path`, from
/// `GetFinalPathNameByHandleW`) is the path that was opened: the same
/// normal form. A component swapped for a junction between the check of
/// the components and the open, a `subst` drive or a short (8.3) name
/// makes them differ; the writer then refuses rather than guess.
pub fn same_object(requested: &Path, final_path: &Path) -> bool {
    path::normalize(requested) == path::normalize(final_path)
}

/// Where this machine keeps what no writable root may be or be in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDirs {
    /// Directories no writable root may be in: the Windows directory, the
    /// program directories, `ProgramData`.
    pub system: Vec<PathBuf>,
    /// The directories holding the users' profiles (`C:\Users`): neither
    /// it nor a profile in it may be a writable root.
    pub profiles: Vec<PathBuf>,
    /// The caller's profile (`USERPROFILE`): neither it, its `AppData`,
    /// `AppData`'s `Local`, `LocalLow` and `Roaming`, nor the temp
    /// directory `AppData\Local\Temp` may be a writable root (programs
    /// start from there); directories beneath them may.
    pub profile: Option<PathBuf>,
}

impl HostDirs {
    /// The usual places, whatever this machine says: `C:\Windows`,
    /// `C:\Program Files`, `C:\Program Files (x86)`, `C:\ProgramData`,
    /// `C:\Users`. The writer adds what the machine reports.
    pub fn defaults() -> HostDirs {
        HostDirs {
            system: [r"C:\Windows", r"C:\Program Files", r"C:\Program Files (x86)", r"C:\ProgramData"]
                .map(PathBuf::from)
                .into(),
            profiles: vec![PathBuf::from(r"C:\Users")],
            profile: None,
        }
    }
}

/// Why `root` may not be granted to a sandbox, if it may not: a whole drive
/// or share, in the Windows or a program directory or `ProgramData`, the
/// profiles directory or a profile in it, or the caller's profile, its
/// `AppData` and the directories directly in it, or its temp directory.
///
/// ```
/// use std::path::Path;
/// use cordon_sandbox::windows::acl::{HostDirs, sensitive_root};
///
/// let dirs = HostDirs::defaults();
/// assert!(sensitive_root(Path::new(r"C:\Windows\System32"), &dirs).is_some());
/// assert!(sensitive_root(Path::new(r"C:\Users\me"), &dirs).is_some());
/// assert_eq!(sensitive_root(Path::new(r"C:\Users\me\src\app"), &dirs), None);
/// ```
pub fn sensitive_root(root: &Path, dirs: &HostDirs) -> Option<String> {
    let root = path::normalize(root);
    if path::is_volume_root(&root) {
        return Some("a whole drive or share".into());
    }
    if let Some(dir) = dirs.system.iter().find(|dir| path::is_within(&root, &path::normalize(dir))) {
        return Some(format!("in the system directory {}", dir.display()));
    }
    for dir in &dirs.profiles {
        let dir = path::normalize(dir);
        if root == dir {
            return Some("the directory of the users' profiles".into());
        }
        if root
            .strip_prefix(&dir)
            .and_then(|rest| rest.strip_prefix('\\'))
            .is_some_and(|rest| !rest.contains('\\'))
        {
            return Some("a user's profile".into());
        }
    }
    if let Some(profile) = &dirs.profile {
        let profile = path::normalize(profile);
        let own = [
            "",
            r"\appdata",
            r"\appdata\local",
            r"\appdata\locallow",
            r"\appdata\roaming",
            r"\appdata\local\temp",
        ];
        if own.iter().any(|tail| root == format!("{profile}{tail}")) {
            return Some("your profile or its application data (programs start from there)".into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ace(ace_type: u8, flags: u8, mask: u32, for_sid: bool) -> Existing {
        Existing { ace_type, flags, mask, for_sid }
    }

    /// What the DACL holds after the slots are carried out.
    fn apply(existing: &[Existing], slots: &[Slot]) -> Vec<Existing> {
        slots
            .iter()
            .map(|slot| match slot {
                Slot::Keep(i) => existing[*i],
                Slot::New(entry) => ace(entry.ace_type, entry.flags, entry.mask, true),
            })
            .collect()
    }

    const OICI: u8 = OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE;

    #[test]
    fn no_delete_on_a_root() {
        let grant = entries(AceKind::AllowModify);
        assert!(!deletes_itself(grant), "{grant:?}");
        let on_root: Vec<&AceEntry> = grant.iter().filter(|e| e.flags & INHERIT_ONLY_ACE == 0).collect();
        assert_eq!(on_root.len(), 1);
        assert_eq!(on_root[0].mask & DELETE, 0);
        assert_eq!(on_root[0].mask & FILE_DELETE_CHILD, 0);
        assert_eq!(on_root[0].flags & OICI, 0, "the root's own ACE is not inherited");
        // What the root used to get: modify, DELETE included, on itself.
        let old = [AceEntry { ace_type: ACCESS_ALLOWED_ACE_TYPE, flags: OICI, mask: MODIFY }];
        assert!(deletes_itself(&old));
    }

    #[test]
    fn everything_beneath_a_root_may_be_modified_and_deleted() {
        let beneath: Vec<&AceEntry> =
            entries(AceKind::AllowModify).iter().filter(|e| e.flags & INHERIT_ONLY_ACE != 0).collect();
        assert_eq!(beneath.len(), 1);
        assert_eq!(beneath[0].flags & OICI, OICI);
        assert_eq!(beneath[0].mask, MODIFY);
        assert_ne!(beneath[0].mask & DELETE, 0);
    }

    #[test]
    fn denies_apply_to_the_object_and_everything_beneath() {
        for kind in [AceKind::DenyWrite, AceKind::DenyAll] {
            let [entry] = entries(kind) else { panic!("{kind:?}") };
            assert_eq!(entry.ace_type, ACCESS_DENIED_ACE_TYPE);
            assert_eq!(entry.flags, OICI);
        }
        assert_eq!(entries(AceKind::DenyAll)[0].mask, 0x1f01ff);
        assert_eq!(entries(AceKind::DenyWrite)[0].mask, 0xd0156);
    }

    #[test]
    fn a_grant_replaces_the_sids_old_grant_and_keeps_the_rest_in_order() {
        let existing = [
            ace(ACCESS_DENIED_ACE_TYPE, 0, 0x1, false),
            ace(ACCESS_ALLOWED_ACE_TYPE, OICI, 0x1f01ff, false),
            ace(ACCESS_ALLOWED_ACE_TYPE, OICI, MODIFY, true), // the old single grant
            ace(ACCESS_ALLOWED_ACE_TYPE, OICI | INHERITED_ACE, 0x1200a9, false),
            ace(ACCESS_ALLOWED_ACE_TYPE, OICI | INHERITED_ACE, 0x1200a9, true),
        ];
        let slots = merged(&existing, AceKind::AllowModify);
        assert_eq!(
            slots,
            [
                Slot::Keep(0),
                Slot::Keep(1),
                Slot::New(ROOT_ITSELF),
                Slot::New(ROOT_BENEATH),
                Slot::Keep(3),
                Slot::Keep(4),
            ],
            "the old grant goes; the new ones end the explicit ACEs; inherited ones stay"
        );
        let after = apply(&existing, &slots);
        assert!(has(&after, AceKind::AllowModify));
        assert!(is_current(&after, AceKind::AllowModify));
        assert!(!has(&existing, AceKind::AllowModify), "the old grant is not cordon's any more");
        // Cordon's ACEs and one more allow for the SID: rewritten.
        let mut extra = after.clone();
        extra.insert(0, ace(ACCESS_ALLOWED_ACE_TYPE, 0, 0x1, true));
        assert!(has(&extra, AceKind::AllowModify) && !is_current(&extra, AceKind::AllowModify));
        // Writing it again changes nothing.
        assert_eq!(apply(&after, &merged(&after, AceKind::AllowModify)), after);
    }

    #[test]
    fn a_deny_goes_before_every_other_ace() {
        let existing = [
            ace(ACCESS_DENIED_ACE_TYPE, 0, 0x1, false),
            ace(ACCESS_ALLOWED_ACE_TYPE, OICI, MODIFY, true),
            ace(ACCESS_ALLOWED_ACE_TYPE, OICI | INHERITED_ACE, 0x1200a9, false),
        ];
        let slots = merged(&existing, AceKind::DenyWrite);
        assert_eq!(slots, [Slot::New(DENY_WRITE_ENTRY), Slot::Keep(0), Slot::Keep(1), Slot::Keep(2)]);
        let after = apply(&existing, &slots);
        assert!(has(&after, AceKind::DenyWrite));
        assert!(!has(&after, AceKind::DenyAll));
    }

    #[test]
    fn an_ace_of_another_shape_is_not_cordons() {
        let entry = entries(AceKind::DenyWrite)[0];
        for (flags, mask) in [
            (OICI | INHERITED_ACE, entry.mask),
            (OICI | INHERIT_ONLY_ACE, entry.mask),
            (CONTAINER_INHERIT_ACE, entry.mask),
            (OICI, 0x120116),
        ] {
            assert!(
                !has(&[ace(ACCESS_DENIED_ACE_TYPE, flags, mask, true)], AceKind::DenyWrite),
                "{flags:#x} {mask:#x}"
            );
        }
        assert!(!has(&[ace(ACCESS_DENIED_ACE_TYPE, entry.flags, entry.mask, false)], AceKind::DenyWrite));
        // A grant needs both of its ACEs.
        let half = [ace(ROOT_ITSELF.ace_type, ROOT_ITSELF.flags, ROOT_ITSELF.mask, true)];
        assert!(!has(&half, AceKind::AllowModify));
    }

    #[test]
    fn removing_takes_the_sids_explicit_aces_of_the_type_only() {
        let existing = [
            ace(ACCESS_ALLOWED_ACE_TYPE, 0, ROOT_MODIFY, true),
            ace(ACCESS_ALLOWED_ACE_TYPE, OICI | INHERIT_ONLY_ACE, MODIFY, true),
            ace(ACCESS_DENIED_ACE_TYPE, OICI, DENY_WRITE, true),
            ace(ACCESS_ALLOWED_ACE_TYPE, OICI, MODIFY, false),
            ace(ACCESS_ALLOWED_ACE_TYPE, OICI | INHERITED_ACE, MODIFY, true),
        ];
        assert_eq!(removed(&existing, AceKind::AllowModify), [Slot::Keep(2), Slot::Keep(3), Slot::Keep(4)]);
        assert_eq!(
            removed(&existing, AceKind::DenyWrite),
            [Slot::Keep(0), Slot::Keep(1), Slot::Keep(3), Slot::Keep(4)]
        );
    }

    fn component(path: &str, attributes: u32, reparse_tag: u32) -> Component {
        Component { path: PathBuf::from(path), attributes, reparse_tag }
    }

    const DIRECTORY: u32 = 0x10;

    #[test]
    fn a_junction_or_link_anywhere_on_the_way_is_refused() {
        let reparse = DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT;
        for tag in [0xA000_0003, 0xA000_000C, 0xA000_001D] {
            for at in 0..3 {
                let mut walk = vec![
                    component(r"C:\work", DIRECTORY, 0),
                    component(r"C:\work\repo", DIRECTORY, 0),
                    component(r"C:\work\repo\.git", DIRECTORY, 0),
                ];
                walk[at].attributes = reparse;
                walk[at].reparse_tag = tag;
                assert_eq!(redirecting_component(&walk), Some(&walk[at]), "{tag:#x} at {at}");
            }
        }
    }

    #[test]
    fn plain_directories_and_data_reparse_points_pass() {
        let walk = [
            component(r"C:\Users\me\OneDrive", DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT, 0x9000_601A),
            component(r"C:\Users\me\OneDrive\app", DIRECTORY, 0),
            component(r"C:\Users\me\OneDrive\app\f.txt", 0x20, 0),
        ];
        assert_eq!(redirecting_component(&walk), None);
        // A surrogate tag without the reparse attribute is no reparse point.
        assert_eq!(redirecting_component(&[component(r"C:\w", DIRECTORY, 0xA000_0003)]), None);
        assert!(is_name_surrogate(0xA000_0003) && is_name_surrogate(0xA000_000C));
        assert!(!is_name_surrogate(0x8000_0013) && !is_name_surrogate(0x9000_001A));
    }

    #[test]
    fn the_opened_object_must_be_the_path_named() {
        assert!(same_object(Path::new(r"C:\Work\repo"), Path::new(r"\\?\C:\work\repo")));
        assert!(same_object(Path::new(r"\\?\UNC\srv\share\w"), Path::new(r"\\srv\share\w\")));
        assert!(!same_object(Path::new(r"C:\work\repo\.git"), Path::new(r"\\?\C:\Windows\System32")));
        assert!(!same_object(Path::new(r"S:\repo"), Path::new(r"\\?\C:\src\repo")), "a subst drive");
        assert!(!same_object(Path::new(r"C:\PROGRA~1\x"), Path::new(r"\\?\C:\Program Files\x")));
    }

    #[test]
    fn sensitive_roots_are_refused() {
        let mut dirs = HostDirs::defaults();
        dirs.system.push(PathBuf::from(r"D:\Windows"));
        dirs.profile = Some(PathBuf::from(r"C:\Users\me"));
        for root in [
            r"C:\",
            r"D:\",
            r"\\srv\share",
            r"C:\Windows",
            r"c:\windows\system32",
            r"D:\Windows\Temp",
            r"C:\Program Files",
            r"C:\Program Files\Git",
            r"C:\Program Files (x86)\x",
            r"C:\ProgramData",
            r"C:\ProgramData\Microsoft\Windows\Start Menu",
            r"C:\Users",
            r"C:\Users\me",
            r"C:\Users\someone-else",
            r"C:\Users\Public",
            r"C:\Users\me\AppData",
            r"C:\Users\me\AppData\Roaming",
            r"C:\Users\me\AppData\Local\Temp",
            r"\\?\C:\Users\ME\",
        ] {
            assert!(sensitive_root(Path::new(root), &dirs).is_some(), "{root}");
        }
    }

    #[test]
    fn project_and_temp_directories_may_be_roots() {
        let mut dirs = HostDirs::defaults();
        dirs.profile = Some(PathBuf::from(r"C:\Users\me"));
        for root in [
            r"C:\work",
            r"C:\Users\me\src\app",
            r"C:\Users\me\AppData\Local\Temp\cordon-tmp-abc",
            r"C:\Users\me\Documents\proj",
            r"D:\Users\me",
            r"C:\Windows-tools",
            r"\\srv\share\proj",
        ] {
            assert_eq!(sensitive_root(Path::new(root), &dirs), None, "{root}");
        }
    }

    #[test]
    fn entries_print_as_sddl() {
        let sid = "S-1-5-21-1-2-3-1005";
        let text: Vec<String> = entries(AceKind::AllowModify).iter().map(|e| entry_sddl(e, sid)).collect();
        assert_eq!(text, [format!("(A;;0x1201bf;;;{sid})"), format!("(A;OICIIO;0x1301bf;;;{sid})")]);
    }
}
