//! The process token and what it says: its information classes, and SIDs
//! as strings.

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::ptr::null_mut;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
use windows_sys::Win32::Security::{
    GetTokenInformation, PSID, TOKEN_GROUPS, TOKEN_INFORMATION_CLASS, TOKEN_QUERY, TOKEN_USER, TokenGroups,
    TokenRestrictedSids, TokenUser,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use crate::strings::{LocalBuffer, from_wide_ptr};

fn last_error(what: &str) -> io::Error {
    let err = io::Error::last_os_error();
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

/// This process's token, opened for `access` (`TOKEN_QUERY`, …).
pub fn own_token(access: u32) -> io::Result<OwnedHandle> {
    let mut token: HANDLE = null_mut();
    // SAFETY: the pseudo-handle of the current process; an out-pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), access, &mut token) } == 0 {
        return Err(last_error("OpenProcessToken"));
    }
    // SAFETY: a fresh handle owned by nobody else.
    Ok(unsafe { OwnedHandle::from_raw_handle(token as RawHandle) })
}

/// The `class` information of `token`, in storage aligned for the
/// structures it holds (they contain pointers): read it through a cast of
/// the buffer's pointer.
pub fn token_information(token: &OwnedHandle, class: TOKEN_INFORMATION_CLASS) -> io::Result<Vec<u64>> {
    let handle = token.as_raw_handle() as HANDLE;
    let mut needed = 0u32;
    // SAFETY: the documented size query (fails, with `needed` set).
    unsafe { GetTokenInformation(handle, class, null_mut(), 0, &mut needed) };
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
    let size = (buffer.len() * 8) as u32;
    // SAFETY: a live token and a buffer of `size` bytes.
    if unsafe { GetTokenInformation(handle, class, buffer.as_mut_ptr().cast(), size, &mut needed) } == 0 {
        return Err(last_error("GetTokenInformation"));
    }
    Ok(buffer)
}

/// `sid` as a string (`S-1-5-…`).
///
/// # Safety
/// `sid` points to a valid SID.
pub unsafe fn sid_string(sid: PSID) -> io::Result<String> {
    let mut text = null_mut();
    // SAFETY: a valid SID (the caller's promise); the string is
    // LocalAlloc'ed and freed by the guard.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(last_error("ConvertSidToStringSidW"));
    }
    let _free = LocalBuffer(text.cast());
    // SAFETY: a NUL-terminated string from the API.
    Ok(unsafe { from_wide_ptr(text) })
}

/// The user SID of `token` (opened with `TOKEN_QUERY`), as a string.
pub fn token_user_sid(token: &OwnedHandle) -> io::Result<String> {
    let buffer = token_information(token, TokenUser)?;
    // SAFETY: GetTokenInformation(TokenUser) filled a TOKEN_USER whose SID
    // lies inside the buffer.
    unsafe { sid_string((*(buffer.as_ptr() as *const TOKEN_USER)).User.Sid) }
}

/// The user SID of this process, as a string.
pub fn own_user_sid() -> io::Result<String> {
    token_user_sid(&own_token(TOKEN_QUERY)?)
}

/// The attribute bits of a token's logon SID group (winnt.h).
const SE_GROUP_LOGON_ID: u32 = 0xC000_0000;

/// The groups of `token` (opened with `TOKEN_QUERY`): each SID as a
/// string, with its attributes (`SE_GROUP_*`).
pub fn token_groups(token: &OwnedHandle) -> io::Result<Vec<(String, u32)>> {
    sid_list(token, TokenGroups)
}

/// The restricting SIDs of `token` (none for a token that is not
/// restricted), as strings.
pub fn token_restricting_sids(token: &OwnedHandle) -> io::Result<Vec<String>> {
    Ok(sid_list(token, TokenRestrictedSids)?.into_iter().map(|(sid, _)| sid).collect())
}

/// The logon SID of `token` (`S-1-5-5-X-Y`), if it has one.
pub fn token_logon_sid(token: &OwnedHandle) -> io::Result<Option<String>> {
    Ok(logon_sid_in(&token_groups(token)?))
}

/// The logon SID among a token's groups ([`token_groups`]), if there is one.
pub fn logon_sid_in(groups: &[(String, u32)]) -> Option<String> {
    groups
        .iter()
        .find(|(_, attributes)| attributes & SE_GROUP_LOGON_ID == SE_GROUP_LOGON_ID)
        .map(|(sid, _)| sid.clone())
}

/// A `TOKEN_GROUPS` class of `token`: each SID as a string, with its
/// attributes.
fn sid_list(token: &OwnedHandle, class: TOKEN_INFORMATION_CLASS) -> io::Result<Vec<(String, u32)>> {
    let buffer = token_information(token, class)?;
    // SAFETY: GetTokenInformation filled a TOKEN_GROUPS (what `TokenGroups`
    // and `TokenRestrictedSids` return) whose array has GroupCount entries,
    // their SIDs inside the buffer.
    unsafe {
        let groups = &*(buffer.as_ptr() as *const TOKEN_GROUPS);
        std::slice::from_raw_parts(groups.Groups.as_ptr(), groups.GroupCount as usize)
            .iter()
            .map(|group| Ok((sid_string(group.Sid)?, group.Attributes)))
            .collect()
    }
}
