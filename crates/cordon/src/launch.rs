//! Starting a runner: finding its executable, choosing what it inherits,
//! starting it in its sandbox context through [`sys`], and the handshake
//! that turns the started runner into a live [`Connection`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use cordon_ipc::{Hello, HelloAck, MIN_MAX_FRAME, Message, MessageCodec, SUPPORTED_VERSIONS, TOKEN_ENV};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{FramedRead, FramedWrite};
use tracing::Instrument;

use crate::connection::Connection;
use crate::error::{Error, HandshakeError, Result};
use crate::options::LaunchOptions;
use crate::sys;

/// The environment variable naming the runner executable, overriding the
/// search next to the current executable.
pub const RUNNER_ENV: &str = "CORDON_RUNNER";

/// A runner that answered the handshake, and the channel to it.
pub(crate) struct Started {
    pub runner: sys::Runner,
    pub conn: Connection,
    pub info: HelloAck,
    /// The runner's span, `sandbox{runner, runner_pid}`: the launch, the
    /// handshake, the channel's tasks and every process live inside it.
    pub span: tracing::Span,
}

/// Finds the runner: `$CORDON_RUNNER` if set, else `cordon-runner` next to
/// the current executable (or one directory up, where Cargo puts binaries
/// relative to test executables).
pub fn locate_runner(explicit: Option<PathBuf>) -> Result<PathBuf> {
    let mut looked = Vec::new();
    let candidates: Vec<PathBuf> = if let Some(path) = explicit {
        vec![path]
    } else if let Some(path) = std::env::var_os(RUNNER_ENV) {
        vec![PathBuf::from(path)]
    } else {
        let exe = std::env::current_exe().map_err(|e| Error::io("cannot find the current executable", e))?;
        let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
        let name = format!("cordon-runner{}", std::env::consts::EXE_SUFFIX);
        let mut c = vec![dir.join(&name)];
        if let Some(up) = dir.parent() {
            c.push(up.join(&name));
        }
        c
    };
    for candidate in candidates {
        if candidate.is_file() {
            return Ok(candidate);
        }
        looked.push(candidate);
    }
    Err(Error::RunnerNotFound { looked })
}

/// What the runner inherits: only what it needs to start and to log.
pub fn runner_environment() -> Vec<(String, String)> {
    sys::RUNNER_ENV_VARS
        .iter()
        .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
        .collect()
}

/// What `sys` starts: the options' runner and context, the platform's
/// transport unless the options chose one.
pub(crate) fn runner_launch<'a>(
    options: &'a LaunchOptions,
    path: &'a Path,
    args: Vec<String>,
    env: Vec<(String, String)>,
) -> sys::RunnerLaunch<'a> {
    sys::RunnerLaunch {
        path,
        args: options.runner_args.iter().cloned().chain(args).collect(),
        env,
        transport: options.transport.unwrap_or(sys::DEFAULT_TRANSPORT),
        windows_mode: options.windows_mode,
        policy: &options.policy,
        connect_timeout: options.handshake_timeout,
    }
}

/// Starts a runner under the options' policy and completes the handshake.
pub(crate) async fn start(options: &LaunchOptions) -> Result<Started> {
    let runner_path = locate_runner(options.runner.clone())?;
    let span = tracing::info_span!(
        "sandbox",
        runner = %runner_path.display(),
        runner_pid = tracing::field::Empty,
    );
    let token = new_token()?;
    let policy_json = serde_json::to_string(&options.policy)
        .map_err(|e| Error::Launch(format!("cannot encode the policy: {e}")))?;
    // The runner shares its sandbox with the commands, so it gets no
    // more of the parent's environment than a command would: secrets
    // must not be readable from its environment.
    let mut env = runner_environment();
    env.push((TOKEN_ENV.to_string(), token.clone()));
    let args =
        vec!["--policy-json".into(), policy_json, "--parent-pid".into(), std::process::id().to_string()];
    let spec = runner_launch(options, &runner_path, args, env);
    let launch_span = tracing::info_span!(parent: &span, "launch", transport = ?spec.transport);
    let launched = sys::launch(&spec).instrument(launch_span.clone()).await.inspect_err(|err| {
        tracing::debug!(parent: &launch_span, error = %err, "the runner did not start");
    })?;
    if let Some(pid) = launched.runner.id() {
        span.record("runner_pid", pid);
    }
    let handshake_span = tracing::info_span!(parent: &span, "handshake");
    let (runner, conn, info) =
        handshake(launched.runner, launched.reader, launched.writer, token, options, span.clone())
            .instrument(handshake_span)
            .await?;
    Ok(Started { runner, conn, info, span })
}

