//! Process trees as job objects: each spawned process is created inside a
//! job of its own, so its descendants are in it too (a child cannot leave a
//! job), and terminating the job ends the whole tree at once. The job
//! carries the policy's CPU time ([`cordon_sandbox::command_job`]), shared
//! by the tree.

use std::io;
use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::sync::{Arc, Mutex};

use cordon_ipc::Signal;
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, GenerateConsoleCtrlEvent};
use windows_sys::Win32::System::JobObjects::{
    JOBOBJECT_BASIC_ACCOUNTING_INFORMATION, JobObjectBasicAccountingInformation, QueryInformationJobObject,
    TerminateJobObject,
};

use super::Terminal;

/// The exit code of a process ended by `Terminate`, `Kill` or `Hangup`
/// (what `taskkill /F` gives).
pub const KILLED_EXIT_CODE: u32 = 1;

/// A job object that kills what is in it when its last handle closes, with
/// the limits of a command's job.
#[derive(Debug)]
pub(super) struct Job(OwnedHandle);

impl Job {
    pub(super) fn new() -> io::Result<Arc<Job>> {
        let job = Job(cordon_sandbox::job_object(&cordon_sandbox::command_job())?);
        let job = Arc::new(job);
        live_jobs().push(job.clone());
        Ok(job)
    }

    pub(super) fn raw(&self) -> HANDLE {
        self.0.as_raw_handle() as HANDLE
    }

    fn terminate(&self) {
        // SAFETY: a live job handle.
        unsafe { TerminateJobObject(self.raw(), KILLED_EXIT_CODE) };
    }

    fn active_processes(&self) -> u32 {
        // SAFETY: plain data.
        let mut info: JOBOBJECT_BASIC_ACCOUNTING_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: a live job and a correctly sized structure.
        let ok = unsafe {
            QueryInformationJobObject(
                self.raw(),
                JobObjectBasicAccountingInformation,
                (&raw mut info).cast(),
                size_of_val(&info) as u32,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 { 1 } else { info.ActiveProcesses }
    }
}

/// Every job the runner created whose processes may still run: kept open so
/// that, as on Linux, a process left behind by one that exited lives on
/// until the session ends. Closing them (the runner's exit) kills them.
fn live_jobs() -> std::sync::MutexGuard<'static, Vec<Arc<Job>>> {
    static JOBS: Mutex<Vec<Arc<Job>>> = Mutex::new(Vec::new());
    let mut jobs = JOBS.lock().expect("job list");
    jobs.retain(|job| Arc::strong_count(job) > 1 || job.active_processes() > 0);
    jobs
}

/// A spawned process and its descendants, signalled and killed as one.
#[derive(Debug, Clone)]
pub struct ProcessTree {
    pid: u32,
    job: Arc<Job>,
}

impl ProcessTree {
    pub(super) fn new(pid: u32, job: Arc<Job>) -> Self {
        ProcessTree { pid, job }
    }

    /// Kills the process and every descendant of it.
    pub fn kill(&self) {
        self.job.terminate();
    }

    /// `Interrupt` is Ctrl-C typed into the console, or `CTRL_BREAK` for the
    /// process group of a pipe-backed process; the others end the tree.
    pub fn signal(&self, signal: Signal, terminal: Option<&Terminal>) -> io::Result<()> {
        match (signal, terminal) {
            (Signal::Interrupt, Some(terminal)) => terminal.interrupt(),
            (Signal::Interrupt, None) => {
                // SAFETY: no preconditions; the group id is the child's pid.
                if unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, self.pid) } == 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            }
            (Signal::Terminate | Signal::Kill | Signal::Hangup, _) => {
                self.kill();
                Ok(())
            }
        }
    }
}

/// Kills what is left in every job of the runner and waits (at most 5 s)
/// until the jobs are empty: termination is asynchronous, and once the
/// runner has exited its trees must be gone too.
pub fn kill_all_descendants() {
    let jobs: Vec<_> = live_jobs().drain(..).collect();
    for job in &jobs {
        job.terminate();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while jobs.iter().any(|job| job.active_processes() > 0) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
