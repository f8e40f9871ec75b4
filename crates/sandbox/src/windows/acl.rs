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

    #[test]
    fn entries_print_as_sddl() {
        let sid = "S-1-5-21-1-2-3-1005";
        let text: Vec<String> = entries(AceKind::AllowModify).iter().map(|e| entry_sddl(e, sid)).collect();
        assert_eq!(text, [format!("(A;;0x1201bf;;;{sid})"), format!("(A;OICIIO;0x1301bf;;;{sid})")]);
    }
}
