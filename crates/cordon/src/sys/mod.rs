//! Starting the runner, per platform. Each platform module provides:
//!
//! - `launch(&RunnerLaunch) -> Result<Launched>`: start the runner in its
//!   sandbox context with the channel's far end, and return the runner and
//!   the near end of the channel, connected and checked, ready for the
//!   handshake.
//! - `Runner`: the started runner: its pid, `start_kill()`, `wait()`.
//! - `run_request_file(&RunnerLaunch)`: the one-shot bootstrap on the
//!   caller's stdio.
//! - `DEFAULT_TRANSPORT`: the transport the launch uses when the caller
//!   chose none.
//! - `RUNNER_ENV_VARS`: what of the caller's environment the runner needs
//!   to start and to log.
//! - `checked_probes(Vec<Probe>) -> Vec<Probe>`: the sandbox crate's probes,
//!   with what only the client can check (Windows: whether the firewall
//!   enforces the offline user's block now).

use std::path::Path;
use std::time::Duration;

use crate::options::{Transport, WindowsMode};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

/// An async reader of the channel.
pub(crate) type ChannelReader = Box<dyn tokio::io::AsyncRead + Unpin + Send>;
/// An async writer of the channel.
pub(crate) type ChannelWriter = Box<dyn tokio::io::AsyncWrite + Unpin + Send>;

/// What to start. (Unix launches need no security context: the runner
/// confines itself.)
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) struct RunnerLaunch<'a> {
    pub path: &'a Path,
    /// Arguments besides the channel's.
    pub args: Vec<String>,
    /// The runner's environment, the token included.
    pub env: Vec<(String, String)>,
    pub transport: Transport,
    /// `None`: elevated once `cordon setup` has run, restricted-token
    /// until then.
    pub windows_mode: Option<WindowsMode>,
    pub policy: &'a cordon_sandbox::Policy,
    /// How long the runner has to connect to the channel.
    pub connect_timeout: Duration,
}

/// A started runner and the parent's end of the channel.
pub(crate) struct Launched {
    pub runner: Runner,
    pub reader: ChannelReader,
    pub writer: ChannelWriter,
}
