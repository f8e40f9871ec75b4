//! The group's ACEs on writable roots and protected paths, written by
//! [`cordon_sandbox::acl`] (which the restricted-token launch uses too),
//! and whether the caller owns a path.

use std::path::Path;
use std::ptr::null_mut;

use cordon_sandbox::windows::sddl::AceKind;
use windows_sys::Win32::Foundation::ERROR_SUCCESS;
use windows_sys::Win32::Security::Authorization::{GetNamedSecurityInfoW, SE_FILE_OBJECT};
use windows_sys::Win32::Security::{OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID};

use super::token;
use super::util::{LocalBuffer, failed, wide};
use crate::{ErrorCode, SetupError};

fn acl_error(err: std::io::Error) -> SetupError {
    SetupError::new(ErrorCode::Acl, err.to_string())
}

/// Whether `path` has cordon's ACEs of `kind` for `sid`.
pub(super) fn has_ace(path: &Path, sid: &str, kind: AceKind) -> Result<bool, SetupError> {
    cordon_sandbox::acl::has_ace(path, sid, kind).map_err(acl_error)
}

/// Makes `path`'s explicit ACEs of `kind` for `sid` exactly cordon's.
pub(super) fn add_ace(path: &Path, sid: &str, kind: AceKind) -> Result<(), SetupError> {
    cordon_sandbox::acl::add_ace(path, sid, kind).map_err(acl_error)
}

/// Removes `path`'s explicit ACEs of `kind`'s type for `sid`.
pub(super) fn remove_ace(path: &Path, sid: &str, kind: AceKind) -> Result<(), SetupError> {
    cordon_sandbox::acl::remove_ace(path, sid, kind).map_err(acl_error)
}

/// Whether the user of this process owns `path`.
pub(super) fn owned_by_caller(path: &Path) -> Result<bool, SetupError> {
    let mut owner: PSID = null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
    // SAFETY: a NUL-terminated path; out-pointers; the descriptor is
    // LocalAlloc'ed and owns the owner SID.
    let status = unsafe {
        GetNamedSecurityInfoW(
            wide(path).as_ptr(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut owner,
            null_mut(),
            null_mut(),
            null_mut(),
            &mut descriptor,
        )
    };
    if status != ERROR_SUCCESS {
        return Err(failed(ErrorCode::Acl, format_args!("reading the owner of {}", path.display()), status));
    }
    let _descriptor = LocalBuffer(descriptor);
    if owner.is_null() {
        return Ok(false);
    }
    token::is_own_user(owner)
}
