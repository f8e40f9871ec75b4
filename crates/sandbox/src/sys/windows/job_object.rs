//! Job objects made with [`JobLimits`]: the runner's (made by the client)
//! and each command's (made by the runner), written once.

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::ptr::null;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::JobObjects::{
    CreateJobObjectW, JOBOBJECT_BASIC_UI_RESTRICTIONS, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOBOBJECTINFOCLASS, JobObjectBasicUIRestrictions, JobObjectExtendedLimitInformation,
    SetInformationJobObject,
};

use crate::windows::job::JobLimits;

/// A new, unnamed job with `limits` (and their UI limits, when they have
/// any). A limit that cannot be set fails the whole: a job without its
/// limits is never handed out.
pub fn job_object(limits: &JobLimits) -> io::Result<OwnedHandle> {
    // SAFETY: no name, default security.
    let raw = unsafe { CreateJobObjectW(null(), null()) };
    if raw.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh handle owned by nobody else.
    let job = unsafe { OwnedHandle::from_raw_handle(raw as RawHandle) };
    let handle = job.as_raw_handle() as HANDLE;
    // SAFETY: plain data, zero is "no limit".
    let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    info.BasicLimitInformation.LimitFlags = limits.flags;
    info.BasicLimitInformation.ActiveProcessLimit = limits.active_processes;
    info.BasicLimitInformation.PerJobUserTimeLimit = limits.job_user_time;
    info.JobMemoryLimit = usize::try_from(limits.job_memory).unwrap_or(usize::MAX);
    info.ProcessMemoryLimit = usize::try_from(limits.process_memory).unwrap_or(usize::MAX);
    set(handle, JobObjectExtendedLimitInformation, &info).map_err(|e| context("the job's limits", e))?;
    if limits.ui != 0 {
        let ui = JOBOBJECT_BASIC_UI_RESTRICTIONS { UIRestrictionsClass: limits.ui };
        set(handle, JobObjectBasicUIRestrictions, &ui).map_err(|e| context("the job's UI limits", e))?;
    }
    Ok(job)
}

/// Sets one class of `job`'s information to `value`, the structure of that
/// class.
fn set<T>(job: HANDLE, class: JOBOBJECTINFOCLASS, value: &T) -> io::Result<()> {
    // SAFETY: a live job, and `value` is the structure `class` reads, of
    // its own size.
    let ok =
        unsafe { SetInformationJobObject(job, class, (value as *const T).cast(), size_of::<T>() as u32) };
    if ok == 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

fn context(what: &str, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}
