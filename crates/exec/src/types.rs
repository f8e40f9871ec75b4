//! Requests, replies and configuration: the values callers build and read.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Default `yield_time_ms` of `exec_command`.
pub const EXEC_YIELD_DEFAULT_MS: u64 = 10_000;
/// Default `yield_time_ms` of `write_stdin` with characters to write.
pub const WRITE_YIELD_DEFAULT_MS: u64 = 250;
/// Default `yield_time_ms` of `write_stdin` that only polls.
pub const POLL_YIELD_DEFAULT_MS: u64 = 5_000;
/// Shortest wait of any call.
pub const MIN_YIELD_MS: u64 = 250;
/// Longest wait of any call, but a poll with `until`.
pub const MAX_YIELD_MS: u64 = 30_000;
/// Longest wait of a poll (`write_stdin` without characters) with `until`.
pub const MAX_UNTIL_POLL_MS: u64 = 300_000;
/// Default `max_output_tokens`.
pub const MAX_OUTPUT_TOKENS_DEFAULT: usize = 10_000;
/// Bytes per token, for budgets and counts.
pub const BYTES_PER_TOKEN: usize = 4;

/// How a set of sessions behaves.
#[derive(Debug, Clone)]
pub struct ExecConfig {
    /// Live sessions at most (default 64).
    pub max_sessions: usize,
    /// The most recently used sessions that pruning never takes (default 8).
    pub keep_recent: usize,
    /// Output kept per session: the first half, then the latest (default 1 MiB).
    pub buffer_bytes: usize,
    /// Working directory of commands that name none (default: the current
    /// directory).
    pub cwd: PathBuf,
    /// Variables set for every command, over the non-interactive defaults
    /// (a `PAGER` here wins over `PAGER=cat`).
    pub env: BTreeMap<String, String>,
    /// Terminal size of tty sessions (default 24 × 80).
    pub tty_size: cordon::Size,
    /// Kills a command's tree after this long (default: never).
    pub command_timeout: Option<std::time::Duration>,
}

impl Default for ExecConfig {
    fn default() -> Self {
        ExecConfig {
            max_sessions: 64,
            keep_recent: 8,
            buffer_bytes: 1 << 20,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            env: BTreeMap::new(),
            tty_size: cordon::Size { rows: 24, cols: 80 },
            command_timeout: None,
        }
    }
}

/// When a call may return before its deadline, besides the process's exit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Until {
    /// Return as soon as the output that arrived since the previous reply
    /// matches this regular expression (Rust `regex` syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Return once output has arrived and then stayed quiet this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_ms: Option<u64>,
}

/// Starts a command in a new session.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// A shell command line.
    pub cmd: String,
    /// Working directory (relative to the configured one), default the
    /// configured one.
    pub workdir: Option<PathBuf>,
    /// Run on a pseudo-terminal (default: pipes).
    pub tty: Option<bool>,
    /// How long to wait for output (default 10 000, clamped to 250..=30 000).
    pub yield_time_ms: Option<u64>,
    /// Budget of the reply's output (default 10 000 tokens of 4 bytes).
    pub max_output_tokens: Option<usize>,
    /// The shell (default `$SHELL`, `/bin/bash`, `/bin/sh`; on Windows
    /// `cmd.exe`, or PowerShell when named).
    pub shell: Option<String>,
    /// Run the shell as a login shell (default true on Unix; Windows shells
    /// have none, and ignore it).
    pub login: Option<bool>,
    /// Return early on a match or on quiet.
    pub until: Option<Until>,
}

/// Writes to a session, or polls it.
#[derive(Debug, Clone, Default)]
pub struct WriteRequest {
    /// The session.
    pub session_id: u32,
    /// What to type; empty polls. `"\u{3}"` alone interrupts.
    pub chars: String,
    /// How long to wait for output (default 250 with chars, 5000 without;
    /// clamped to 250..=30 000, or to 300 000 for a poll with `until`).
    pub yield_time_ms: Option<u64>,
    /// Budget of the reply's output.
    pub max_output_tokens: Option<usize>,
    /// End the input after `chars` (pipes: close; terminal: EOF character).
    pub close_stdin: bool,
    /// Return early on a match or on quiet.
    pub until: Option<Until>,
    /// Return the tty session's current screen instead of the new output.
    pub screen: bool,
}

/// Where a session's process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Running.
    Running,
    /// Ended; `exit_code` says how.
    Exited,
    /// Running and blocked reading its input.
    AwaitingInput,
}

/// Why a call returned when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReturnedBecause {
    /// The process exited (all its output is in the reply).
    Exited,
    /// The new output matched `until.regex`.
    Matched,
    /// Output arrived and then stayed quiet for `until.idle_ms`.
    Idle,
    /// The process is blocked reading its input.
    AwaitingInput,
    /// The wait ran out.
    Deadline,
}

/// The answer to every call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ExecReply {
    /// Six hex digits naming this reply.
    pub chunk_id: String,
    /// Seconds the call took.
    pub wall_time_seconds: f64,
    /// The session, while its process runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<u32>,
    /// Once exited: the exit code (the shell's 128 + N for signal N, 124
    /// for a timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Once exited by a signal: its number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Where the process is.
    pub state: SessionState,
    /// Why the call returned.
    pub returned_because: ReturnedBecause,
    /// What arrived since the previous reply of this session (rendered
    /// text for tty sessions, or the screen when asked for).
    pub output: String,
    /// Tokens of that output before truncation.
    pub original_token_count: usize,
    /// Whether output was cut (by `max_output_tokens` or the buffer bound).
    pub truncated: bool,
}

/// One session, as `list_sessions` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct SessionInfo {
    /// Its id.
    pub session_id: u32,
    /// The command line it runs.
    pub command: String,
    /// Whether it runs on a terminal.
    pub tty: bool,
    /// Where its process is.
    pub state: SessionState,
    /// The process's pid.
    pub pid: u32,
    /// Start, in milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// Last call that touched it, in milliseconds since the Unix epoch.
    pub last_used_unix_ms: u64,
    /// Bytes of output it has written so far.
    pub output_bytes: u64,
}
