//! Run untrusted commands inside an operating-system sandbox, and control
//! them from outside it.
//!
//! [`Sandbox::launch`] starts `cordon-runner` under a [`Policy`] and opens a
//! framed channel to it (the wire format is the `cordon-ipc` crate). The
//! runner confines itself before its first request, so everything it spawns
//! lives inside the boundary. Through the channel, one runner runs many
//! processes at once, on pipes (separate stdout and stderr) or on
//! pseudo-terminals: [`Sandbox::spawn`] gives a [`Process`] whose events
//! ([`Event::Output`], then one [`Event::Exited`]) stream as they happen, and
//! which takes input, resizes, signals and kills its whole tree.
//! [`Sandbox::run`] is the one-shot form; [`oneshot`] holds the legacy
//! request-file bootstrap and the exit statuses of one-shot runs, and
//! [`probe`] says what this machine can enforce.
//!
//! If the runner dies, every pending and later call returns
//! [`Error::RunnerGone`] at once; if the parent dies, the runner kills every
//! process it started.
//!
//! ```
//! use cordon::{Command, Event, LaunchOptions, Policy, Sandbox, Stream};
//! # fn runner() -> std::path::PathBuf {
//! #     let target = option_env!("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| {
//! #         std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
//! #     });
//! #     target.join("debug/cordon-runner")
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), cordon::Error> {
//! let sandbox = Sandbox::launch(LaunchOptions::new(Policy::full_access()).runner(runner())).await?;
//!
//! // One-shot: run to the end, collect the output.
//! let out = sandbox.run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"])).await?;
//! assert_eq!(out.stdout, b"out\n");
//! assert_eq!(out.stderr, b"err\n");
//! assert_eq!(out.status.code, Some(3));
//!
//! // Interactive: feed stdin over time, read output as it comes.
//! let mut cat = sandbox.spawn(Command::new("cat").stdin(true)).await?;
//! cat.write_stdin("hello\n").await?;
//! match cat.next_event().await? {
//!     Some(Event::Output { stream: Stream::Stdout, data }) => assert_eq!(data, b"hello\n"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! cat.close_stdin().await?;
//! assert!(cat.wait().await?.success());
//!
//! sandbox.shutdown().await?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod capture;
mod command;
mod connection;
mod error;
mod event;
mod launch;
pub mod oneshot;
mod options;
pub mod probe;
mod process;
mod sandbox;
mod sys;

pub use capture::{DEFAULT_OUTPUT_LIMIT, HeadTail, Since};
pub use command::{Command, utf8_environment};
pub use cordon_ipc::{
    ErrorKind, HelloAck, OsBytes, ProcessStatus, SandboxReport, Signal, Size, SpawnErrorKind, Stream,
};
pub use cordon_sandbox::{
    DEFAULT_FILE_SIZE, DEFAULT_PROCESSES, DEFAULT_PROTECTED_NAMES, Limits, MIN_MEMORY, MIN_OPEN_FILES,
    Policy, PolicyBuilder, Preset, SYSTEM_DIRECTORIES, SYSTEM_TREES, UnknownPolicy, git, named_current_dir,
};
pub use error::{Error, HandshakeError, Result, RunnerGone};
pub use event::{Event, ExitStatus, Output, ProcessState};
pub use launch::{RUNNER_ENV, locate_runner, runner_environment};
pub use oneshot::run_request_file;
pub use options::{LaunchOptions, Transport, WINDOW, WindowsMode};
pub use process::{Process, StdinWriter};
pub use sandbox::Sandbox;
