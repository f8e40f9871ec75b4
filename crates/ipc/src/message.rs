//! The message set of protocol version 1.
//!
//! On the wire every message is a MessagePack map with exactly one entry: the
//! key is the message type (`"Spawn"`, `"Output"`, …) and the value is a map of
//! the message's named fields. Unknown fields are ignored on decode, so fields
//! can be added without a version bump; a field marked "optional" may be
//! absent or `nil`. Byte payloads (`Stdin.data`, `Output.data`) are
//! MessagePack `bin`; arguments, environment and paths are [`OsBytes`].
//! Decoding is strict (see [`crate::decode_body`]): each value has exactly
//! one encoding.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::OsBytes;

/// Identifies one process on one channel. Chosen by the parent, unique among
/// the channel's live processes (an id may be reused once its `Exited` or
/// `SpawnFailed` has arrived).
pub type ProcessId = u64;

/// One protocol message, in either direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    // --- handshake ---
    /// Parent → runner, first frame: what the parent speaks and proves.
    Hello(Hello),
    /// Runner → parent, first frame: the handshake succeeded.
    HelloAck(HelloAck),
    /// Runner → parent, first frame: the handshake failed; the runner closes
    /// the channel after sending it.
    HelloReject {
        /// Why, for a human.
        reason: String,
    },

    // --- parent → runner ---
    /// Start a process.
    Spawn(Spawn),
    /// Bytes for a process's stdin (or its terminal's input).
    Stdin {
        /// The process.
        id: ProcessId,
        /// The bytes, as MessagePack `bin`.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// End of input: close the stdin pipe, or send the terminal's EOF
    /// character (`VEOF`, normally Ctrl-D) for a PTY.
    CloseStdin {
        /// The process.
        id: ProcessId,
    },
    /// Set a PTY's window size; the process gets `SIGWINCH`.
    Resize {
        /// The process.
        id: ProcessId,
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
    /// Deliver a signal to the process's group (for a PTY, to the terminal's
    /// foreground process group, as a keyboard would).
    Signal {
        /// The process.
        id: ProcessId,
        /// Which signal.
        signal: Signal,
    },
    /// Kill the process and every descendant, including ones that left its
    /// session or process group.
    Terminate {
        /// The process.
        id: ProcessId,
    },
    /// Ask for one process's [`ProcessStatus`]; answered by `Status`.
    Poll {
        /// The process.
        id: ProcessId,
    },
    /// Ask for every live process; answered by `Processes`.
    List {},
    /// Flow control: the parent's application consumed `bytes` bytes of the
    /// process's output, so the runner may send that many more.
    Ack {
        /// The process.
        id: ProcessId,
        /// Bytes consumed.
        bytes: u64,
    },
    /// Kill every process tree, report their `Exited`, close the channel.
    Shutdown {},

    // --- runner → parent ---
    /// The process started.
    Spawned {
        /// The process.
        id: ProcessId,
        /// Its operating-system pid in the parent's PID namespace.
        pid: u32,
    },
    /// The process could not be started; no `Exited` follows.
    SpawnFailed {
        /// The process.
        id: ProcessId,
        /// What failed.
        error: SpawnError,
    },
    /// A chunk of the process's output, in order.
    Output {
        /// The process.
        id: ProcessId,
        /// Which stream it came from.
        stream: Stream,
        /// The bytes, as MessagePack `bin`.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// Flow control of input: `bytes` of the process's input (from `Stdin`)
    /// are done with: written to the process, or dropped (an `Error` says
    /// why). The parent may have at most `HelloAck.stdin_window` bytes of
    /// input unacknowledged per process.
    StdinAck {
        /// The process.
        id: ProcessId,
        /// Bytes done with.
        bytes: u64,
    },
    /// The process ended; all its output has been sent before this.
    Exited(Exited),
    /// Answer to `Poll`.
    Status(ProcessStatus),
    /// Answer to `List`.
    Processes {
        /// Every process that has been spawned and has not yet been reported
        /// `Exited`.
        processes: Vec<ProcessStatus>,
    },
    /// A request could not be carried out.
    Error {
        /// The process the request named, if any.
        id: Option<ProcessId>,
        /// What kind of failure.
        kind: ErrorKind,
        /// Details, for a human.
        message: String,
    },
}

impl Message {
    /// The message's type name, as it appears on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Hello(_) => "Hello",
            Message::HelloAck(_) => "HelloAck",
            Message::HelloReject { .. } => "HelloReject",
            Message::Spawn(_) => "Spawn",
            Message::Stdin { .. } => "Stdin",
            Message::CloseStdin { .. } => "CloseStdin",
            Message::Resize { .. } => "Resize",
            Message::Signal { .. } => "Signal",
            Message::Terminate { .. } => "Terminate",
            Message::Poll { .. } => "Poll",
            Message::List {} => "List",
            Message::Ack { .. } => "Ack",
            Message::Shutdown {} => "Shutdown",
            Message::Spawned { .. } => "Spawned",
            Message::SpawnFailed { .. } => "SpawnFailed",
            Message::Output { .. } => "Output",
            Message::StdinAck { .. } => "StdinAck",
            Message::Exited(_) => "Exited",
            Message::Status(_) => "Status",
            Message::Processes { .. } => "Processes",
            Message::Error { .. } => "Error",
        }
    }

    /// Every message type name of this protocol version.
    pub const NAMES: &'static [&'static str] = &[
        "Hello",
        "HelloAck",
        "HelloReject",
        "Spawn",
        "Stdin",
        "CloseStdin",
        "Resize",
        "Signal",
        "Terminate",
        "Poll",
        "List",
        "Ack",
        "Shutdown",
        "Spawned",
        "SpawnFailed",
        "Output",
        "StdinAck",
        "Exited",
        "Status",
        "Processes",
        "Error",
    ];
}