async fn handshake<R, W>(
    mut runner: sys::Runner,
    reader: R,
    writer: W,
    token: String,
    options: &LaunchOptions,
    span: tracing::Span,
) -> Result<(sys::Runner, Connection, HelloAck)>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // Room for a few whole output frames per read.
    let mut frames = FramedRead::with_capacity(reader, MessageCodec::new(options.max_frame), 256 * 1024);
    let mut sink = FramedWrite::new(writer, MessageCodec::new(options.max_frame));
    let hello =
        Hello { versions: SUPPORTED_VERSIONS, token, max_frame: options.max_frame, window: options.window };
    let exchange = async {
        sink.send(Message::Hello(hello)).await?;
        match frames.next().await {
            Some(Ok(Message::HelloAck(ack))) => Ok(ack),
            Some(Ok(Message::HelloReject { reason })) => Err(HandshakeError::Rejected { reason }),
            Some(Ok(other)) => Err(HandshakeError::Unexpected(other.name())),
            Some(Err(err)) => Err(HandshakeError::Channel(err)),
            None => Err(HandshakeError::Closed),
        }
    };
    let outcome = match tokio::time::timeout(options.handshake_timeout, exchange).await {
        Ok(outcome) => outcome,
        Err(_) => Err(HandshakeError::TimedOut(options.handshake_timeout)),
    };
    let ack = outcome.and_then(|ack| {
        // The runner lives inside the sandbox: never take its word for a
        // larger frame than we asked for, nor one too small to work with.
        if !(SUPPORTED_VERSIONS.0..=SUPPORTED_VERSIONS.1).contains(&ack.version) {
            Err(HandshakeError::Version(ack.version))
        } else if ack.max_frame.min(options.max_frame) < MIN_MAX_FRAME || ack.window == 0 {
            Err(HandshakeError::Unusable { max_frame: ack.max_frame, window: ack.window })
        } else {
            Ok(ack)
        }
    });
    let ack = match ack {
        Ok(ack) => ack,
        Err(failure) => {
            let _ = runner.start_kill();
            let runner_status = match tokio::time::timeout(Duration::from_secs(1), runner.wait()).await {
                Ok(Ok(status)) => Some(status),
                _ => None,
            };
            tracing::debug!(%failure, "handshake failed");
            return Err(Error::Handshake { failure, runner_status });
        }
    };
    let max_frame = ack.max_frame.min(options.max_frame);
    frames.decoder_mut().set_max_frame(max_frame);
    sink.encoder_mut().set_max_frame(max_frame);
    tracing::debug!(
        version = ack.version,
        runner_version = %ack.runner_version,
        platform = %ack.platform,
        max_frame,
        window = ack.window,
        "handshake done"
    );
    let conn = Connection::start(frames, sink, max_frame, ack.window, stdin_window(&ack), span);
    Ok((runner, conn, ack))
}

/// The input credit per process: the runner's `stdin_window` if it
/// acknowledges input (feature `stdin-ack`), else unlimited.
fn stdin_window(ack: &HelloAck) -> u32 {
    if ack.features.iter().any(|f| f == "stdin-ack") { ack.stdin_window.max(1) } else { u32::MAX }
}

/// 32 random bytes, hex-encoded.
fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Launch(format!("no randomness for the token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
