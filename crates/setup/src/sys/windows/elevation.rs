//! Starting the running executable again, elevated: `ShellExecuteExW` with
//! the `runas` verb (the UAC prompt), then waiting for its exit code.

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::ptr::null_mut;

use windows_sys::Win32::Foundation::{ERROR_CANCELLED, GetLastError, HANDLE, WAIT_OBJECT_0};
use windows_sys::Win32::System::Threading::{GetExitCodeProcess, INFINITE, WaitForSingleObject};
use windows_sys::Win32::UI::Shell::{
    SEE_MASK_NOASYNC, SEE_MASK_NOCLOSEPROCESS, SHELLEXECUTEINFOW, ShellExecuteExW,
};

use super::util::{failed, last_error, wide};
use crate::{ErrorCode, SetupError};

/// `SW_SHOWNORMAL`: the elevated setup shows its console.
const SW_SHOWNORMAL: i32 = 1;

/// Starts the current executable elevated with `args`; waits for it and
/// returns its exit code.
pub(crate) fn elevate_and_wait(args: &[String]) -> Result<i32, SetupError> {
    let exe = std::env::current_exe().map_err(|err| {
        SetupError::new(ErrorCode::Elevation, format!("finding the current executable: {err}"))
    })?;
    let directory = std::env::current_dir().ok();
    let exe_w = wide(&exe);
    let parameters_w = wide(crate::command_parameters(args));
    let verb_w = wide("runas");
    let directory_w = directory.as_deref().map(wide);
    let mut info = SHELLEXECUTEINFOW {
        cbSize: size_of::<SHELLEXECUTEINFOW>() as u32,
        fMask: SEE_MASK_NOCLOSEPROCESS | SEE_MASK_NOASYNC,
        lpVerb: verb_w.as_ptr(),
        lpFile: exe_w.as_ptr(),
        lpParameters: parameters_w.as_ptr(),
        lpDirectory: directory_w.as_ref().map_or(std::ptr::null(), |d| d.as_ptr()),
        nShow: SW_SHOWNORMAL,
        hProcess: null_mut(),
        ..Default::default()
    };
    // SAFETY: a SHELLEXECUTEINFOW whose strings outlive the call.
    if unsafe { ShellExecuteExW(&mut info) } == 0 {
        // SAFETY: reads the calling thread's last error.
        let status = unsafe { GetLastError() };
        if status == ERROR_CANCELLED {
            return Err(SetupError::new(ErrorCode::ElevationDeclined, "the elevation prompt was declined"));
        }
        return Err(failed(
            ErrorCode::Elevation,
            format_args!("starting {} elevated", exe.display()),
            status,
        ));
    }
    if info.hProcess.is_null() {
        return Err(SetupError::new(
            ErrorCode::Elevation,
            format!("{} started without a process", exe.display()),
        ));
    }
    // SAFETY: SEE_MASK_NOCLOSEPROCESS hands the process handle to the caller.
    let process = unsafe { OwnedHandle::from_raw_handle(info.hProcess as RawHandle) };
    // SAFETY: a live process handle.
    if unsafe { WaitForSingleObject(process.as_raw_handle() as HANDLE, INFINITE) } != WAIT_OBJECT_0 {
        return Err(last_error(ErrorCode::Elevation, "waiting for the elevated setup"));
    }
    let mut code = 0u32;
    // SAFETY: a live process handle; an out-pointer.
    if unsafe { GetExitCodeProcess(process.as_raw_handle() as HANDLE, &mut code) } == 0 {
        return Err(last_error(ErrorCode::Elevation, "reading the exit code of the elevated setup"));
    }
    Ok(code as i32)
}
