//! Exit statuses: a thread per child waits on its process handle.

use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::time::Duration;

use tokio::sync::oneshot;
use windows_sys::Win32::Foundation::{HANDLE, WAIT_OBJECT_0};
use windows_sys::Win32::System::Threading::{GetExitCodeProcess, INFINITE, WaitForSingleObject};

/// After a process exits, how long each of its output pipes may stay quiet
/// before its exit is reported (output in flight in a reader thread is
/// delivered first)...
const QUIET_AFTER_EXIT: Duration = Duration::from_millis(100);

/// ...and for no longer than this in all: a descendant that keeps a pipe
/// open and writing cannot hold back the exit.
const SETTLE_LIMIT: Duration = Duration::from_secs(1);

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// Exit code.
    pub code: Option<i32>,
    /// Always `None` on Windows.
    pub signal: Option<i32>,
}

/// Hands out exit statuses. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Reaper;

impl Reaper {
    /// Nothing to install on Windows: every child is waited for on its own.
    pub fn start() -> std::io::Result<Reaper> {
        Ok(Reaper)
    }

    /// Watches the child's exit.
    pub fn watch(&self, child: &crate::sys::Child) -> oneshot::Receiver<ExitStatus> {
        let (tx, rx) = oneshot::channel();
        let process = match child.platform.process.try_clone() {
            Ok(process) => process,
            Err(err) => {
                tracing::warn!(%err, "cannot watch the child's exit");
                return rx;
            }
        };
        let settlers: Vec<_> = child
            .stdout
            .iter()
            .chain(&child.stderr)
            .chain(child.pty.as_ref().map(|t| t.output()))
            .map(|pipe| pipe.settler())
            .collect();
        let console = child.platform.console.clone();
        let spawned = std::thread::Builder::new().name("cordon-wait".into()).spawn(move || {
            let status = wait(&process);
            for settle in &settlers {
                settle(QUIET_AFTER_EXIT, SETTLE_LIMIT);
            }
            // The console's output pipe ends only when it is closed.
            if let Some(console) = console {
                console.close();
            }
            let _ = tx.send(status);
        });
        if let Err(err) = spawned {
            tracing::warn!(%err, "cannot start the exit watcher");
        }
        rx
    }
}

fn wait(process: &OwnedHandle) -> ExitStatus {
    let handle = process.as_raw_handle() as HANDLE;
    // SAFETY: a live process handle.
    let waited = unsafe { WaitForSingleObject(handle, INFINITE) };
    let mut code = 0u32;
    // SAFETY: as above.
    if waited != WAIT_OBJECT_0 || unsafe { GetExitCodeProcess(handle, &mut code) } == 0 {
        return ExitStatus { code: None, signal: None };
    }
    ExitStatus { code: Some(code as i32), signal: None }
}
