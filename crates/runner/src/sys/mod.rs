//! The platform layer of the runner. Each platform module provides:
//!
//! - `spawn(&SpawnSpec) -> Result<Child, SpawnError>`: start a process on
//!   pipes, a pseudo-terminal, or the runner's own stdio, in its own session,
//!   with only fds 0, 1 and 2, dying with the runner.
//! - `Child`: the pid and the parent ends (`stdin`, `stdout`, `stderr`,
//!   `pty`) as non-blocking fds.
//! - `Reaper`: collects exit statuses of every child of the runner, including
//!   orphans that were re-parented to it, and hands each spawned child's
//!   status to whoever registered for it.
//! - `kill_tree(pid)`: kill a process and every descendant, also those that
//!   left its session.
//! - `signal(&Child, Signal)`, `resize(&Child, Size)`, `eof_bytes(&Child)`.
//! - `startup(...)`: die with the parent, adopt orphans (again after the
//!   sandbox is in force).
//! - `take_secret_env`, `mark_inherited_fds_close_on_exec`: keep what the
//!   runner inherited away from its children.
//! - `Channel`: the channel's inherited fds, adopted before the runtime
//!   starts and turned into async reader and writer halves inside it.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
