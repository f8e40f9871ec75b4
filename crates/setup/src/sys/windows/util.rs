//! What every Windows module here needs: UTF-16 strings, buffers Windows
//! allocated, and errors that name the call and the input.

use windows_sys::Win32::Foundation::GetLastError;

use crate::{ErrorCode, SetupError};

pub(super) use cordon_win::{LocalBuffer, from_wide_ptr, wide};

/// The message of a Win32 error code, as `std::io::Error` words it.
pub(super) fn describe(code: u32) -> String {
    std::io::Error::from_raw_os_error(code as i32).to_string()
}

/// An error of `code` for a call that returned the Win32 error `status`.
pub(super) fn failed(code: ErrorCode, what: impl std::fmt::Display, status: u32) -> SetupError {
    SetupError::new(code, format!("{what}: {}", describe(status)))
}

/// An error of `code` for a call that set the thread's last error.
pub(super) fn last_error(code: ErrorCode, what: impl std::fmt::Display) -> SetupError {
    // SAFETY: reads the calling thread's last error.
    failed(code, what, unsafe { GetLastError() })
}
