//! `CreateProcessW` and `CreateProcessAsUserW`, one call for both: a
//! process started under the caller's token or under a restricted version
//! of it.

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::ptr::null;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Threading::{
    CreateProcessAsUserW, CreateProcessW, PROCESS_INFORMATION, STARTUPINFOW,
};

/// A process just created: its handles and its id.
#[derive(Debug)]
pub struct Created {
    /// The process.
    pub process: OwnedHandle,
    /// Its first thread (suspended if the flags said so).
    pub thread: OwnedHandle,
    /// Its id.
    pub pid: u32,
}

/// Creates `application` with `command_line` (a mutable NUL-terminated
/// buffer, which Windows may write), under `token` (a restricted version of
/// the caller's primary token, which needs no privilege) or the caller's
/// own, with `flags`, the UTF-16 environment block `environment`
/// (`CREATE_UNICODE_ENVIRONMENT`), in `directory` (the caller's if none),
/// as `startup` says. The error is the call's, unwrapped, so that callers
/// can tell its code.
///
/// # Safety
/// `startup` is valid for the call, and so is everything it points to:
/// the attribute list of a `STARTUPINFOEXW` (with
/// `EXTENDED_STARTUPINFO_PRESENT` in `flags`), the desktop name, the
/// standard handles. `application`, `environment` and `directory` are
/// NUL-terminated (the environment block doubly).
#[allow(clippy::too_many_arguments)]
pub unsafe fn create_process(
    token: Option<&OwnedHandle>,
    application: &[u16],
    command_line: &mut [u16],
    inherit_handles: bool,
    flags: u32,
    environment: &[u16],
    directory: Option<&[u16]>,
    startup: &STARTUPINFOW,
) -> io::Result<Created> {
    // SAFETY: plain data.
    let mut info: PROCESS_INFORMATION = unsafe { std::mem::zeroed() };
    let inherit = i32::from(inherit_handles);
    let directory = directory.map_or(null(), <[u16]>::as_ptr);
    // SAFETY: the caller's promise for `startup` and the strings; the
    // command line is a mutable buffer; no process or thread attributes.
    let ok = unsafe {
        match token {
            Some(token) => CreateProcessAsUserW(
                token.as_raw_handle() as HANDLE,
                application.as_ptr(),
                command_line.as_mut_ptr(),
                null(),
                null(),
                inherit,
                flags,
                environment.as_ptr().cast(),
                directory,
                startup,
                &mut info,
            ),
            None => CreateProcessW(
                application.as_ptr(),
                command_line.as_mut_ptr(),
                null(),
                null(),
                inherit,
                flags,
                environment.as_ptr().cast(),
                directory,
                startup,
                &mut info,
            ),
        }
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh handles from the call, owned by nobody else.
    let (process, thread) = unsafe {
        (
            OwnedHandle::from_raw_handle(info.hProcess as RawHandle),
            OwnedHandle::from_raw_handle(info.hThread as RawHandle),
        )
    };
    Ok(Created { process, thread, pid: info.dwProcessId })
}
