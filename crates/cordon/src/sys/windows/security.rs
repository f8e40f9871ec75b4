//! The caller's token, from which the runner's is made
//! (`cordon_sandbox::restricted_token`), and the SID of a sandbox account.

use std::io;
use std::os::windows::io::OwnedHandle;

use windows_sys::Win32::Security::{
    TOKEN_ADJUST_DEFAULT, TOKEN_ASSIGN_PRIMARY, TOKEN_DUPLICATE, TOKEN_QUERY,
};

/// The calling process's token, opened to query it and to derive the
/// runner's restricted token from it.
pub(super) fn own_token() -> io::Result<OwnedHandle> {
    cordon_win::own_token(TOKEN_QUERY | TOKEN_DUPLICATE | TOKEN_ASSIGN_PRIMARY | TOKEN_ADJUST_DEFAULT)
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