/// The parent's opening frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The lowest and highest protocol version the parent speaks.
    pub versions: (u32, u32),
    /// The secret handed to the runner out of band at launch.
    pub token: String,
    /// The largest frame body the parent accepts, in bytes.
    pub max_frame: u32,
    /// Flow-control window per process, in bytes (optional; default
    /// [`crate::DEFAULT_WINDOW`]).
    #[serde(default = "default_window")]
    pub window: u32,
}

fn default_window() -> u32 {
    crate::DEFAULT_WINDOW
}

/// The runner's answer to a good `Hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloAck {
    /// The protocol version both sides now speak.
    pub version: u32,
    /// The runner's program version (`CARGO_PKG_VERSION`).
    pub runner_version: String,
    /// The pid of the process the parent started: the runner's, or its
    /// supervisor's when the sandbox put the runner in a PID namespace.
    /// Killing it ends the sandbox.
    pub pid: u32,
    /// `"linux"`, `"windows"`, … (Rust's `std::env::consts::OS`).
    pub platform: String,
    /// What the runner actually enforces.
    pub sandbox: SandboxReport,
    /// Optional capabilities, by name (`"pty"`, `"tree-kill"`, …).
    pub features: Vec<String>,
    /// The largest frame body either side may send from now on: the smaller
    /// of the parent's and the runner's maximum.
    pub max_frame: u32,
    /// The flow-control window per process in force, in bytes.
    pub window: u32,
    /// Input bytes per process the parent may have sent and not yet seen
    /// acknowledged by `StdinAck` (optional; default
    /// [`crate::DEFAULT_STDIN_WINDOW`]).
    #[serde(default = "default_stdin_window")]
    pub stdin_window: u32,
}

fn default_stdin_window() -> u32 {
    crate::DEFAULT_STDIN_WINDOW
}

/// What confinement is in force around the runner, layer by layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxReport {
    /// The policy the runner was started with (`"full-access"`, …).
    pub policy: String,
    /// One entry per enforcement layer the platform has; empty when the
    /// policy asks for none.
    pub layers: Vec<SandboxLayer>,
    /// One line for a human.
    pub summary: String,
}

/// One enforcement layer's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxLayer {
    /// The layer (`"landlock"`, `"seccomp"`, …).
    pub name: String,
    /// Whether it is in force.
    pub state: LayerState,
    /// Details (ABI version, why it is missing, …).
    pub detail: String,
}

/// Whether a layer is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerState {
    /// Enforced.
    Active,
    /// Enforced in part (e.g. an older ABI without some rules).
    Partial,
    /// Not enforced: the platform lacks it or refused it.
    Unavailable,
    /// Not enforced: the policy does not ask for it.
    NotRequested,
}

