//! cordon's ACEs on files and directories, written: the object is opened
//! without following a reparse point, checked to be the path named (no
//! junction, symbolic link or mount point on the way, the handle's final
//! path the path itself; a grant never on a system directory or a
//! profile's root), its DACL read from the handle, the new order of its
//! ACEs taken from [`crate::windows::acl`] (cordon's old ACEs of the kind
//! for the SID out, the new ones in canonical order, every other ACE
//! kept), and the new DACL built ACE by ACE and set on the same handle
//! with the object's protection from inheritance unchanged. Never by name:
//! a name could lead elsewhere between the check and the write. The
//! restricted-token launch and `cordon setup` both write through here.

use std::ffi::OsString;
use std::ffi::c_void;
use std::io;
use std::os::windows::ffi::OsStringExt;
use std::os::windows::io::{AsHandle, AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::path::{Component as PathComponent, Path, PathBuf};
use std::ptr::{null, null_mut};

use cordon_win::{ObjectSecurity, Sid, wide};
use windows_sys::Win32::Foundation::{HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Security::Authorization::SE_FILE_OBJECT;
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, ACL_REVISION, AddAccessAllowedAceEx, AddAccessDeniedAceEx, AddAce,
    DACL_SECURITY_INFORMATION, EqualSid, GetAce, GetLengthSid, InitializeAcl, OWNER_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSID, UNPROTECTED_DACL_SECURITY_INFORMATION,
};

use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_ATTRIBUTE_TAG_INFO, FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT,
    FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE, FileAttributeTagInfo,
    GetFileInformationByHandleEx, GetFinalPathNameByHandleW, OPEN_EXISTING, READ_CONTROL, WRITE_DAC,
    WRITE_OWNER,
};
use windows_sys::Win32::System::SystemInformation::GetWindowsDirectoryW;

use crate::windows::acl::{
    ACCESS_ALLOWED_ACE_TYPE, ACCESS_DENIED_ACE_TYPE, AceEntry, Component, Existing,
    FILE_ATTRIBUTE_REPARSE_POINT, HostDirs, Slot, entries, has, is_current, is_name_surrogate, merged,
    redirecting_component, removed, same_object, sensitive_root,
};
use crate::windows::integrity::{IntegrityLevel, Label, LabelEntry};
use crate::windows::sddl::AceKind;

fn last_error(what: impl std::fmt::Display) -> io::Error {
    let err = io::Error::last_os_error();
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

/// One ACE of a DACL: where it is, and what the plan needs to know of it.
struct Ace {
    raw: *const c_void,
    size: u16,
    existing: Existing,
}

/// The object at `path` itself (a reparse point is opened, not followed),
/// with `access`.
fn open(path: &Path, access: u32) -> io::Result<OwnedHandle> {
    // SAFETY: a NUL-terminated path; no security attributes or template.
    let raw = unsafe {
        CreateFileW(
            wide(path).as_ptr(),
            access,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            null(),
            OPEN_EXISTING,
            FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS,
            null_mut(),
        )
    };
    if raw == INVALID_HANDLE_VALUE {
        return Err(last_error(format_args!("opening {}", path.display())));
    }
    // SAFETY: a fresh handle owned by nobody else.
    Ok(unsafe { OwnedHandle::from_raw_handle(raw as RawHandle) })
}

fn raw(handle: &OwnedHandle) -> HANDLE {
    handle.as_raw_handle() as HANDLE
}

/// The attributes and reparse tag of an opened object.
fn attributes(handle: &OwnedHandle, path: &Path) -> io::Result<(u32, u32)> {
    let mut info = FILE_ATTRIBUTE_TAG_INFO { FileAttributes: 0, ReparseTag: 0 };
    // SAFETY: a live handle and a correctly sized structure.
    let ok = unsafe {
        GetFileInformationByHandleEx(
            raw(handle),
            FileAttributeTagInfo,
            (&raw mut info).cast(),
            size_of_val(&info) as u32,
        )
    };
    if ok == 0 {
        return Err(last_error(format_args!("reading the attributes of {}", path.display())));
    }
    Ok((info.FileAttributes, info.ReparseTag))
}

/// The path of the object a handle refers to (`\\?\C:\…`).
fn final_path(handle: &OwnedHandle, path: &Path) -> io::Result<PathBuf> {
    let mut buffer = vec![0u16; 512];
    loop {
        // SAFETY: a live handle and a buffer of the length given; flags 0:
        // the normalized name, with its drive letter.
        let len =
            unsafe { GetFinalPathNameByHandleW(raw(handle), buffer.as_mut_ptr(), buffer.len() as u32, 0) }
                as usize;
        if len == 0 {
            return Err(last_error(format_args!("reading the final path of {}", path.display())));
        }
        if len < buffer.len() {
            return Ok(PathBuf::from(OsString::from_wide(&buffer[..len])));
        }
        buffer.resize(len + 1, 0);
    }
}

fn refused(path: &Path, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("cordon does not change the DACL of {}: {why}", path.display()),
    )
}

