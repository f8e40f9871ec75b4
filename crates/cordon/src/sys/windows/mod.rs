//! Starting the runner on Windows: a named pipe created for the runner's
//! identity alone, the runner started under a write-restricted token (or as
//! the sandbox user), on a private desktop, inside a kill-on-close job with
//! every UI limit that the parent holds, and the connecting process checked
//! against the runner's pid.
//!
//! By job: [`identity`] decides and prepares who the runner runs as,
//! [`start`] starts it in that context, [`pipe`] makes and checks its
//! channel, [`request_file`] pumps the one-shot bootstrap's stdio; this
//! module holds the started [`Runner`] and the launch that ties them.

mod desktop;
mod identity;
mod pipe;
mod request_file;
mod security;
mod start;

use std::io;
use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::os::windows::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Duration;

use cordon_sandbox::placeholders::Placeholders;

use windows_sys::Win32::Foundation::{HANDLE, WAIT_OBJECT_0};
use windows_sys::Win32::System::JobObjects::TerminateJobObject;
use windows_sys::Win32::System::Threading::{GetExitCodeProcess, INFINITE, WaitForSingleObject};

pub(super) use cordon_win::wide;

use self::desktop::Desktop;
use self::identity::context;
use self::pipe::{client_pid, random_hex};
pub(crate) use self::request_file::run_request_file;
use super::{Launched, RunnerLaunch};
use crate::options::Transport;
use crate::{Error, Result};

/// A named pipe, created for the runner's identity alone.
pub(crate) const DEFAULT_TRANSPORT: Transport = Transport::NamedPipe;

/// What of the caller's environment the runner inherits: what a Windows
/// program needs to start (and the log settings).
pub(crate) const RUNNER_ENV_VARS: &[&str] = &[
    "PATH",
    "PATHEXT",
    "SystemRoot",
    "SystemDrive",
    "windir",
    "TEMP",
    "TMP",
    "USERPROFILE",
    "COMSPEC",
    "CORDON_LOG",
    "RUST_BACKTRACE",
];

/// The exit code a runner killed by its parent reports.
pub(super) const KILLED: u32 = 1;

/// The started runner, in a job that dies with this handle, on a desktop
/// closed with it.
#[derive(Debug)]
pub(crate) struct Runner {
    pid: u32,
    process: Arc<OwnedHandle>,
    job: OwnedHandle,
    /// The thread that copies the runner's log to the caller's stderr.
    log: Option<std::thread::JoinHandle<()>>,
    /// Dropped after the job, so once its processes are gone: the
    /// placeholders are removed unless another launch holds them.
    placeholders: Placeholders,
    // Dropped after the job: the desktop goes once the job's processes
    // have left it and this handle is closed.
    _desktop: Desktop,
}

impl Runner {
    /// Keeps `placeholders` until the runner is gone.
    pub(super) fn hold(&mut self, placeholders: Placeholders) {
        self.placeholders = placeholders;
    }

    /// The runner's pid.
    pub(crate) fn id(&self) -> Option<u32> {
        Some(self.pid)
    }

