//! What every Windows module here needs: UTF-16 strings, buffers Windows
//! allocated, and errors that name the call and the input.

use std::ffi::c_void;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;

use windows_sys::Win32::Foundation::{GetLastError, HLOCAL, LocalFree};

use crate::{ErrorCode, SetupError};

/// `s` as a NUL-terminated UTF-16 string.
pub(super) fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

/// `path` as a NUL-terminated UTF-16 string.
pub(super) fn wide_path(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain([0]).collect()
}

/// The NUL-terminated UTF-16 string at `text` (empty for null).
///
/// # Safety
/// `text` is null or points to a NUL-terminated UTF-16 string.
pub(super) unsafe fn from_wide_ptr(text: *const u16) -> String {
    if text.is_null() {
        return String::new();
    }
    // SAFETY: the caller promises a NUL-terminated string.
    let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
    // SAFETY: `len` units before the NUL.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) })
}

/// A buffer `LocalAlloc`ed by Windows, freed on drop.
pub(super) struct Local(pub *mut c_void);

impl Drop for Local {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: allocated by the API that returned it, freed once.
            unsafe { LocalFree(self.0 as HLOCAL) };
        }
    }
}

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
