//! The one-shot request-file bootstrap, and the exit statuses every
//! one-shot run reports in.
//!
//! The legacy path for environments without a two-way channel: the parent
//! writes a [`OneShotRequest`] as JSON into a private file (directory 0700,
//! file 0600) and [`run_request_file`] starts the runner on it with the
//! caller's own stdio. The runner reads and deletes the file, confines
//! itself, runs the one command and exits with [`exit_code`] of its end,
//! which [`run_request_file`] returns. A one-shot run over the IPC channel
//! reports the same statuses: [`crate::ExitStatus::exit_code`] for a process
//! that ran, [`spawn_failure_exit_code`] for one that could not start.

use std::path::Path;

pub use cordon_ipc::oneshot::{
    EXIT_CORDON_FAILED, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_TIMED_OUT, exit_code,
    spawn_failure_exit_code,
};

use crate::error::Result;
use crate::options::LaunchOptions;
use crate::{launch, sys};

/// What a request file holds: the command, its complete environment, its
/// timeout, and the [`Policy`](crate::Policy) it runs under.
pub type OneShotRequest = cordon_ipc::oneshot::OneShotRequest<cordon_sandbox::Policy>;

/// Runs the legacy request-file bootstrap: starts a runner under the
/// options' runner, policy context (on Windows: the restricted token or the
/// sandbox user) and `--request-file request`, with the caller's stdin,
/// stdout and stderr (on Windows carried through named pipes created for
/// the runner's identity), and returns its exit status in the shell's
/// convention. The file must hold a [`OneShotRequest`] under the same policy;
/// the runner deletes it on reading.
pub async fn run_request_file(options: &LaunchOptions, request: &Path) -> Result<i32> {
    let runner_path = launch::locate_runner(options.runner.clone())?;
    let args = vec![
        "--request-file".into(),
        request.to_string_lossy().into_owned(),
        "--parent-pid".into(),
        std::process::id().to_string(),
    ];
    let spec = launch::runner_launch(options, &runner_path, args, launch::runner_environment());
    sys::run_request_file(&spec, request).await
}
