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
//! - `startup(...)`: die with the parent, adopt orphans.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
