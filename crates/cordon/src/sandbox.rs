//! Launching a runner and talking to it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cordon_ipc::{
    Hello, HelloAck, MAX_FRAME_CAP, MIN_MAX_FRAME, Message, MessageCodec, ProcessStatus, SUPPORTED_VERSIONS,
    TOKEN_ENV,
};
use cordon_sandbox::Policy;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::connection::Connection;
use crate::process::{Command, Output, Process};
use crate::{Error, Result, sys};

/// The environment variable naming the runner executable, overriding the
/// search next to the current executable.
pub const RUNNER_ENV: &str = "CORDON_RUNNER";

/// The output flow-control window the client asks for per process: 1 MiB,
/// four times the protocol's default. With 256 KiB a fast writer outran the
/// acknowledgements: `cordon-bench`, interleaved, measured 348–512 MiB/s
/// through the runner with 256 KiB and 501–709 MiB/s with 1 MiB.
pub const WINDOW: u32 = 1 << 20;

/// How the channel to the runner is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A socketpair; the runner inherits its end as fd 3 (`--ipc-fd 3`).
    /// Unix only; the default there.
    SocketPair,
    /// A named pipe the parent creates for the runner's identity alone
    /// (`--pipe NAME`). Windows only; the default there.
    NamedPipe,
    /// The runner's stdin and stdout (`--ipc-stdio`).
    Stdio,
}

impl Default for Transport {
    fn default() -> Self {
        sys::DEFAULT_TRANSPORT
    }
}

/// Which security context the runner is started in on Windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowsMode {
    /// As a dedicated local sandbox user created by `cordon setup`
    /// (the offline one for a policy without network).
    Elevated,
    /// As the current user under a write-restricted token: writes succeed
    /// only where a writable root's capability SID is granted.
    RestrictedToken,
}

/// How to start a runner.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    runner: Option<PathBuf>,
    policy: Policy,
    transport: Transport,
    windows_mode: Option<WindowsMode>,
    max_frame: u32,
    window: u32,
    handshake_timeout: Duration,
}

impl LaunchOptions {
    /// Options for a runner under `policy`, with defaults for the rest.
    pub fn new(policy: Policy) -> Self {
        LaunchOptions {
            runner: None,
            policy,
            transport: Transport::default(),
            windows_mode: None,
            max_frame: MAX_FRAME_CAP,
            window: WINDOW,
            handshake_timeout: Duration::from_secs(10),
        }
    }

    /// Uses this runner executable instead of searching for one.
    pub fn runner(mut self, path: impl Into<PathBuf>) -> Self {
        self.runner = Some(path.into());
        self
    }

    /// Carries the channel this way.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// The security context of the runner on Windows (ignored elsewhere).
    /// Without it: elevated once `cordon setup` has run, restricted-token
    /// until then.
    pub fn windows_mode(mut self, mode: WindowsMode) -> Self {
        self.windows_mode = Some(mode);
        self
    }

    /// Largest frame body to propose in the handshake (default and most:
    /// [`cordon_ipc::MAX_FRAME_CAP`], 64 MiB; the runner may lower it).
    /// Requests that would not fit in the agreed maximum fail with
    /// [`Error::RequestTooLarge`].
    pub fn max_frame(mut self, bytes: u32) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Flow-control window per process (default [`WINDOW`]).
    pub fn window(mut self, bytes: u32) -> Self {
        self.window = bytes;
        self
    }

    /// How long the runner has to start and answer the handshake.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
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
        let exe = std::env::current_exe().map_err(|e| Error::Launch(format!("current executable: {e}")))?;
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

/// A runner inside its sandbox, and the channel to it.
///
/// Dropping a `Sandbox` closes the channel, even while `Process` handles
/// remain: the runner kills every process it started and exits, and the
/// remaining handles report [`Error::RunnerGone`]. [`Sandbox::shutdown`]
/// does the same in order and waits for it.
///
/// The runner is started with `PR_SET_PDEATHSIG`, which Linux ties to the
/// *thread* that started it: launch from a thread that outlives the sandbox
/// (the main thread or a runtime worker, not a `spawn_blocking` thread).
#[derive(Debug)]
pub struct Sandbox {
    conn: Arc<Connection>,
    runner: sys::Runner,
    info: HelloAck,
    policy: Policy,
    next_id: AtomicU64,
}

impl Sandbox {
    /// Starts a runner under the options' policy and completes the
    /// handshake.
    pub async fn launch(options: LaunchOptions) -> Result<Sandbox> {
        let runner_path = locate_runner(options.runner.clone())?;
        let token = new_token()?;
        let policy_json = serde_json::to_string(&options.policy).map_err(|e| Error::Launch(e.to_string()))?;
        // The runner shares its sandbox with the commands, so it gets no
        // more of the parent's environment than a command would: secrets
        // must not be readable from its environment.
        let mut env = runner_environment();
        env.push((TOKEN_ENV.to_string(), token.clone()));
        let spec = sys::RunnerLaunch {
            path: &runner_path,
            args: vec![
                "--policy-json".into(),
                policy_json,
                "--parent-pid".into(),
                std::process::id().to_string(),
            ],
            env,
            transport: options.transport,
            windows_mode: options.windows_mode,
            policy: &options.policy,
            connect_timeout: options.handshake_timeout,
        };
        let launched = sys::launch(&spec).await?;
        Self::handshake(launched.runner, launched.reader, launched.writer, token, &options).await
    }

