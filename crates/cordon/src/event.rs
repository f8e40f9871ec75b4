//! What happens to a process, as values: its events, how it ended, where it
//! is now, and what a finished one wrote. Nothing here talks to a runner.

use std::time::Duration;

use cordon_ipc::{ErrorKind, Exited, ProcessStatus, Stream};

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// Signal number, if a signal ended it.
    pub signal: Option<i32>,
    /// Whether its timeout expired (its tree was killed).
    pub timed_out: bool,
    /// Wall time from spawn to exit.
    pub duration: Duration,
}

impl ExitStatus {
    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// The shell's convention: the code, `128 + N` for signal `N`, 124 for
    /// a timeout.
    pub fn exit_code(&self) -> i32 {
        cordon_ipc::oneshot::exit_code(self.code, self.signal, self.timed_out)
    }
}

impl From<&Exited> for ExitStatus {
    fn from(e: &Exited) -> Self {
        ExitStatus {
            code: e.code,
            signal: e.signal,
            timed_out: e.timed_out,
            duration: Duration::from_millis(e.duration_ms),
        }
    }
}

/// Something that happened to a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A chunk of output, in order.
    Output {
        /// Which stream.
        stream: Stream,
        /// The bytes.
        data: Vec<u8>,
    },
    /// The runner refused or failed a request about this process (stdin
    /// after it closed, resize of a pipe process, …). The process goes on.
    Error {
        /// The class of failure.
        kind: ErrorKind,
        /// Details.
        message: String,
    },
    /// The process ended; no event follows.
    Exited(ExitStatus),
}

/// What a finished process wrote, up to a limit per stream, and how it
/// ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// How it ended.
    pub status: ExitStatus,
    /// Its stdout (or, on a PTY, the terminal's output): all of it, or past
    /// the limit its first and last bytes.
    pub stdout: Vec<u8>,
    /// Its stderr (empty on a PTY), kept the same way.
    pub stderr: Vec<u8>,
    /// Bytes of stdout dropped between the first and the last (0 when all
    /// was kept).
    pub stdout_dropped: u64,
    /// Bytes of stderr dropped the same way.
    pub stderr_dropped: u64,
}

/// Where a process is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessState {
    /// Still running, as the runner sees it.
    Running(ProcessStatus),
    /// Ended.
    Exited(ExitStatus),
}
