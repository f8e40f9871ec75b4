//! The process token: whether it is elevated, and whose it is.

use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::ptr::null_mut;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::Security::{
    EqualSid, GetTokenInformation, PSID, TOKEN_ELEVATION, TOKEN_QUERY, TOKEN_USER, TokenElevation, TokenUser,
};

use super::util::last_error;
use crate::{ErrorCode, SetupError};

fn own_token() -> Result<OwnedHandle, SetupError> {
    cordon_win::own_token(TOKEN_QUERY).map_err(|e| SetupError::new(ErrorCode::Accounts, e.to_string()))
}

/// Whether the process token is elevated (`TokenElevation`): an
/// administrator's full token, not the filtered one of a split token.
pub(super) fn is_elevated() -> bool {
    let Ok(token) = own_token() else {
        return false;
    };
    let mut elevation = TOKEN_ELEVATION { TokenIsElevated: 0 };
    let mut size = 0u32;
    // SAFETY: a live token; a TOKEN_ELEVATION-sized buffer.
    let ok = unsafe {
        GetTokenInformation(
            token.as_raw_handle() as HANDLE,
            TokenElevation,
            (&mut elevation as *mut TOKEN_ELEVATION).cast(),
            size_of::<TOKEN_ELEVATION>() as u32,
            &mut size,
        )
    };
    ok != 0 && elevation.TokenIsElevated != 0
}

/// Whether `sid` is the user of the process token.
pub(super) fn is_own_user(sid: PSID) -> Result<bool, SetupError> {
    let token = own_token()?;
    let mut needed = 0u32;
    // SAFETY: the documented size query.
    unsafe { GetTokenInformation(token.as_raw_handle() as HANDLE, TokenUser, null_mut(), 0, &mut needed) };
    // u64 storage: TOKEN_USER holds a pointer.
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
    // SAFETY: a buffer of the size asked for.
    let ok = unsafe {
        GetTokenInformation(
            token.as_raw_handle() as HANDLE,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            needed,
            &mut needed,
        )
    };
    if ok == 0 {
        return Err(last_error(ErrorCode::Accounts, "GetTokenInformation(TokenUser)"));
    }
    // SAFETY: GetTokenInformation(TokenUser) filled a TOKEN_USER; two valid SIDs.
    Ok(unsafe { EqualSid((*(buffer.as_ptr() as *const TOKEN_USER)).User.Sid, sid) } != 0)
}