    async fn handshake<R, W>(
        mut runner: sys::Runner,
        reader: R,
        writer: W,
        token: String,
        options: &LaunchOptions,
    ) -> Result<Sandbox>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        // Room for a few whole output frames per read.
        let mut frames = FramedRead::with_capacity(reader, MessageCodec::new(options.max_frame), 256 * 1024);
        let mut sink = FramedWrite::new(writer, MessageCodec::new(options.max_frame));
        let hello = Hello {
            versions: SUPPORTED_VERSIONS,
            token,
            max_frame: options.max_frame,
            window: options.window,
        };
        let exchange = async {
            sink.send(Message::Hello(hello)).await.map_err(|e| e.to_string())?;
            match frames.next().await {
                Some(Ok(Message::HelloAck(ack))) => Ok(ack),
                Some(Ok(Message::HelloReject { reason })) => Err(format!("rejected: {reason}")),
                Some(Ok(other)) => Err(format!("expected HelloAck, got {}", other.name())),
                Some(Err(err)) => Err(err.to_string()),
                None => Err("the runner closed the channel".to_string()),
            }
        };
        let outcome = match tokio::time::timeout(options.handshake_timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {:?}", options.handshake_timeout)),
        };
        let ack = match outcome {
            Ok(ack) => ack,
            Err(reason) => {
                let _ = runner.start_kill();
                let status = tokio::time::timeout(Duration::from_secs(1), runner.wait()).await;
                let suffix = match status {
                    Ok(Ok(status)) => format!(" (runner {status})"),
                    _ => String::new(),
                };
                return Err(Error::Handshake(format!("{reason}{suffix}")));
            }
        };
        if !(SUPPORTED_VERSIONS.0..=SUPPORTED_VERSIONS.1).contains(&ack.version) {
            let _ = runner.start_kill();
            return Err(Error::Handshake(format!("the runner chose unsupported version {}", ack.version)));
        }
        // The runner lives inside the sandbox: never take its word for a
        // larger frame than we asked for, nor one too small to work with.
        let max_frame = ack.max_frame.min(options.max_frame);
        if max_frame < MIN_MAX_FRAME || ack.window == 0 {
            let _ = runner.start_kill();
            return Err(Error::Handshake(format!(
                "the runner chose an unusable max_frame {} / window {}",
                ack.max_frame, ack.window
            )));
        }
        frames.decoder_mut().set_max_frame(max_frame);
        sink.encoder_mut().set_max_frame(max_frame);
        let conn = Arc::new(Connection::start(frames, sink, max_frame, ack.window, stdin_window(&ack)));
        Ok(Sandbox { conn, runner, info: ack, policy: options.policy.clone(), next_id: AtomicU64::new(1) })
    }

    /// The policy the runner enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What the runner said in the handshake: its version, pid, platform,
    /// and what it enforces.
    pub fn info(&self) -> &HelloAck {
        &self.info
    }

    /// Starts a process.
    pub async fn spawn(&self, command: Command) -> Result<Process> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let tty = command.tty.is_some();
        let spawn = command.into_spawn(id, &self.policy.env)?;
        let (pid, events, shared) = self.conn.spawn(spawn).await?;
        Ok(Process::new(id, pid, tty, self.conn.clone(), events, shared))
    }

    /// Runs a command to its end and collects its output, bounded as
    /// [`Process::output`] bounds it.
    pub async fn run(&self, command: Command) -> Result<Output> {
        self.spawn(command).await?.output().await
    }

    /// Every process the runner is running.
    pub async fn list(&self) -> Result<Vec<ProcessStatus>> {
        self.conn.list().await
    }

    /// Kills every process tree, closes the channel and waits for the runner
    /// to exit.
    pub async fn shutdown(mut self) -> Result<()> {
        let _ = self.conn.send(Message::Shutdown {});
        self.conn.closed().await;
        self.runner.wait().await.map_err(|e| Error::Launch(format!("waiting for the runner: {e}")))?;
        Ok(())
    }

    /// Resolves when the channel to the runner is closed (the runner exited
    /// or was killed).
    pub async fn closed(&self) {
        self.conn.closed().await
    }

    /// The runner's pid.
    pub fn runner_pid(&self) -> Option<u32> {
        self.runner.id()
    }
}

/// The input credit per process: the runner's `stdin_window` if it
/// acknowledges input (feature `stdin-ack`), else unlimited.
fn stdin_window(ack: &HelloAck) -> u32 {
    if ack.features.iter().any(|f| f == "stdin-ack") { ack.stdin_window.max(1) } else { u32::MAX }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.conn.close();
    }
}

/// Runs the legacy request-file bootstrap: starts a runner under the
/// options' runner, policy context (on Windows: the restricted token or the
/// sandbox user) and `--request-file request`, with the caller's stdin,
/// stdout and stderr (on Windows carried through named pipes created for
/// the runner's identity), and returns its exit status in the shell's
/// convention. The file must hold a `OneShotRequest` under the same policy;
/// the runner deletes it on reading.
pub async fn run_request_file(options: &LaunchOptions, request: &std::path::Path) -> Result<i32> {
    let runner_path = locate_runner(options.runner.clone())?;
    let spec = sys::RunnerLaunch {
        path: &runner_path,
        args: vec![
            "--request-file".into(),
            request.to_string_lossy().into_owned(),
            "--parent-pid".into(),
            std::process::id().to_string(),
        ],
        env: runner_environment(),
        transport: options.transport,
        windows_mode: options.windows_mode,
        policy: &options.policy,
        connect_timeout: options.handshake_timeout,
    };
    sys::run_request_file(&spec).await
}

/// What the runner inherits: only what it needs to start and to log.
pub fn runner_environment() -> Vec<(String, String)> {
    sys::RUNNER_ENV_VARS
        .iter()
        .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
        .collect()
}

/// 32 random bytes, hex-encoded.
fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Launch(format!("no randomness for the token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