/// A terminal size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

impl Default for Size {
    fn default() -> Self {
        Size { rows: 24, cols: 80 }
    }
}

/// Start a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spawn {
    /// Parent-chosen id, unique on this channel.
    pub id: ProcessId,
    /// Program and arguments; `argv[0]` is looked up in the child's `PATH`
    /// unless it contains a `/`.
    pub argv: Vec<OsBytes>,
    /// Working directory (optional; default: the runner's).
    pub cwd: Option<OsBytes>,
    /// The child's complete environment. Nothing of the runner's own
    /// environment is passed on.
    pub env: BTreeMap<OsBytes, OsBytes>,
    /// `Some(size)`: run on a new pseudo-terminal of that size (output comes
    /// as stream `pty`); `None`: pipes.
    pub tty: Option<Size>,
    /// Pipe mode: give the child a stdin pipe (`false`: `/dev/null`). A PTY
    /// always has input.
    pub stdin: bool,
    /// Kill the tree and report `timed_out` after this many milliseconds
    /// (optional).
    pub timeout_ms: Option<u64>,
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output (pipe mode).
    Stdout,
    /// Standard error (pipe mode).
    Stderr,
    /// The terminal (PTY mode; stdout and stderr are one stream there).
    Pty,
}

/// A signal, named portably; each platform maps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// `SIGINT` (Ctrl-C).
    Interrupt,
    /// `SIGTERM`.
    Terminate,
    /// `SIGKILL`.
    Kill,
    /// `SIGHUP`.
    Hangup,
}

/// Why a `Spawn` failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnError {
    /// The class of failure.
    pub kind: SpawnErrorKind,
    /// Details, for a human.
    pub message: String,
    /// The operating system's error code, when there is one.
    pub os_code: Option<i32>,
}

/// The class of a spawn failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpawnErrorKind {
    /// `argv[0]` was not found (on `PATH`, or at the path given).
    NotFound,
    /// `argv[0]` exists but cannot be executed.
    NotExecutable,
    /// The working directory does not exist or is not a directory.
    BadCwd,
    /// The request itself is invalid (empty argv, id in use, NUL bytes, …).
    InvalidRequest,
    /// Any other operating-system failure (see `os_code`).
    Os,
}

/// A process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exited {
    /// The process.
    pub id: ProcessId,
    /// Exit code, if it exited normally.
    pub code: Option<i32>,
    /// Signal number, if a signal ended it.
    pub signal: Option<i32>,
    /// Whether the runner killed it because its timeout expired.
    pub timed_out: bool,
    /// Wall time from spawn to exit, in milliseconds.
    pub duration_ms: u64,
}

/// A snapshot of one process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessStatus {
    /// The process.
    pub id: ProcessId,
    /// Its pid, as in `Spawned`.
    pub pid: u32,
    /// Its argv.
    pub argv: Vec<OsBytes>,
    /// Whether it runs on a PTY.
    pub tty: bool,
    /// `true` until the process has exited.
    pub running: bool,
    /// Milliseconds since it was spawned.
    pub elapsed_ms: u64,
    /// Output bytes sent to the parent and not yet acknowledged.
    pub unacked_bytes: u64,
    /// `true` when the process's terminal or stdin pipe has a reader blocked
    /// on it: a process of the terminal's foreground process group, or any
    /// process reading the stdin pipe, asleep in a read, `poll`, `select` or
    /// `epoll_wait` that waits for that input. Read from the kernel's view
    /// of the processes; only a runner that announces the `awaiting-input`
    /// feature sets it, and a status without the field means `false`.
    #[serde(default)]
    pub awaiting_input: bool,
}

/// The class of an `Error` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The id names no live process.
    UnknownProcess,
    /// The request does not apply to this process (resize of a pipe
    /// process, stdin after `CloseStdin`, …).
    InvalidRequest,
    /// The peer broke the protocol. Without an id (a malformed frame, a
    /// message out of place) the sender closes the channel after this; with
    /// an id (an over-acknowledgement, input past the stdin window) the
    /// request is refused and the channel goes on.
    Protocol,
    /// An operating-system call failed.
    Os,
}
