//! The group's ACEs on writable roots and protected paths: read with
//! `GetNamedSecurityInfoW` and a walk of the DACL, written with
//! `SetEntriesInAclW` and `SetNamedSecurityInfoW`. Which ACE is cordon's is
//! decided by [`crate::matching`].

use std::ffi::c_void;
use std::path::Path;
use std::ptr::{null, null_mut};

use cordon_sandbox::windows::sddl::AceKind;
use windows_sys::Win32::Foundation::ERROR_SUCCESS;
use windows_sys::Win32::Security::Authorization::{
    ConvertStringSidToSidW, DENY_ACCESS, EXPLICIT_ACCESS_W, GRANT_ACCESS, GetNamedSecurityInfoW,
    SE_FILE_OBJECT, SetEntriesInAclW, SetNamedSecurityInfoW, TRUSTEE_IS_SID, TRUSTEE_IS_UNKNOWN, TRUSTEE_W,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, AddAce, DACL_SECURITY_INFORMATION, EqualSid, GetAce,
    GetSecurityDescriptorControl, InitializeAcl, OWNER_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SE_DACL_PROTECTED,
    SUB_CONTAINERS_AND_OBJECTS_INHERIT, UNPROTECTED_DACL_SECURITY_INFORMATION,
};

use super::token;
use super::util::{Local, failed, last_error, wide, wide_path};
use crate::matching::{
    ACCESS_ALLOWED_ACE_TYPE, ACCESS_DENIED_ACE_TYPE, ace_mask, is_cordons_ace, is_explicit_of_kind,
};
use crate::{ErrorCode, SetupError};

/// A SID parsed from its string form.
struct Sid(Local);

impl Sid {
    fn parse(text: &str) -> Result<Sid, SetupError> {
        let mut sid: PSID = null_mut();
        // SAFETY: a NUL-terminated string; the SID is LocalAlloc'ed.
        if unsafe { ConvertStringSidToSidW(wide(text).as_ptr(), &mut sid) } == 0 {
            return Err(last_error(ErrorCode::Acl, format_args!("parsing SID {text}")));
        }
        Ok(Sid(Local(sid)))
    }

    fn as_psid(&self) -> PSID {
        self.0.0
    }
}

/// A path's security descriptor, and the DACL (or owner) inside it.
struct Descriptor {
    _descriptor: Local,
    dacl: *mut ACL,
    owner: PSID,
    protected: bool,
}

fn read(path: &Path, info: u32) -> Result<Descriptor, SetupError> {
    let mut dacl: *mut ACL = null_mut();
    let mut owner: PSID = null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
    // SAFETY: a NUL-terminated path; out-pointers; the descriptor is
    // LocalAlloc'ed and owns the DACL and the owner.
    let status = unsafe {
        GetNamedSecurityInfoW(
            wide_path(path).as_ptr(),
            SE_FILE_OBJECT,
            info,
            &mut owner,
            null_mut(),
            &mut dacl,
            null_mut(),
            &mut descriptor,
        )
    };
    if status != ERROR_SUCCESS {
        return Err(failed(
            ErrorCode::Acl,
            format_args!("reading the security of {}", path.display()),
            status,
        ));
    }
    let descriptor = Local(descriptor);
    let mut control = 0u16;
    let mut revision = 0u32;
    // SAFETY: a valid descriptor; out-pointers.
    unsafe { GetSecurityDescriptorControl(descriptor.0, &mut control, &mut revision) };
    Ok(Descriptor { _descriptor: descriptor, dacl, owner, protected: control & SE_DACL_PROTECTED != 0 })
}

/// One ACE of a DACL: its type, flags, mask and SID (for allow and deny
/// ACEs; other types have no SID here).
struct Ace {
    raw: *const c_void,
    ace_type: u8,
    flags: u8,
    size: u16,
    mask: u32,
    sid: PSID,
}

/// The ACEs of `dacl` (none for a null DACL).
fn aces(dacl: *const ACL) -> Vec<Ace> {
    if dacl.is_null() {
        return Vec::new();
    }
    // SAFETY: a valid DACL from a descriptor.
    let count = unsafe { (*dacl).AceCount };
    let mut aces = Vec::new();
    for index in 0..u32::from(count) {
        let mut raw: *mut c_void = null_mut();
        // SAFETY: an index below the ACE count.
        if unsafe { GetAce(dacl, index, &mut raw) } == 0 {
            continue;
        }
        // SAFETY: every ACE starts with an ACE_HEADER.
        let header = unsafe { *(raw as *const ACE_HEADER) };
        let (mask, sid) = if matches!(header.AceType, ACCESS_ALLOWED_ACE_TYPE | ACCESS_DENIED_ACE_TYPE) {
            // SAFETY: allow and deny ACEs share ACCESS_ALLOWED_ACE's layout,
            // the SID starting at SidStart.
            unsafe {
                let ace = raw as *const ACCESS_ALLOWED_ACE;
                ((*ace).Mask, std::ptr::addr_of!((*ace).SidStart) as PSID)
            }
        } else {
            (0, null_mut())
        };
        aces.push(Ace {
            raw,
            ace_type: header.AceType,
            flags: header.AceFlags,
            size: header.AceSize,
            mask,
            sid,
        });
    }
    aces
}

fn is_for(ace: &Ace, sid: &Sid) -> bool {
    // SAFETY: two valid SIDs.
    !ace.sid.is_null() && unsafe { EqualSid(ace.sid, sid.as_psid()) } != 0
}

