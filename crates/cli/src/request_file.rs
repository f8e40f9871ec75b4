//! `--bootstrap request-file`: the legacy one-shot path. The request goes
//! into a private file (directory 0700, file 0600); the runner reads and
//! deletes it and runs the command on cordon's own stdio. The modes keep
//! other users out; other sandboxes, which run as the same user, do not
//! see the directory at all while it is in the host's temp dir (`/tmp`):
//! each has a `/tmp` of its own.

use std::ffi::OsString;
use std::io::Write;

use anyhow::Context as _;
use cordon::oneshot::OneShotRequest;

use crate::options::{Prepared, SandboxArgs};

/// Runs `argv` through a request file and returns the runner's exit status.
pub fn run(args: &SandboxArgs, prepared: &Prepared, argv: &[OsString]) -> anyhow::Result<i32> {
    if args.explain {
        crate::session::explain(&prepared.policy, None);
    }
    let options = crate::runner::launch_options(prepared.policy.clone())?;
    // JSON carries text; the IPC channel carries any bytes.
    let argv = argv
        .iter()
        .map(|arg| {
            arg.to_str().map(str::to_string).with_context(|| {
                format!(
                    "argument {arg:?} is not valid UTF-8: the request file holds text (use the IPC bootstrap)"
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let request = OneShotRequest {
        argv,
        cwd: args.cwd.as_ref().map(|p| p.to_string_lossy().into_owned()),
        env: prepared.env.clone(),
        timeout_ms: args.timeout.map(|t| t.as_millis() as u64),
        policy: prepared.policy.clone(),
    };
    let dir = crate::sys::private_dir("cordon-request-").context("creating a private directory")?;
    let path = dir.path().join("request.json");
    let mut file =
        crate::sys::create_private(&path).with_context(|| format!("creating {}", path.display()))?;
    serde_json::to_writer(&mut file, &request)?;
    file.flush()?;
    drop(file);

    // The terminal's Ctrl-C reaches the command; cordon waits for the
    // runner to report.
    crate::sys::ignore_terminal_interrupts();
    let mut options = options;
    if let Some(mode) = args.windows_mode {
        options = options.windows_mode(mode.into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let code = runtime.block_on(cordon::oneshot::run_request_file(&options, &path));
    // A read of cordon's stdin may still be blocked in a runtime thread.
    runtime.shutdown_background();
    Ok(code?)
}
