//! What a launch reads of the caller's token: its SIDs, and the token
//! itself, from which the runner's is made (`cordon_sandbox::restricted_token`).

use std::io;
use std::os::windows::io::OwnedHandle;

use windows_sys::Win32::Security::{
    TOKEN_ADJUST_DEFAULT, TOKEN_ASSIGN_PRIMARY, TOKEN_DUPLICATE, TOKEN_QUERY,
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
    cordon_win::token_user_sid(token)
}

/// The logon SID of a token (`S-1-5-5-X-Y`), if it has one.
pub(super) fn logon_sid(token: &OwnedHandle) -> io::Result<Option<String>> {
    let groups = cordon_win::token_groups(token)?;
    Ok(groups
        .into_iter()
        .find(|(_, attributes)| attributes & SE_GROUP_LOGON_ID == SE_GROUP_LOGON_ID)
        .map(|(sid, _)| sid))
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
