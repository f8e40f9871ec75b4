//! The user's terminal and process signals, per platform. Each platform
//! module provides:
//!
//! - `RawMode::enable()`: the terminal in raw mode (keys go to the sandboxed
//!   command as typed), undone on drop and on panic.
//! - `current_size()`: the size of the user's terminal, if there is one.
//! - `Interrupts`: what the user or the system asks of the command while it
//!   runs (interrupt, terminate, hang up, the terminal resized).
//! - `private_dir(prefix)`: a new temp directory only the user can enter
//!   (a `PrivateDir`).
//! - `sandbox_temp(preset)`: the sandbox's `TMPDIR` (a [`SandboxTemp`]),
//!   and `TEMP_VARIABLES`, the variables that name it.
//! - `create_private(path)`: a new file only the user can read.
//! - `shell()`: the default shell of `cordon shell`.
//! - `ignore_terminal_interrupts()`: for the request-file bootstrap, whose
//!   command shares cordon's terminal and gets the user's Ctrl-C itself.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

/// What the user or the system asks of the running command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Ctrl-C.
    Interrupt,
    /// A request to terminate cordon.
    Terminate,
    /// The terminal went away.
    Hangup,
    /// The terminal's size changed.
    Resize,
}

/// Where the sandbox's temporary files go.
#[derive(Debug)]
pub enum SandboxTemp {
    /// No `TMPDIR` of the sandbox's own.
    None,
    /// A directory of the sandbox's own that is not on the host (Linux: its
    /// mount namespace's private `/tmp`), gone with it, so nothing is left
    /// behind even when cordon is killed.
    #[cfg_attr(windows, allow(dead_code))]
    Private(&'static str),
    /// A private directory of the host's, a writable root of the policy.
    #[cfg_attr(unix, allow(dead_code))]
    Host(PrivateDir),
}

impl SandboxTemp {
    /// The sandbox's `TMPDIR`.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            SandboxTemp::None => None,
            SandboxTemp::Private(path) => Some(std::path::Path::new(path)),
            SandboxTemp::Host(dir) => Some(dir.path()),
        }
    }

    /// The variables that name it for the sandbox's programs
    /// ([`TEMP_VARIABLES`]: `TMPDIR`, and on Windows `TEMP` and `TMP`,
    /// which its programs read instead).
    pub fn variables(&self) -> Vec<(String, String)> {
        let Some(path) = self.path() else { return Vec::new() };
        TEMP_VARIABLES.iter().map(|name| (name.to_string(), path.display().to_string())).collect()
    }

    /// The host directory to make a writable root, if any.
    pub fn host_dir(&self) -> Option<&std::path::Path> {
        match self {
            SandboxTemp::Host(dir) => Some(dir.path()),
            _ => None,
        }
    }
}
