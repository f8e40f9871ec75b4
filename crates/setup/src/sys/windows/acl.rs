//! The group's ACEs on writable roots and protected paths, written by
//! [`cordon_sandbox::acl`] (which the restricted-token launch uses too),
//! and whether the caller owns a path.

use std::path::Path;

use cordon_sandbox::windows::integrity::Label;
use cordon_sandbox::windows::sddl::AceKind;

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

/// Takes `path`'s label off if it is `label`.
pub(super) fn remove_label(path: &Path, label: Label) -> Result<bool, SetupError> {
    cordon_sandbox::acl::remove_label(path, label).map_err(acl_error)
}

/// Whether the user of this process owns `path`.
pub(super) fn owned_by_caller(path: &Path) -> Result<bool, SetupError> {
    let owner = cordon_sandbox::acl::owner_sid(path).map_err(acl_error)?;
    let own = cordon_win::own_user_sid().map_err(|e| SetupError::new(ErrorCode::Accounts, e.to_string()))?;
    Ok(owner.eq_ignore_ascii_case(&own))
}
