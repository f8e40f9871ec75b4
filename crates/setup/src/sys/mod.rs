//! The machine, per platform. Each platform module provides:
//!
//! - `System`: a unit struct implementing [`Host`](crate::host::Host), the
//!   machine this process runs on; `System::new()` fails where setup cannot
//!   run (elsewhere than Windows, with `NotWindows`). Its `protect` and
//!   `unprotect` are DPAPI for the calling user, and need no `new()`.
//! - `elevate_and_wait(&[String]) -> Result<i32, SetupError>`: run this
//!   executable again, elevated, and wait for it.
//! - `keep_from_sandbox(&Path) -> io::Result<()>`: keep a file or directory
//!   (and what is created in it) from being read by a Low-integrity
//!   process: the restricted-token sandbox runs as the same user and could
//!   otherwise decrypt what DPAPI protects for that user.

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::{System, elevate_and_wait, keep_from_sandbox};

#[cfg(not(windows))]
mod unsupported;
#[cfg(not(windows))]
pub(crate) use unsupported::{System, elevate_and_wait, keep_from_sandbox};
