//! The client's error type.

use std::path::PathBuf;

use cordon_ipc::{ErrorKind, SpawnErrorKind};

/// What went wrong, from the caller's point of view.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No runner executable was found.
    #[error("cannot find cordon-runner; looked at: {}", .looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    RunnerNotFound {
        /// Every path that was tried, in order.
        looked: Vec<PathBuf>,
    },
    /// The runner could not be started or set up.
    #[error("cannot launch the runner: {0}")]
    Launch(String),
    /// The handshake failed (rejected, bad version, timed out, runner exited).
    #[error("handshake with the runner failed: {0}")]
    Handshake(String),
    /// The runner is gone (it exited, was killed, or broke the protocol);
    /// every pending and later call on this sandbox gets this error.
    #[error("the runner is gone: {0}")]
    RunnerGone(String),
    /// A request does not fit in one frame of this channel (the
    /// `max_frame` the handshake settled, see [`crate::HelloAck`]), so it
    /// was not sent. Only this call fails: the sandbox and its processes
    /// go on. A `Spawn` is this large when its arguments and environment
    /// are.
    #[error(
        "the {message} request is {size} bytes encoded, more than the {max} bytes one frame may carry to this runner"
    )]
    RequestTooLarge {
        /// The request's message type (`"Spawn"`, …).
        message: &'static str,
        /// Its encoded size.
        size: usize,
        /// The channel's frame maximum.
        max: u32,
    },
    /// A spawn failed.
    #[error("cannot spawn: {message}")]
    Spawn {
        /// The class of failure.
        kind: SpawnErrorKind,
        /// Details.
        message: String,
        /// The OS error code, if any.
        os_code: Option<i32>,
    },
    /// The runner refused a request about a process.
    #[error("{message}")]
    Request {
        /// The class of failure.
        kind: ErrorKind,
        /// Details.
        message: String,
    },
    /// The process has exited; it takes no more input or signals.
    #[error("the process has exited")]
    Exited,
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
