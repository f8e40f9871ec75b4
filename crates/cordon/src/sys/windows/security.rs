//! The Windows security objects a launch needs: the caller's SIDs, a
//! write-restricted token at Low integrity, and the ACEs on the window
//! station. What they contain is decided by the pure functions
//! of `cordon_sandbox::windows`; this module only builds them. (The ACEs on
//! files are written by `cordon_sandbox::acl`.)

use std::io;
use std::os::windows::io::OwnedHandle;
use std::ptr::{null, null_mut};

use cordon_win::{LocalBuffer, Sid, sid_string, token_information};
use windows_sys::Win32::Foundation::{ERROR_SUCCESS, HANDLE};
use windows_sys::Win32::Security::Authorization::{
    ACCESS_MODE, EXPLICIT_ACCESS_W, GRANT_ACCESS, GetSecurityInfo, SE_WINDOW_OBJECT, SetEntriesInAclW,
    SetSecurityInfo, TRUSTEE_IS_SID, TRUSTEE_IS_UNKNOWN, TRUSTEE_W,
};
use windows_sys::Win32::Security::{
    ACE_FLAGS, ACL, DACL_SECURITY_INFORMATION, NO_INHERITANCE, PSECURITY_DESCRIPTOR, TOKEN_ADJUST_DEFAULT,
    TOKEN_ASSIGN_PRIMARY, TOKEN_DUPLICATE, TOKEN_GROUPS, TOKEN_QUERY, TOKEN_USER, TokenGroups, TokenUser,
};

/// The attribute bits of a token's logon SID group (winnt.h; defined here
/// rather than pulling in windows-sys's large SystemServices module).
const SE_GROUP_LOGON_ID: u32 = 0xC000_0000;

/// The calling process's token, opened to query it and to derive the
/// runner's restricted token from it.
pub(super) fn own_token() -> io::Result<OwnedHandle> {
    cordon_win::own_token(TOKEN_QUERY | TOKEN_DUPLICATE | TOKEN_ASSIGN_PRIMARY | TOKEN_ADJUST_DEFAULT)
}

/// The user SID of a token, as a string.
pub(super) fn user_sid(token: &OwnedHandle) -> io::Result<String> {
    let buffer = token_information(token, TokenUser)?;
    // SAFETY: GetTokenInformation(TokenUser) filled a TOKEN_USER.
    let user = unsafe { &*(buffer.as_ptr() as *const TOKEN_USER) };
    // SAFETY: the token's own user SID, inside `buffer`.
    unsafe { sid_string(user.User.Sid) }
}

/// The logon SID of a token (`S-1-5-5-X-Y`), if it has one.
pub(super) fn logon_sid(token: &OwnedHandle) -> io::Result<Option<String>> {
    let buffer = token_information(token, TokenGroups)?;
    // SAFETY: GetTokenInformation(TokenGroups) filled a TOKEN_GROUPS whose
    // array has GroupCount entries.
    let groups = unsafe {
        let groups = &*(buffer.as_ptr() as *const TOKEN_GROUPS);
        std::slice::from_raw_parts(groups.Groups.as_ptr(), groups.GroupCount as usize)
    };
    for group in groups {
        if group.Attributes & SE_GROUP_LOGON_ID == SE_GROUP_LOGON_ID {
            // SAFETY: a SID of the token's groups, inside `buffer`.
            return unsafe { sid_string(group.Sid) }.map(Some);
        }
    }
    Ok(None)
}

/// Adds a non-inheritable allow ACE of `mask` for `sid` to the DACL of the
/// window station `station` (opened with `READ_CONTROL | WRITE_DAC`).
pub(super) fn grant_on_window_station(station: HANDLE, sid: &str, mask: u32) -> io::Result<()> {
    let sid = Sid::parse(sid)?;
    let mut old_dacl: *mut ACL = null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
    // SAFETY: a live handle; out-pointers; the descriptor is LocalAlloc'ed
    // and owns the DACL.
    let status = unsafe {
        GetSecurityInfo(
            station,
            SE_WINDOW_OBJECT,
            DACL_SECURITY_INFORMATION,
            null_mut(),
            null_mut(),
            &mut old_dacl,
            null_mut(),
            &mut descriptor,
        )
    };
    if status != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(status as i32));
    }
    let _descriptor = LocalBuffer(descriptor);
    let (new_dacl, _new) = with_entry(old_dacl, &sid, mask, GRANT_ACCESS, NO_INHERITANCE)?;
    // SAFETY: a live handle and a valid DACL.
    let status = unsafe {
        SetSecurityInfo(
            station,
            SE_WINDOW_OBJECT,
            DACL_SECURITY_INFORMATION,
            null_mut(),
            null_mut(),
            new_dacl,
            null(),
        )
    };
    if status != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(status as i32));
    }
    Ok(())
}

/// `old_dacl` (valid, or null) with one more entry for `sid`: the new DACL,
/// and the allocation that owns it.
fn with_entry(
    old_dacl: *mut ACL,
    sid: &Sid,
    mask: u32,
    mode: ACCESS_MODE,
    inheritance: ACE_FLAGS,
) -> io::Result<(*mut ACL, LocalBuffer)> {
    let access = EXPLICIT_ACCESS_W {
        grfAccessPermissions: mask,
        grfAccessMode: mode,
        grfInheritance: inheritance,
        Trustee: TRUSTEE_W {
            pMultipleTrustee: null_mut(),
            MultipleTrusteeOperation: 0,
            TrusteeForm: TRUSTEE_IS_SID,
            TrusteeType: TRUSTEE_IS_UNKNOWN,
            ptstrName: sid.as_psid().cast(),
        },
    };
    let mut new_dacl: *mut ACL = null_mut();
    // SAFETY: one entry; the old DACL is valid (or null).
    let status = unsafe { SetEntriesInAclW(1, &access, old_dacl, &mut new_dacl) };
    if status != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(status as i32));
    }
    Ok((new_dacl, LocalBuffer(new_dacl.cast())))
}

/// The SID of a local account, as a string.
pub(super) fn account_sid(name: &str) -> io::Result<String> {
    let what = |e: io::Error| io::Error::new(e.kind(), format!("LookupAccountNameW({name}): {e}"));
    match cordon_win::lookup_account(name).map_err(what)? {
        Some(account) => Ok(account.sid),
        None => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("LookupAccountNameW({name}): no such account"),
        )),
    }
}
