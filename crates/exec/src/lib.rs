//! Unified-exec sessions for agents, over one cordon [`Sandbox`](cordon::Sandbox).
//!
//! An agent needs two calls, not a process API: "run this and tell me what
//! happened within N ms" ([`ExecSessions::exec_command`]) and "type this
//! into that session and tell me what it printed"
//! ([`ExecSessions::write_stdin`]). Each call returns as soon as it has its
//! answer — the process exited (after all its output), the new output
//! matched [`Until::regex`], output went quiet for [`Until::idle_ms`], or
//! the deadline came — with what arrived since the previous reply of that
//! session, cut to a token budget.
//!
//! Every session keeps a bounded head+tail buffer (its output is drained as
//! it comes, so a fast exit loses nothing and nothing waits for a reader);
//! tty sessions are rendered through a terminal parser, so a model reads
//! lines of text rather than progress-bar redraws and escape sequences, and
//! can ask for the whole screen of a full-screen program. Pipe sessions have
//! a live stdin. Every command gets a non-interactive environment
//! ([`non_interactive_env`]) so that pagers, editors and credential prompts
//! do not wait for a human. Dropping the [`ExecSessions`] kills every tree.
//!
//! ```no_run
//! use cordon::{LaunchOptions, Policy, Sandbox};
//! use cordon_exec::{ExecConfig, ExecRequest, ExecSessions, WriteRequest};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Sandbox::launch(LaunchOptions::new(Policy::full_access())).await?;
//! let sessions = ExecSessions::new(sandbox, ExecConfig::default());
//!
//! let reply = sessions.exec_command(ExecRequest { cmd: "echo hi".into(), ..Default::default() }).await?;
//! assert_eq!(reply.output, "hi\n");
//! assert_eq!(reply.exit_code, Some(0));
//!
//! let cat = sessions.exec_command(ExecRequest { cmd: "cat".into(), ..Default::default() }).await?;
//! let id = cat.session_id.expect("cat waits for input");
//! let reply = sessions
//!     .write_stdin(WriteRequest { session_id: id, chars: "x\n".into(), close_stdin: true, ..Default::default() })
//!     .await?;
//! assert_eq!(reply.output, "x\n");
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod error;
mod render;
mod session;
mod sessions;
mod sys;
mod truncate;
mod types;

pub use error::ExecError;
pub use sessions::{ExecSessions, INTERRUPT, Progress, non_interactive_env};
pub use types::*;
