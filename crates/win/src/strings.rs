//! UTF-16 strings, and buffers Windows allocated with `LocalAlloc`.

use std::ffi::{OsStr, c_void};
use std::os::windows::ffi::OsStrExt;

use windows_sys::Win32::Foundation::{HLOCAL, LocalFree};

/// `s` as a NUL-terminated UTF-16 string.
pub fn wide(s: impl AsRef<OsStr>) -> Vec<u16> {
    s.as_ref().encode_wide().chain([0]).collect()
}

/// The NUL-terminated UTF-16 string at `text` (empty for null), with
/// unpaired surrogates replaced.
///
/// # Safety
/// `text` is null or points to a NUL-terminated UTF-16 string.
pub unsafe fn from_wide_ptr(text: *const u16) -> String {
    if text.is_null() {
        return String::new();
    }
    // SAFETY: the caller promises a NUL-terminated string, so every unit
    // up to the NUL is readable.
    let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
    // SAFETY: `len` readable units before the NUL.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) })
}

/// A buffer Windows allocated with `LocalAlloc`, freed on drop.
#[derive(Debug)]
pub struct LocalBuffer(pub *mut c_void);

impl Drop for LocalBuffer {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: allocated by the API that returned it, freed once.
            unsafe { LocalFree(self.0 as HLOCAL) };
        }
    }
}
