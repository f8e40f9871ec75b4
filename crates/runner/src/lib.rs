//! `cordon-runner`: the helper that lives inside cordon's sandbox.
//!
//! The parent starts the runner in the sandbox context; the runner confines
//! itself before it reads its first request ([`cordon_sandbox::enforce`]),
//! then serves one channel ([`session::serve`]): it spawns processes on pipes
//! or pseudo-terminals, streams their output under flow control, feeds their
//! input, resizes, signals and kills whole trees, and reports every exit. The
//! legacy one-shot path ([`request_file::run`]) runs one command with the
//! runner's own stdio instead.
//!
//! When the channel closes, the runner kills everything it started and
//! exits; when its parent dies, it gets `SIGTERM` and does the same.

#![warn(missing_docs)]

pub mod command;
pub mod process;
pub mod request_file;
pub mod session;
pub mod sys;