/// `path` opened to change its DACL, once it is known to be the path named:
/// no component of it (the object included) a junction, symbolic link or
/// mount point, and the handle's final path the path itself (so nothing
/// was swapped in between the check and the open), with `access`.
fn open_checked(path: &Path, access: u32) -> io::Result<OwnedHandle> {
    let mut components = Vec::new();
    let mut prefix = PathBuf::new();
    for part in path.components() {
        prefix.push(part);
        if matches!(part, PathComponent::Prefix(_) | PathComponent::RootDir) {
            continue;
        }
        let handle = open(&prefix, FILE_READ_ATTRIBUTES)?;
        let (attributes, reparse_tag) = attributes(&handle, &prefix)?;
        components.push(Component { path: prefix.clone(), attributes, reparse_tag });
    }
    if let Some(link) = redirecting_component(&components) {
        let link = link.path.display();
        return Err(refused(path, format_args!("{link} is a junction, symbolic link or mount point")));
    }
    let handle = open(path, access)?;
    let (attributes, reparse_tag) = attributes(&handle, path)?;
    if attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 && is_name_surrogate(reparse_tag) {
        return Err(refused(path, "it became a junction, symbolic link or mount point"));
    }
    let opened = final_path(&handle, path)?;
    if !same_object(path, &opened) {
        let opened = opened.display();
        return Err(refused(path, format_args!("it opens as {opened}; name that path itself")));
    }
    Ok(handle)
}

/// Where this machine keeps what no writable root may be: the usual places
/// ([`HostDirs::defaults`]), the Windows directory it reports, and the
/// program and profile directories its environment names.
fn host_dirs() -> HostDirs {
    let mut dirs = HostDirs::defaults();
    let mut buffer = [0u16; 261];
    // SAFETY: a buffer of the length given.
    let len = unsafe { GetWindowsDirectoryW(buffer.as_mut_ptr(), buffer.len() as u32) } as usize;
    if len > 0 && len < buffer.len() {
        dirs.system.push(PathBuf::from(OsString::from_wide(&buffer[..len])));
    }
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    for name in ["ProgramFiles", "ProgramFiles(x86)", "ProgramW6432", "ProgramData"] {
        dirs.system.extend(var(name));
    }
    if let Some(profile) = var("USERPROFILE") {
        dirs.profiles.extend(profile.parent().map(Path::to_path_buf));
        dirs.profile = Some(profile);
    }
    dirs
}

