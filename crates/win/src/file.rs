//! Files and directories: their attributes.

use std::io;
use std::path::Path;

use windows_sys::Win32::Storage::FileSystem::SetFileAttributesW;

use crate::wide;

/// Sets the attributes of the file or directory at `path` to
/// `attributes`, replacing what it had.
pub fn set_file_attributes(path: &Path, attributes: u32) -> io::Result<()> {
    // SAFETY: a NUL-terminated string alive for the call.
    if unsafe { SetFileAttributesW(wide(path).as_ptr(), attributes) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
