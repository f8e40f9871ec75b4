//! Reaping. The runner is a child subreaper, so besides the children it
//! spawned it inherits every orphan of their trees. One task collects every
//! exit with `waitpid(-1)` and hands the status of a registered pid to its
//! waiter; orphans are reaped and forgotten. Nothing else in the runner may
//! wait for children.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// Signal number, if a signal killed it.
    pub signal: Option<i32>,
}

type Waiters = Arc<Mutex<HashMap<u32, oneshot::Sender<ExitStatus>>>>;

/// Hands out exit statuses. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Reaper {
    waiters: Waiters,
}

impl Reaper {
    /// Installs the `SIGCHLD` handler and starts the reaping task on the
    /// current tokio runtime. Must run before the first spawn.
    pub fn start() -> std::io::Result<Reaper> {
        let mut sigchld = signal(SignalKind::child())?;
        let waiters: Waiters = Arc::default();
        let reaper = Reaper { waiters: waiters.clone() };
        tokio::spawn(async move {
            loop {
                reap_all(&waiters);
                if sigchld.recv().await.is_none() {
                    break;
                }
            }
        });
        Ok(reaper)
    }

    /// Registers interest in the child's exit. Call it right after the
    /// spawn, before the next `.await`, so the reaping task cannot run in
    /// between.
    pub fn watch(&self, child: &crate::sys::Child) -> oneshot::Receiver<ExitStatus> {
        let pid = child.pid;
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().expect("reaper lock").insert(pid, tx);
        rx
    }
}

fn reap_all(waiters: &Waiters) {
    loop {
        let status = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => (pid, ExitStatus { code: Some(code), signal: None }),
            Ok(WaitStatus::Signaled(pid, sig, _core)) => {
                (pid, ExitStatus { code: None, signal: Some(sig as i32) })
            }
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(err) => {
                tracing::warn!(%err, "waitpid failed");
                return;
            }
        };
        let (pid, exit) = status;
        let waiter = waiters.lock().expect("reaper lock").remove(&(pid.as_raw() as u32));
        match waiter {
            Some(tx) => {
                let _ = tx.send(exit);
            }
            None => tracing::debug!(pid = pid.as_raw(), "reaped an orphan"),
        }
    }
}