    /// Ends the runner and everything in its job.
    pub(crate) fn start_kill(&mut self) -> io::Result<()> {
        // SAFETY: a live job handle.
        if unsafe { TerminateJobObject(self.job.as_raw_handle() as HANDLE, KILLED) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Resolves with the runner's exit code once it has exited (checked
    /// every 50 ms, so that a launch notices a runner that refused to run
    /// without a thread left waiting on it).
    async fn exited(&self) -> u32 {
        let handle = self.process.as_raw_handle() as HANDLE;
        loop {
            // SAFETY: a live process handle; a zero timeout only polls.
            if unsafe { WaitForSingleObject(handle, 0) } == WAIT_OBJECT_0 {
                let mut code = 0u32;
                // SAFETY: as above.
                unsafe { GetExitCodeProcess(handle, &mut code) };
                return code;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the log of a runner that has exited has reached the
    /// caller's stderr (its reason, when it refused to run).
    fn flush_log(&mut self) {
        if let Some(log) = self.log.take() {
            let _ = log.join();
        }
    }

    /// Waits for the runner to exit.
    pub(crate) async fn wait(&mut self) -> io::Result<std::process::ExitStatus> {
        let process = self.process.clone();
        tokio::task::spawn_blocking(move || {
            let handle = process.as_raw_handle() as HANDLE;
            // SAFETY: a live process handle.
            if unsafe { WaitForSingleObject(handle, INFINITE) } != WAIT_OBJECT_0 {
                return Err(io::Error::last_os_error());
            }
            let mut code = 0u32;
            // SAFETY: as above.
            if unsafe { GetExitCodeProcess(handle, &mut code) } == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(std::process::ExitStatus::from_raw(code))
        })
        .await
        .map_err(io::Error::other)?
    }
}

pub(crate) async fn launch(spec: &RunnerLaunch<'_>) -> Result<Launched> {
    if spec.transport != Transport::NamedPipe {
        return Err(Error::Launch("on Windows the channel is a named pipe".into()));
    }
    let mut context = context(spec)?;
    let pipe_name = format!(r"\\.\pipe\cordon-{}-{}", std::process::id(), random_hex()?);
    let server = context.pipe(&pipe_name, true, true)?;
    let mut args = spec.args.clone();
    args.extend(["--pipe".to_string(), pipe_name.clone()]);
    let mut runner = context.start(spec, &args, None)?;
    runner.hold(std::mem::take(&mut context.placeholders));
    let connected = tokio::time::timeout(spec.connect_timeout, async {
        tokio::select! {
            connected = server.connect() => Ok(connected),
            code = runner.exited() => Err(code),
        }
    })
    .await;
    let failure = match connected {
        Err(_) => {
            Some(format!("the runner did not connect to {pipe_name} within {:?}", spec.connect_timeout))
        }
        Ok(Err(code)) => {
            // It has exited: its log ends, and its reason is on stderr
            // before the launch returns.
            runner.flush_log();
            let refused = if code == cordon_ipc::oneshot::EXIT_CORDON_FAILED as u32 {
                ": it refused to run (its reason is on stderr)"
            } else {
                ""
            };
            Some(format!("the runner exited with code {code} before it connected to {pipe_name}{refused}"))
        }
        Ok(Ok(Err(e))) => Some(format!("connecting {pipe_name}: {e}")),
        Ok(Ok(Ok(()))) => match client_pid(&server) {
            Ok(pid) if pid == runner.pid => None,
            Ok(pid) => Some(format!("{pipe_name}: pid {pid} connected, not the runner (pid {})", runner.pid)),
            Err(e) => Some(format!("GetNamedPipeClientProcessId: {e}")),
        },
    };
    if let Some(failure) = failure {
        let _ = runner.start_kill();
        return Err(Error::Launch(failure));
    }
    let (reader, writer) = tokio::io::split(server);
    Ok(Launched { runner, reader: Box::new(reader), writer: Box::new(writer) })
}

/// The probes, with `network off (elevated)` checked against the firewall
/// as it is now (`cordon_setup::verify_offline_block`): the sandbox crate
/// only sees whether the offline user exists.
pub(crate) fn checked_probes(mut probes: Vec<cordon_sandbox::Probe>) -> Vec<cordon_sandbox::Probe> {
    use cordon_sandbox::windows::accounts::DEFAULT_OFFLINE_USER;
    for probe in probes.iter_mut().filter(|p| p.name == "network off (elevated)" && p.available) {
        if let Err(e) = cordon_setup::verify_offline_block(DEFAULT_OFFLINE_USER) {
            probe.available = false;
            probe.detail = e.to_string();
        }
    }
    probes
}

/// A failed system call on the way to starting the runner.
pub(super) fn launch_error(step: &str, e: io::Error) -> Error {
    Error::io(step, e)
}
