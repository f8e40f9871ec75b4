//! Linux (and other Unix) implementation of the runner's platform layer.

mod bootstrap;
mod input_wait;
mod io;
mod reap;
mod spawn;
mod tree;

pub use bootstrap::{
    Channel, ChannelReader, ChannelWriter, mark_inherited_fds_close_on_exec, take_secret_env,
};
pub use input_wait::InputWatch;
pub use io::{InputPipe, OutputPipe, Terminal};
pub use reap::{ExitStatus, Reaper};
pub use spawn::{PlatformChild, spawn};
pub use tree::{ProcessTree, kill_all_descendants};

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use cordon_ipc::{OsBytes, SpawnError};
use nix::sys::prctl;
use nix::sys::signal::Signal as NixSignal;

/// The runner can tell when a process waits for its input.
pub const DETECTS_AWAITING_INPUT: bool = true;

/// The path `bytes` name: on Unix a path is any bytes.
pub fn path_of(bytes: &OsBytes) -> Result<PathBuf, SpawnError> {
    Ok(Path::new(std::ffi::OsStr::from_bytes(bytes.as_bytes())).to_path_buf())
}

/// Ties the runner's life to its parent's and makes it the reaper of every
/// orphan in its trees. `expected_parent`, when given, closes the race where
/// the parent died before the death signal was armed.
///
/// Call it at start-up and again once the sandbox is in force: entering a
/// user namespace changes the credentials, and a credential change clears
/// the death signal (the parent may also have died meanwhile).
///
/// Inside the sandbox's PID namespace the runner is init and its parent,
/// outside, shows as pid 0: that parent is the sandbox's supervisor, which
/// has already tied the runner's life to its own.
pub fn startup(expected_parent: Option<u32>) -> anyhow::Result<()> {
    if is_pid_namespace_init() {
        return Ok(());
    }
    // SIGTERM rather than SIGKILL: the runner catches it and kills its trees
    // before it exits.
    prctl::set_pdeathsig(NixSignal::SIGTERM)?;
    if let Some(parent) = expected_parent {
        let actual = nix::unistd::getppid().as_raw() as u32;
        if actual != parent {
            anyhow::bail!("the parent (pid {parent}) exited before the runner started");
        }
    }
    // Orphans of any tree are re-parented to the runner, never to init, so
    // that shutdown can still find and kill them.
    prctl::set_child_subreaper(true)?;
    Ok(())
}

/// Whether the runner is the init of the sandbox's PID namespace: its
/// parent, the supervisor outside, then shows as pid 0.
fn is_pid_namespace_init() -> bool {
    nix::unistd::getppid().as_raw() == 0
}

/// The requests to stop that the runner heeds.
///
/// As the init of the sandbox's PID namespace the runner heeds none: the
/// kernel delivers a signal to a namespace's init only if it has a handler,
/// so without one its commands cannot stop it (`kill -TERM 1`) and neither
/// can a terminal. It is stopped by its channel, or by the death of its
/// supervisor, the process the launcher started, which any signal that
/// kills that process brings about.
#[derive(Debug)]
pub struct Termination {
    terms: Option<tokio::signal::unix::Signal>,
    hangups: Option<tokio::signal::unix::Signal>,
    /// Delivered by a terminal to its whole foreground group, the command
    /// included: the runner lets the command decide and waits for it. (The
    /// handlers stay installed while these are held.)
    _ignored: Vec<tokio::signal::unix::Signal>,
}

impl Termination {
    /// Listens for `SIGTERM` (also what the parent's death delivers).
    pub fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        if is_pid_namespace_init() {
            return Ok(Termination::deaf());
        }
        Ok(Termination { terms: Some(signal(SignalKind::terminate())?), hangups: None, _ignored: Vec::new() })
    }

    /// For a runner that shares the user's terminal with its one command:
    /// `SIGHUP` stops it too; `SIGINT` and `SIGQUIT` are left to the command.
    pub fn foreground() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        if is_pid_namespace_init() {
            return Ok(Termination::deaf());
        }
        Ok(Termination {
            terms: Some(signal(SignalKind::terminate())?),
            hangups: Some(signal(SignalKind::hangup())?),
            _ignored: vec![signal(SignalKind::interrupt())?, signal(SignalKind::quit())?],
        })
    }

    /// Heeds nothing: for the init of the sandbox's PID namespace.
    fn deaf() -> Self {
        Termination { terms: None, hangups: None, _ignored: Vec::new() }
    }

    /// Resolves at the next request to stop.
    pub async fn recv(&mut self) {
        async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = next(&mut self.terms) => {}
            _ = next(&mut self.hangups) => {}
        }
    }
}
