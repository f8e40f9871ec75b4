//! Starting the runner on Unix: a socketpair (the runner's end as fd 3) or
//! the runner's stdin and stdout.

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Stdio;

use crate::error::{Error, Result};
use crate::options::Transport;

use super::{Launched, RunnerLaunch};

/// A socketpair: nothing to name, nothing another process can open.
pub(crate) const DEFAULT_TRANSPORT: Transport = Transport::SocketPair;

/// What of the caller's environment the runner inherits.
pub(crate) const RUNNER_ENV_VARS: &[&str] = &["PATH", "HOME", "LANG", "TERM", "CORDON_LOG", "RUST_BACKTRACE"];

/// The started runner.
pub(crate) type Runner = tokio::process::Child;

pub(crate) async fn launch(spec: &RunnerLaunch<'_>) -> Result<Launched> {
    let mut command = tokio::process::Command::new(spec.path);
    command.env_clear().envs(spec.env.iter().map(|(k, v)| (k, v))).args(&spec.args);
    command.stderr(Stdio::inherit()).kill_on_drop(false);
    let start_error = |e| Error::io(format!("cannot start the runner {}", spec.path.display()), e);
    let channel_error = |e| Error::io("cannot set up the channel to the runner", e);
    match spec.transport {
        Transport::SocketPair => {
            let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(channel_error)?;
            let theirs = OwnedFd::from(theirs);
            let raw = theirs.as_raw_fd();
            command.arg("--ipc-fd").arg("3").stdin(Stdio::null()).stdout(Stdio::null());
            // SAFETY: setpgid/dup2/fcntl are async-signal-safe.
            unsafe {
                command.pre_exec(move || {
                    own_process_group()?;
                    let ok = if raw == 3 {
                        nix::libc::fcntl(3, nix::libc::F_SETFD, 0) == 0
                    } else {
                        nix::libc::dup2(raw, 3) == 3
                    };
                    if ok { Ok(()) } else { Err(std::io::Error::last_os_error()) }
                })
            };
            let runner = command.spawn().map_err(start_error)?;
            drop(theirs);
            ours.set_nonblocking(true).map_err(channel_error)?;
            let stream = tokio::net::UnixStream::from_std(ours).map_err(channel_error)?;
            let (reader, writer) = stream.into_split();
            Ok(Launched { runner, reader: Box::new(reader), writer: Box::new(writer) })
        }
        Transport::Stdio => {
            command.arg("--ipc-stdio").stdin(Stdio::piped()).stdout(Stdio::piped());
            // SAFETY: setpgid is async-signal-safe.
            unsafe { command.pre_exec(own_process_group) };
            let mut runner = command.spawn().map_err(start_error)?;
            let writer = runner.stdin.take().expect("piped stdin");
            let reader = runner.stdout.take().expect("piped stdout");
            Ok(Launched { runner, reader: Box::new(reader), writer: Box::new(writer) })
        }
        Transport::NamedPipe => {
            Err(Error::Launch("named pipes are a Windows transport; use a socketpair or stdio".into()))
        }
    }
}

/// Moves the runner out of the caller's process group, so that a
/// terminal's Ctrl-C reaches the caller (which forwards it as a `Signal`)
/// and not the runner. Runs between fork and exec.
fn own_process_group() -> std::io::Result<()> {
    // SAFETY: async-signal-safe system call on the calling process.
    if unsafe { nix::libc::setpgid(0, 0) } == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// The request-file bootstrap: the runner with `args` (its
/// `--request-file`) on the caller's own stdio and terminal; its exit code,
/// or `128 + N` if signal `N` ended it.
pub(crate) async fn run_request_file(spec: &RunnerLaunch<'_>, _request: &std::path::Path) -> Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    let status = tokio::process::Command::new(spec.path)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .args(&spec.args)
        .status()
        .await
        .map_err(|e| Error::io(format!("cannot start the runner {}", spec.path.display()), e))?;
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// Nothing to add here: the probes are the sandbox crate's.
pub(crate) fn checked_probes(probes: Vec<cordon_sandbox::Probe>) -> Vec<cordon_sandbox::Probe> {
    probes
}
