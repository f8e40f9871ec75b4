//! What differs per platform for sessions. Every platform provides:
//!
//! - `shell_argv(shell, login, cmd, env)`: the argv that runs the shell
//!   string `cmd` (`shell` as the caller named it, or the platform's
//!   default looked up in `env`, the environment the command gets);
//! - `LOGIN_DEFAULT`: what `login` is when the caller does not say;
//! - `working_directory(canonical)`: a canonical directory in the form the
//!   platform's programs accept as their working directory.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;
