//! The process token: whether it is elevated.

use std::os::windows::io::{AsRawHandle, OwnedHandle};

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::Security::{GetTokenInformation, TOKEN_ELEVATION, TOKEN_QUERY, TokenElevation};

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
