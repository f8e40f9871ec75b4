//! The client's error type.
//!
//! Two failures matter most to a caller and are told apart by type: the
//! runner is gone ([`Error::RunnerGone`], [`Error::is_runner_gone`]): no
//! call on that sandbox can succeed any more; and the runner refused one
//! spawn ([`Error::Spawn`]): the sandbox goes on. Where an operating-system
//! error is behind a failure it stays attached as the error's
//! [`source`](std::error::Error::source), and [`Error::io_kind`] gives its
//! kind.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// An operating-system call on the way to or from the runner failed:
    /// starting it, setting up its channel, waiting for it to exit.
    #[error("{context}")]
    Io {
        /// What was being done, and with which path.
        context: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The runner could not be set up, for a reason told in words (a
    /// security context this platform cannot give it, a policy that cannot
    /// be encoded, …).
    #[error("cannot launch the runner: {0}")]
    Launch(String),
    /// The runner started, but the handshake with it failed; the runner was
    /// killed.
    #[error("handshake with the runner failed: {failure}{}", .runner_status.as_ref().map(|s| format!(" (runner {s})")).unwrap_or_default())]
    Handshake {
        /// What went wrong.
        #[source]
        failure: HandshakeError,
        /// How the runner ended, if it was seen to end.
        runner_status: Option<std::process::ExitStatus>,
    },
    /// The runner is gone (it exited, was killed, or broke the protocol);
    /// every pending and later call on this sandbox gets this error.
    #[error(transparent)]
    RunnerGone(#[from] RunnerGone),
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
    /// The runner refused to start a process, and said why. Only this
    /// spawn failed: the runner and its other processes go on.
    #[error("cannot spawn: {message}")]
    Spawn {
        /// The class of failure.
        kind: SpawnErrorKind,
        /// Details.
        message: String,
        /// The OS error code, if any; [`Error::io_kind`] reads it.
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

impl Error {
    /// Whether the runner is gone: the channel closed, the runner exited or
    /// was killed. Nothing more can run in this sandbox; a caller that
    /// wants to go on launches a new one.
    pub fn is_runner_gone(&self) -> bool {
        matches!(self, Error::RunnerGone(_))
    }

    /// The kind of the operating-system error behind this one, if there is
    /// one: the source of [`Error::Io`] or of a [`RunnerGone`], or the
    /// `os_code` the runner reported with a [`Error::Spawn`] (read as this
    /// platform's code: the runner runs on the client's platform).
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io { source, .. } => Some(source.kind()),
            Error::RunnerGone(gone) => gone.io_error().map(io::Error::kind),
            Error::Spawn { os_code: Some(code), .. } => Some(io::Error::from_raw_os_error(*code).kind()),
            _ => None,
        }
    }

    /// An [`Error::Io`]: `context` says what failed.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }
}

/// Why a handshake with a runner failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The runner refused the parent's `Hello` (a wrong token, no common
    /// version, …), and said why.
    #[error("rejected: {reason}")]
    Rejected {
        /// The runner's words.
        reason: String,
    },
    /// No answer came in time.
    #[error("no answer within {0:?}")]
    TimedOut(std::time::Duration),
    /// The channel closed before the answer.
    #[error("the runner closed the channel")]
    Closed,
    /// The channel failed, or carried bytes that are not a message.
    #[error(transparent)]
    Channel(#[from] cordon_ipc::Error),
    /// The runner answered with another message than `HelloAck`.
    #[error("expected HelloAck, got {0}")]
    Unexpected(&'static str),
    /// The runner chose a protocol version the parent did not offer.
    #[error("the runner chose unsupported version {0}")]
    Version(u32),
    /// The runner chose a frame size or a window the channel cannot work
    /// with.
    #[error("the runner chose an unusable max_frame {max_frame} / window {window}")]
    Unusable {
        /// The frame maximum it chose.
        max_frame: u32,
        /// The window it chose.
        window: u32,
    },
}

/// Why a runner is gone: what ended the channel to it, and the I/O error
/// that did, when one did (as the source). Every call that fails because of
/// it gets a copy.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the runner is gone: {reason}")]
pub struct RunnerGone {
    reason: String,
    #[source]
    source: Option<Arc<io::Error>>,
}

impl RunnerGone {
    /// The channel ended for `reason`, with no I/O error behind it (the
    /// runner closed it, or broke the protocol).
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        RunnerGone { reason: reason.into(), source: None }
    }

    /// Reading or writing the channel failed with `source`.
    pub(crate) fn io(reason: impl Into<String>, source: io::Error) -> Self {
        RunnerGone { reason: reason.into(), source: Some(Arc::new(source)) }
    }

    /// What ended the channel, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The I/O error that ended the channel, if one did.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.source.as_deref()
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