/// Whether `path` has cordon's ACE of `kind` for `sid`.
pub(super) fn has_ace(path: &Path, sid: &str, kind: AceKind) -> Result<bool, SetupError> {
    let sid = Sid::parse(sid)?;
    let descriptor = read(path, DACL_SECURITY_INFORMATION)?;
    Ok(aces(descriptor.dacl)
        .iter()
        .any(|ace| is_for(ace, &sid) && is_cordons_ace(ace.ace_type, ace.flags, ace.mask, kind)))
}

/// A copy of `dacl` without the explicit ACEs of `kind` for `sid`, in a
/// buffer that holds the `ACL`.
fn without(dacl: *const ACL, sid: &Sid, kind: AceKind, path: &Path) -> Result<Vec<u64>, SetupError> {
    // SAFETY: a valid DACL.
    let (size, revision) = unsafe { ((*dacl).AclSize, (*dacl).AclRevision) };
    let mut buffer = vec![0u64; usize::from(size).div_ceil(8).max(1)];
    let acl = buffer.as_mut_ptr() as *mut ACL;
    // SAFETY: a buffer of at least `size` bytes, 8-byte aligned.
    if unsafe { InitializeAcl(acl, u32::from(size), u32::from(revision)) } == 0 {
        return Err(last_error(ErrorCode::Acl, format_args!("copying the DACL of {}", path.display())));
    }
    for ace in aces(dacl) {
        if is_for(&ace, sid) && is_explicit_of_kind(ace.ace_type, ace.flags, kind) {
            continue;
        }
        // SAFETY: an ACE of `ace.size` bytes appended (index MAXDWORD) to an
        // ACL as large as the one it came from.
        if unsafe { AddAce(acl, u32::from(revision), u32::MAX, ace.raw, u32::from(ace.size)) } == 0 {
            return Err(last_error(ErrorCode::Acl, format_args!("copying the DACL of {}", path.display())));
        }
    }
    Ok(buffer)
}

/// Writes `dacl` to `path`, keeping whether it inherits from its parent.
fn write(path: &Path, dacl: *const ACL, protected: bool) -> Result<(), SetupError> {
    let protection =
        if protected { PROTECTED_DACL_SECURITY_INFORMATION } else { UNPROTECTED_DACL_SECURITY_INFORMATION };
    // SAFETY: a NUL-terminated path and a valid DACL.
    let status = unsafe {
        SetNamedSecurityInfoW(
            wide_path(path).as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | protection,
            null_mut(),
            null_mut(),
            dacl,
            null(),
        )
    };
    if status != ERROR_SUCCESS {
        return Err(failed(ErrorCode::Acl, format_args!("writing the DACL of {}", path.display()), status));
    }
    Ok(())
}

fn no_dacl(path: &Path) -> SetupError {
    SetupError::new(
        ErrorCode::Acl,
        format!("{} has no DACL (everyone may do anything); give it one before setup", path.display()),
    )
}

/// Makes `path`'s explicit ACE of `kind` for `sid` exactly cordon's.
pub(super) fn add_ace(path: &Path, sid: &str, kind: AceKind) -> Result<(), SetupError> {
    let sid = Sid::parse(sid)?;
    let descriptor = read(path, DACL_SECURITY_INFORMATION)?;
    if descriptor.dacl.is_null() {
        return Err(no_dacl(path));
    }
    let mut base = without(descriptor.dacl, &sid, kind, path)?;
    let access = EXPLICIT_ACCESS_W {
        grfAccessPermissions: ace_mask(kind),
        grfAccessMode: match kind {
            AceKind::AllowModify => GRANT_ACCESS,
            AceKind::DenyWrite | AceKind::DenyAll => DENY_ACCESS,
        },
        grfInheritance: SUB_CONTAINERS_AND_OBJECTS_INHERIT,
        Trustee: TRUSTEE_W {
            pMultipleTrustee: null_mut(),
            MultipleTrusteeOperation: 0,
            TrusteeForm: TRUSTEE_IS_SID,
            TrusteeType: TRUSTEE_IS_UNKNOWN,
            ptstrName: sid.as_psid().cast(),
        },
    };
    let mut merged: *mut ACL = null_mut();
    // SAFETY: one entry; a valid ACL; the new one is LocalAlloc'ed.
    let status = unsafe { SetEntriesInAclW(1, &access, base.as_mut_ptr() as *const ACL, &mut merged) };
    if status != ERROR_SUCCESS {
        return Err(failed(ErrorCode::Acl, format_args!("adding an ACE to {}", path.display()), status));
    }
    let merged = Local(merged.cast());
    write(path, merged.0 as *const ACL, descriptor.protected)
}

/// Removes `path`'s explicit ACEs of `kind` for `sid`.
pub(super) fn remove_ace(path: &Path, sid: &str, kind: AceKind) -> Result<(), SetupError> {
    let sid = Sid::parse(sid)?;
    let descriptor = read(path, DACL_SECURITY_INFORMATION)?;
    let present = aces(descriptor.dacl)
        .iter()
        .any(|ace| is_for(ace, &sid) && is_explicit_of_kind(ace.ace_type, ace.flags, kind));
    if !present {
        return Ok(());
    }
    let stripped = without(descriptor.dacl, &sid, kind, path)?;
    write(path, stripped.as_ptr() as *const ACL, descriptor.protected)
}

/// Whether the user of this process owns `path`.
pub(super) fn owned_by_caller(path: &Path) -> Result<bool, SetupError> {
    let descriptor = read(path, OWNER_SECURITY_INFORMATION)?;
    if descriptor.owner.is_null() {
        return Ok(false);
    }
    token::is_own_user(descriptor.owner)
}
