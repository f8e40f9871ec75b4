//! Job objects made with [`JobLimits`]: the runner's (made by the client)
//! and each command's (made by the runner), written once.

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::ptr::null;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::JobObjects::{
    CreateJobObjectW, JOBOBJECT_BASIC_UI_RESTRICTIONS, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JobObjectBasicUIRestrictions, JobObjectExtendedLimitInformation, SetInformationJobObject,
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
    // SAFETY: a live job and a correctly sized structure.
    let ok = unsafe {
        SetInformationJobObject(
            handle,
            JobObjectExtendedLimitInformation,
            (&raw const info).cast(),
            size_of_val(&info) as u32,
        )
    };
    if ok == 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("the job's limits: {err}")));
    }
    if limits.ui != 0 {
        let ui = JOBOBJECT_BASIC_UI_RESTRICTIONS { UIRestrictionsClass: limits.ui };
        // SAFETY: a live job and a correctly sized structure.
        let ok = unsafe {
            SetInformationJobObject(
                handle,
                JobObjectBasicUIRestrictions,
                (&raw const ui).cast(),
                size_of_val(&ui) as u32,
            )
        };
        if ok == 0 {
            let err = io::Error::last_os_error();
            return Err(io::Error::new(err.kind(), format!("the job's UI limits: {err}")));
        }
    }
    Ok(job)
}
