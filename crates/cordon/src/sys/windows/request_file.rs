//! The request-file bootstrap on Windows: the caller's stdio pumped
//! through three pipes made for the runner's identity.

use std::os::windows::io::OwnedHandle;
use std::path::Path;
use std::time::Duration;

use windows_sys::Win32::Storage::FileSystem::SECURITY_IDENTIFICATION;

use super::identity::context;
use super::launch_error;
use super::pipe::random_hex;
use super::start::inheritable;
use crate::sys::RunnerLaunch;
use crate::{Error, Result};

/// The request-file bootstrap: starts the runner in its context with
/// `args` (its `--request-file`) on three named pipes created for its
/// identity, pumps the caller's stdin, stdout and stderr through them, and
/// returns the runner's exit code. (A runner that is another user cannot
/// be handed the caller's own console or handles.)
pub(crate) async fn run_request_file(spec: &RunnerLaunch<'_>, request: &Path) -> Result<i32> {
    use tokio::io::AsyncWriteExt;
    let mut context = context(spec)?;
    context.grant_request_file(request)?;
    let base = format!(r"\\.\pipe\cordon-{}-{}", std::process::id(), random_hex()?);
    let names = ["stdin", "stdout", "stderr"].map(|stream| format!("{base}-{stream}"));
    let mut stdin = context.pipe(&names[0], false, true)?;
    let stdout = context.pipe(&names[1], true, false)?;
    let stderr = context.pipe(&names[2], true, false)?;
    // The runner's ends: synchronous handles, as a program expects its
    // standard handles to be. Opened for identification only: whoever
    // holds the server end may learn who the client is, never act as it.
    let open = |name: &str, read: bool| -> Result<OwnedHandle> {
        use std::os::windows::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(read)
            .write(!read)
            .security_qos_flags(SECURITY_IDENTIFICATION)
            .open(name)
            .map_err(|e| launch_error(&format!("opening {name}"), e))?;
        inheritable(file.into()).map_err(|e| launch_error("inheritable pipe end", e))
    };
    let ends = [open(&names[0], true)?, open(&names[1], false)?, open(&names[2], false)?];
    // The ends are connected already; this completes the servers' side.
    for (server, name) in [&stdin, &stdout, &stderr].into_iter().zip(&names) {
        server.connect().await.map_err(|e| launch_error(&format!("connecting {name}"), e))?;
    }
    let mut runner = context.start(spec, &spec.args, Some(ends))?;
    runner.hold(std::mem::take(&mut context.placeholders));
    let pump_in = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut stdin).await;
        let _ = stdin.shutdown().await;
    });
    let pump_out = tokio::spawn(async move {
        let mut stdout = stdout;
        let _ = tokio::io::copy(&mut stdout, &mut tokio::io::stdout()).await;
    });
    let pump_err = tokio::spawn(async move {
        let mut stderr = stderr;
        let _ = tokio::io::copy(&mut stderr, &mut tokio::io::stderr()).await;
    });
    let status = runner.wait().await.map_err(|e| Error::io("waiting for the runner", e))?;
    // Everything the command wrote is in the pipes once the runner is gone.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = pump_out.await;
        let _ = pump_err.await;
    })
    .await;
    pump_in.abort();
    Ok(status.code().unwrap_or(cordon_ipc::oneshot::EXIT_CORDON_FAILED))
}