/// The DACL of an opened object.
fn read(handle: &OwnedHandle, path: &Path) -> io::Result<ObjectSecurity> {
    ObjectSecurity::read(handle.as_handle(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION)
        .map_err(|e| io::Error::new(e.kind(), format!("reading the DACL of {}: {e}", path.display())))
}

/// The ACEs of `acl`, each marked whether it is for `sid`.
fn aces(acl: *const ACL, sid: &Sid) -> Vec<Ace> {
    if acl.is_null() {
        return Vec::new();
    }
    // SAFETY: a valid DACL from a descriptor.
    let count = unsafe { (*acl).AceCount };
    let mut aces = Vec::new();
    for index in 0..u32::from(count) {
        let mut raw: *mut c_void = null_mut();
        // SAFETY: an index below the ACE count.
        if unsafe { GetAce(acl, index, &mut raw) } == 0 {
            continue;
        }
        // SAFETY: every ACE starts with an ACE_HEADER.
        let header = unsafe { *(raw as *const ACE_HEADER) };
        let (mask, for_sid) = if matches!(header.AceType, ACCESS_ALLOWED_ACE_TYPE | ACCESS_DENIED_ACE_TYPE) {
            // SAFETY: allow and deny ACEs share ACCESS_ALLOWED_ACE's layout,
            // the SID starting at SidStart; both SIDs are valid.
            unsafe {
                let ace = raw as *const ACCESS_ALLOWED_ACE;
                let ace_sid = std::ptr::addr_of!((*ace).SidStart) as PSID;
                ((*ace).Mask, EqualSid(ace_sid, sid.as_psid()) != 0)
            }
        } else {
            (0, false)
        };
        let existing = Existing { ace_type: header.AceType, flags: header.AceFlags, mask, for_sid };
        aces.push(Ace { raw, size: header.AceSize, existing });
    }
    aces
}

/// The DACL `slots` describe, in a buffer that holds the `ACL`.
fn build(acl: *const ACL, aces: &[Ace], slots: &[Slot], sid: &Sid, path: &Path) -> io::Result<Vec<u64>> {
    // SAFETY: a valid DACL.
    let revision = u32::from(unsafe { (*acl).AclRevision }).max(ACL_REVISION);
    // SAFETY: a valid SID.
    let sid_len = unsafe { GetLengthSid(sid.as_psid()) } as usize;
    let new_ace = size_of::<ACCESS_ALLOWED_ACE>() - size_of::<u32>() + sid_len;
    let size: usize = size_of::<ACL>()
        + slots
            .iter()
            .map(|slot| match slot {
                Slot::Keep(i) => usize::from(aces[*i].size),
                Slot::New(_) => new_ace.next_multiple_of(4),
            })
            .sum::<usize>();
    let size = u32::try_from(size).map_err(|_| io::Error::other("the DACL would be too large"))?;
    let mut buffer = vec![0u64; (size as usize).div_ceil(8)];
    let new_acl = buffer.as_mut_ptr() as *mut ACL;
    let copying = || last_error(format_args!("building the DACL of {}", path.display()));
    // SAFETY: a buffer of at least `size` bytes, 8-byte aligned.
    if unsafe { InitializeAcl(new_acl, size, revision) } == 0 {
        return Err(copying());
    }
    for slot in slots {
        // SAFETY: ACEs appended (index MAXDWORD for a copied one) to an ACL
        // sized for all of them; a copied ACE is `size` bytes of a valid
        // DACL; the SID is valid.
        let ok = unsafe {
            match slot {
                Slot::Keep(i) => AddAce(new_acl, revision, u32::MAX, aces[*i].raw, u32::from(aces[*i].size)),
                Slot::New(AceEntry { ace_type: ACCESS_DENIED_ACE_TYPE, flags, mask }) => {
                    AddAccessDeniedAceEx(new_acl, revision, u32::from(*flags), *mask, sid.as_psid())
                }
                Slot::New(AceEntry { flags, mask, .. }) => {
                    AddAccessAllowedAceEx(new_acl, revision, u32::from(*flags), *mask, sid.as_psid())
                }
            }
        };
        if ok == 0 {
            return Err(copying());
        }
    }
    Ok(buffer)
}

/// Sets `acl` on the opened object, keeping whether it inherits from its
/// parent.
fn write(handle: &OwnedHandle, path: &Path, acl: *const ACL, protected: bool) -> io::Result<()> {
    let protection =
        if protected { PROTECTED_DACL_SECURITY_INFORMATION } else { UNPROTECTED_DACL_SECURITY_INFORMATION };
    // SAFETY: a valid DACL, built by the caller.
    unsafe {
        cordon_win::set_security_info(
            handle.as_handle(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | protection,
            acl,
            null(),
        )
    }
    .map_err(|e| io::Error::new(e.kind(), format!("writing the DACL of {}: {e}", path.display())))
}

/// Whether `path` (itself: a reparse point is not followed) holds exactly
/// cordon's ACEs of `kind` for `sid`.
pub fn has_ace(path: &Path, sid: &str, kind: AceKind) -> io::Result<bool> {
    let sid = Sid::parse(sid)?;
    let handle = open(path, READ_CONTROL)?;
    let current = read(&handle, path)?;
    let existing: Vec<Existing> = aces(current.dacl(), &sid).iter().map(|ace| ace.existing).collect();
    Ok(has(&existing, kind))
}

/// Gives `path` cordon's ACEs of `kind` for `sid` ([`entries`]), replacing
/// the SID's explicit ACEs of that type; nothing is written when they are
/// there already. Refused (`PermissionDenied`): a path that is, or is
/// reached through, a junction, symbolic link or mount point; a grant on a
/// system directory or a profile's root ([`sensitive_root`]); a path
/// without a DACL (everyone may do anything), where a DACL of cordon's
/// ACEs alone would lock everyone else out. A path that does not exist is
/// `NotFound`.
pub fn add_ace(path: &Path, sid: &str, kind: AceKind) -> io::Result<()> {
    let sid = Sid::parse(sid)?;
    if kind == AceKind::AllowModify
        && let Some(why) = sensitive_root(path, &host_dirs())
    {
        return Err(refused(path, format_args!("it is {why}, which no sandbox may be granted")));
    }
    let handle = open_checked(path, READ_CONTROL | WRITE_DAC)?;
    let current = read(&handle, path)?;
    if current.dacl().is_null() {
        return Err(refused(path, "it has no DACL (everyone may do anything); give it one first"));
    }
    let aces = aces(current.dacl(), &sid);
    let existing: Vec<Existing> = aces.iter().map(|ace| ace.existing).collect();
    if is_current(&existing, kind) {
        return Ok(());
    }
    let slots = merged(&existing, kind);
    debug_assert_eq!(slots.iter().filter(|s| matches!(s, Slot::New(_))).count(), entries(kind).len());
    let new = build(current.dacl(), &aces, &slots, &sid, path)?;
    write(&handle, path, new.as_ptr() as *const ACL, current.dacl_protected())
}

/// Takes `sid`'s explicit ACEs of `kind`'s type off `path`, opened and
/// checked as for [`add_ace`].
pub fn remove_ace(path: &Path, sid: &str, kind: AceKind) -> io::Result<()> {
    let sid = Sid::parse(sid)?;
    let handle = open_checked(path, READ_CONTROL | WRITE_DAC)?;
    let current = read(&handle, path)?;
    if current.dacl().is_null() {
        return Ok(());
    }
    let aces = aces(current.dacl(), &sid);
    let existing: Vec<Existing> = aces.iter().map(|ace| ace.existing).collect();
    let slots = removed(&existing, kind);
    if slots.len() == aces.len() {
        return Ok(());
    }
    let new = build(current.dacl(), &aces, &slots, &sid, path)?;
    write(&handle, path, new.as_ptr() as *const ACL, current.dacl_protected())
}

/// Gives `path` the mandatory `label`, opened and checked as for
/// [`add_ace`] (never through a reparse point), and refused on a system
/// directory or a profile's root as a grant is: a Low label there would
/// let every Low process on the machine write it.
pub fn set_label(path: &Path, label: Label) -> io::Result<()> {
    if matches!(label, Label::LowTree | Label::LowObject)
        && let Some(why) = sensitive_root(path, &host_dirs())
    {
        return Err(refused(path, format_args!("it is {why}, which no sandbox may be given")));
    }
    let handle = open_checked(path, READ_CONTROL | WRITE_OWNER)?;
    let labelling = |e: io::Error| io::Error::new(e.kind(), format!("labelling {}: {e}", path.display()));
    // A label that cannot be read is set again.
    let found =
        cordon_win::object_label(handle.as_handle(), SE_FILE_OBJECT).ok().flatten().and_then(label_entry);
    if label.is_current(found) {
        // Set already: setting it again would walk the whole tree beneath.
        return Ok(());
    }
    cordon_win::set_object_label(handle.as_handle(), SE_FILE_OBJECT, label.sddl()).map_err(labelling)
}

/// Takes the mandatory label off `path` (opened and checked as for
/// [`set_label`]) if it is `label`, cordon's: the object is then of Medium
/// integrity again, as it was before cordon labelled it, or as what it
/// inherits says. A label someone changed since is kept. Whether it was
/// taken off.
pub fn remove_label(path: &Path, label: Label) -> io::Result<bool> {
    let handle = open_checked(path, READ_CONTROL | WRITE_OWNER)?;
    let found = cordon_win::object_label(handle.as_handle(), SE_FILE_OBJECT)
        .map_err(|e| io::Error::new(e.kind(), format!("reading the label of {}: {e}", path.display())))?;
    if !label.is_current(found.and_then(label_entry)) {
        return Ok(false);
    }
    // An empty SACL: no label ACE.
    cordon_win::set_object_label(handle.as_handle(), SE_FILE_OBJECT, "S:")
        .map_err(|e| io::Error::new(e.kind(), format!("unlabelling {}: {e}", path.display())))?;
    Ok(true)
}

/// A label ACE as `cordon_win::object_label` reads it, if its SID is an
/// integrity level's.
fn label_entry((flags, policy, sid): (u8, u32, String)) -> Option<LabelEntry> {
    let rid = sid.strip_prefix("S-1-16-")?.parse().ok()?;
    Some(LabelEntry { flags, policy, level: IntegrityLevel::of_rid(rid) })
}

/// The owner of `path` itself (a reparse point is not followed), as a SID
/// string.
pub fn owner_sid(path: &Path) -> io::Result<String> {
    let handle = open(path, READ_CONTROL)?;
    let security = ObjectSecurity::read(handle.as_handle(), SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION)
        .map_err(|e| io::Error::new(e.kind(), format!("reading the owner of {}: {e}", path.display())))?;
    if security.owner().is_null() {
        return Err(io::Error::other(format!("{} has no owner", path.display())));
    }
    // SAFETY: the owner SID inside the descriptor `security` holds.
    unsafe { cordon_win::sid_string(security.owner()) }
}
