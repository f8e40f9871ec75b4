//! How to start a runner: [`LaunchOptions`] and the choices it holds. Plain
//! values; starting the runner is [`crate::Sandbox::launch`]'s job.

use std::path::PathBuf;
use std::time::Duration;

use cordon_ipc::MAX_FRAME_CAP;
use cordon_sandbox::Policy;

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
    pub(crate) runner: Option<PathBuf>,
    /// Put before the bootstrap's own arguments: the subcommand of a
    /// program that embeds the runner.
    pub(crate) runner_args: Vec<String>,
    pub(crate) policy: Policy,
    /// `None`: the platform's default, which the launch picks.
    pub(crate) transport: Option<Transport>,
    pub(crate) windows_mode: Option<WindowsMode>,
    pub(crate) max_frame: u32,
    pub(crate) window: u32,
    pub(crate) handshake_timeout: Duration,
}

impl LaunchOptions {
    /// Options for a runner under `policy`, with defaults for the rest.
    pub fn new(policy: Policy) -> Self {
        LaunchOptions {
            runner: None,
            runner_args: Vec::new(),
            policy,
            transport: None,
            windows_mode: None,
            max_frame: MAX_FRAME_CAP,
            window: WINDOW,
            handshake_timeout: Duration::from_secs(10),
        }
    }

    /// Uses this runner executable instead of searching for one.
    pub fn runner(mut self, path: impl Into<PathBuf>) -> Self {
        self.runner = Some(path.into());
        self.runner_args.clear();
        self
    }

    /// Uses a program that embeds the runner behind a subcommand: `path`
    /// started with `args`, then the bootstrap's own arguments, must behave
    /// as `cordon-runner` does (as `cordon __runner` does, through
    /// `cordon_runner::command::main`).
    pub fn embedded_runner(
        mut self,
        path: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.runner = Some(path.into());
        self.runner_args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Carries the channel this way (default: a socketpair on Unix, a named
    /// pipe on Windows).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
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
    /// [`Error::RequestTooLarge`](crate::Error::RequestTooLarge).
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
