//! The platform layer of the runner. Each platform module provides:
//!
//! - `spawn(&SpawnSpec) -> Result<Child, SpawnError>`: start a process on
//!   pipes, a pseudo-terminal, or the runner's own stdio, as a tree of its
//!   own, with only its stdio inherited, dying with the runner.
//! - `Child` (defined here, once): the pid, the `ProcessTree`, and the
//!   runner's ends of its stdio: `InputPipe`, `OutputPipe`s, or a
//!   `Terminal`, all async; with the platform's own `PlatformChild`.
//! - `ProcessTree`: `kill()` the process and every descendant, `signal()` it
//!   the way a terminal would.
//! - `Terminal`: read, write, `resize`, and the input that means end of file.
//! - `Reaper`: hands each spawned child's exit status to whoever watches it
//!   (on Unix it also reaps orphans re-parented to the runner).
//! - `kill_all_descendants()`: the last sweep when the session ends; it
//!   returns once everything it killed is gone (reaped), so that the
//!   runner's exit means its trees are gone.
//! - `startup(...)`: die with the parent, adopt orphans (again after the
//!   sandbox is in force).
//! - `take_secret_env`, `mark_inherited_fds_close_on_exec`: keep what the
//!   runner inherited away from its children.
//! - `Channel`: the channel's inherited handles, adopted before the runtime
//!   starts and turned into async reader and writer halves inside it.
//! - `path_of(&OsBytes)`: the path a `Spawn`'s `cwd` names (any bytes on
//!   Unix; UTF-8 only on Windows, else an `invalid_request` failure).
//! - `Termination`: resolves when the runner is asked to stop (SIGTERM, or
//!   the console closing; nothing for the init of a PID namespace).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use cordon_ipc::{OsBytes, Size, SpawnError, SpawnErrorKind};

// The functions of the contract above, with the signatures every platform
// must give them: a platform that drifts fails to compile here.
const _: fn(&SpawnSpec<'_>) -> Result<Child, SpawnError> = spawn;
const _: fn(&OsBytes) -> Result<PathBuf, SpawnError> = path_of;
const _: fn(Option<u32>) -> anyhow::Result<()> = startup;
const _: fn(&str) -> Option<String> = take_secret_env;
const _: fn() = mark_inherited_fds_close_on_exec;
const _: fn() = kill_all_descendants;
const _: bool = DETECTS_AWAITING_INPUT;

/// A started child: its pid, its tree, and the runner's ends of its stdio,
/// registered with the runtime; one definition, with what only a platform
/// keeps in [`PlatformChild`].
#[derive(Debug)]
pub struct Child {
    /// The child's pid (on Unix also its session and process group id,
    /// except in `Inherit` mode).
    pub pid: u32,
    /// The child and its descendants, to signal and kill (on Windows, its
    /// job).
    pub tree: ProcessTree,
    /// Write end of the stdin pipe.
    pub stdin: Option<InputPipe>,
    /// Read end of the stdout pipe.
    pub stdout: Option<OutputPipe>,
    /// Read end of the stderr pipe.
    pub stderr: Option<OutputPipe>,
    /// The pseudo-terminal or pseudoconsole: read for output, write for
    /// input.
    pub pty: Option<Terminal>,
    /// The child's input (terminal or stdin pipe), to tell whether a
    /// process waits on it; always `None` where that cannot be seen
    /// ([`DETECTS_AWAITING_INPUT`]).
    pub input_watch: Option<InputWatch>,
    /// What only this platform keeps.
    pub platform: PlatformChild,
}

/// How a child's stdio is wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdioMode {
    /// Separate stdout and stderr pipes; a stdin pipe or the null device.
    Pipes {
        /// Whether to give the child a stdin pipe.
        stdin: bool,
    },
    /// A new pseudo-terminal (Unix) or pseudoconsole (Windows) of this size.
    Pty(Size),
    /// The runner's own stdio (and terminal: on Unix in the runner's process
    /// group, so the user's job control keeps working).
    Inherit,
}

/// What to start. Arguments and environment are bytes, as on the wire: a
/// platform that needs text (Windows) refuses bytes that are not UTF-8.
#[derive(Debug, Clone)]
pub struct SpawnSpec<'a> {
    /// Program and arguments.
    pub argv: &'a [OsBytes],
    /// Working directory, if not the runner's (see `path_of`).
    pub cwd: Option<&'a Path>,
    /// The complete environment.
    pub env: &'a BTreeMap<OsBytes, OsBytes>,
    /// Stdio wiring.
    pub stdio: StdioMode,
}

impl SpawnSpec<'_> {
    /// The working directory made absolute (the program is looked up
    /// relative to it, and the child starts in it) and checked to be a
    /// directory; `not_a_directory` is the platform's error code for a path
    /// that is something else.
    pub(crate) fn working_directory(&self, not_a_directory: i32) -> Result<Option<PathBuf>, SpawnError> {
        let Some(cwd) = self.cwd else { return Ok(None) };
        let bad = |message: String, code: Option<i32>| spawn_error(SpawnErrorKind::BadCwd, message, code);
        let cwd = std::path::absolute(cwd)
            .map_err(|err| bad(format!("working directory: {err}"), err.raw_os_error()))?;
        match cwd.metadata() {
            Ok(meta) if meta.is_dir() => Ok(Some(cwd)),
            Ok(_) => Err(bad(
                format!("working directory {} is not a directory", cwd.display()),
                Some(not_a_directory),
            )),
            Err(err) => Err(bad(format!("working directory {}: {err}", cwd.display()), err.raw_os_error())),
        }
    }
}

/// A spawn failure of this kind.
pub(crate) fn spawn_error(kind: SpawnErrorKind, message: String, os_code: Option<i32>) -> SpawnError {
    SpawnError { kind, message, os_code }
}

/// An OS failure while setting a spawn up.
pub(crate) fn io_error(what: &str, err: io::Error) -> SpawnError {
    spawn_error(SpawnErrorKind::Os, format!("{what}: {err}"), err.raw_os_error())
}
