//! The sandbox accounts' logon rights, through the local security policy
//! (LSA: `LsaAddAccountRights` and its kin), and their profiles
//! (`DeleteProfileW`).

use std::ptr::{null, null_mut};

use cordon_win::Sid;
use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND, NTSTATUS};
use windows_sys::Win32::Security::Authentication::Identity::{
    LSA_HANDLE, LSA_OBJECT_ATTRIBUTES, LSA_UNICODE_STRING, LsaAddAccountRights, LsaClose,
    LsaEnumerateAccountRights, LsaFreeMemory, LsaNtStatusToWinError, LsaOpenPolicy, LsaRemoveAccountRights,
    POLICY_CREATE_ACCOUNT, POLICY_LOOKUP_NAMES,
};
use windows_sys::Win32::UI::Shell::DeleteProfileW;

use super::util::{failed, last_error, wide};
use crate::{ErrorCode, SetupError};

/// `STATUS_OBJECT_NAME_NOT_FOUND`: the account has no rights in the policy.
const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = 0xC000_0034_u32 as NTSTATUS;

/// The local security policy, closed on drop.
struct Policy(LSA_HANDLE);

impl Policy {
    fn open() -> Result<Policy, SetupError> {
        let attributes = LSA_OBJECT_ATTRIBUTES::default();
        let mut handle: LSA_HANDLE = 0;
        // SAFETY: the local machine (no name), zeroed attributes as the API
        // asks, an out-pointer.
        let status = unsafe {
            LsaOpenPolicy(
                null(),
                &attributes,
                (POLICY_CREATE_ACCOUNT | POLICY_LOOKUP_NAMES) as u32,
                &mut handle,
            )
        };
        check(status, "opening the local security policy")?;
        Ok(Policy(handle))
    }
}

impl Drop for Policy {
    fn drop(&mut self) {
        // SAFETY: the handle LsaOpenPolicy returned, closed once.
        unsafe { LsaClose(self.0) };
    }
}

fn check(status: NTSTATUS, what: &str) -> Result<(), SetupError> {
    if status == 0 {
        return Ok(());
    }
    // SAFETY: a plain conversion of a status code.
    Err(failed(ErrorCode::Accounts, what, unsafe { LsaNtStatusToWinError(status) }))
}

/// `text` as an `LSA_UNICODE_STRING` over `buffer` (which must outlive it).
fn unicode(buffer: &[u16]) -> LSA_UNICODE_STRING {
    let bytes = (buffer.len() * 2) as u16;
    LSA_UNICODE_STRING { Length: bytes, MaximumLength: bytes, Buffer: buffer.as_ptr().cast_mut() }
}

fn sid(text: &str) -> Result<Sid, SetupError> {
    Sid::parse(text).map_err(|e| SetupError::new(ErrorCode::InvalidSid, e.to_string()))
}

/// The rights of the account `sid_text`.
pub(super) fn of(sid_text: &str) -> Result<Vec<String>, SetupError> {
    let policy = Policy::open()?;
    let sid = sid(sid_text)?;
    let mut rights: *mut LSA_UNICODE_STRING = null_mut();
    let mut count = 0u32;
    // SAFETY: a live policy and SID; out-pointers; the array is freed below.
    let status = unsafe { LsaEnumerateAccountRights(policy.0, sid.as_psid(), &mut rights, &mut count) };
    if status == STATUS_OBJECT_NAME_NOT_FOUND {
        return Ok(Vec::new());
    }
    check(status, &format!("reading the logon rights of {sid_text}"))?;
    // SAFETY: `count` strings the call allocated, each `Length` bytes.
    let names = unsafe {
        std::slice::from_raw_parts(rights, count as usize)
            .iter()
            .map(|right| {
                String::from_utf16_lossy(std::slice::from_raw_parts(
                    right.Buffer,
                    usize::from(right.Length) / 2,
                ))
            })
            .collect()
    };
    // SAFETY: the array LsaEnumerateAccountRights allocated, freed once.
    unsafe { LsaFreeMemory(rights.cast()) };
    Ok(names)
}

/// Gives the account `sid_text` these rights.
pub(super) fn add(sid_text: &str, rights: &[&str]) -> Result<(), SetupError> {
    let policy = Policy::open()?;
    let sid = sid(sid_text)?;
    let buffers: Vec<Vec<u16>> = rights.iter().map(|right| right.encode_utf16().collect()).collect();
    let strings: Vec<LSA_UNICODE_STRING> = buffers.iter().map(|buffer| unicode(buffer)).collect();
    // SAFETY: a live policy and SID; strings over buffers that outlive the
    // call.
    let status =
        unsafe { LsaAddAccountRights(policy.0, sid.as_psid(), strings.as_ptr(), strings.len() as u32) };
    check(status, &format!("denying {sid_text} {}", rights.join(", ")))
}

/// Takes every right of the account `sid_text` out of the policy.
pub(super) fn remove_all(sid_text: &str) -> Result<(), SetupError> {
    let policy = Policy::open()?;
    let sid = sid(sid_text)?;
    // SAFETY: a live policy and SID; every right, so no list.
    let status = unsafe { LsaRemoveAccountRights(policy.0, sid.as_psid(), true, null(), 0) };
    if status == STATUS_OBJECT_NAME_NOT_FOUND {
        return Ok(());
    }
    check(status, &format!("removing the logon rights of {sid_text}"))
}

/// Deletes the profile of the account `sid_text`; one that does not exist
/// is deleted already.
pub(super) fn delete_profile(sid_text: &str) -> Result<(), SetupError> {
    let sid_w = wide(sid_text);
    // SAFETY: a NUL-terminated SID string; the profile path and computer
    // looked up by Windows.
    if unsafe { DeleteProfileW(sid_w.as_ptr(), null(), null()) } != 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error().raw_os_error();
    if matches!(err, Some(code) if code == ERROR_FILE_NOT_FOUND as i32 || code == ERROR_PATH_NOT_FOUND as i32)
    {
        return Ok(());
    }
    Err(last_error(ErrorCode::Accounts, format_args!("deleting the profile of {sid_text}")))
}
