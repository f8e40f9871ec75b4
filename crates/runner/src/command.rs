//! The runner's command line: parse the bootstrap, confine, serve.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::session::{self, SessionConfig};
use crate::sys;
use anyhow::Context;
use clap::{ArgGroup, Parser};
use cordon_ipc::{MAX_FRAME_CAP, MIN_MAX_FRAME, TOKEN_ENV, oneshot::EXIT_CORDON_FAILED};
use cordon_sandbox::Policy;

/// The helper that lives inside cordon's sandbox. It is started by `cordon`
/// (or the cordon library), not by hand.
#[derive(Debug, Parser)]
#[command(name = "cordon-runner", version, about)]
#[command(group(ArgGroup::new("bootstrap").required(true).args(["ipc_fd", "pipe", "ipc_stdio", "request_file"])))]
struct Args {
    /// Serve the channel on this inherited socket fd.
    #[arg(long, value_name = "FD")]
    ipc_fd: Option<i32>,
    /// Serve the channel on this named pipe, created by the parent (Windows).
    #[arg(long, value_name = "NAME")]
    pipe: Option<String>,
    /// Serve the channel on stdin/stdout (for ssh, kubectl exec -i, …).
    #[arg(long)]
    ipc_stdio: bool,
    /// Run the one command described in this JSON file (deleted on read).
    #[arg(long, value_name = "PATH")]
    request_file: Option<PathBuf>,
    /// The sandbox policy, as JSON (IPC bootstraps only).
    #[arg(long, value_name = "JSON", required_unless_present = "request_file")]
    policy_json: Option<String>,
    /// The pid that started the runner: if it is already gone, exit.
    #[arg(long, value_name = "PID")]
    parent_pid: Option<u32>,
    /// The largest frame body to accept, in bytes (at most the protocol's
    /// cap of 64 MiB, the default).
    #[arg(long, value_name = "BYTES", default_value_t = MAX_FRAME_CAP,
          value_parser = clap::value_parser!(u32).range(MIN_MAX_FRAME as i64..=MAX_FRAME_CAP as i64))]
    max_frame: u32,
}

/// The runner's `main`: parses `args` (the first is the program name),
/// confines itself and serves the channel, or runs the request file's one
/// command; returns the exit status.
///
/// It must run before the process has a thread of its own, since it takes
/// the handshake token out of the environment first so that no child can
/// ever inherit it; a program embedding the runner (`cordon __runner`)
/// calls it first thing in its own `main`.
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let token = sys::take_secret_env(TOKEN_ENV);
    sys::mark_inherited_fds_close_on_exec();
    let args = Args::parse_from(args);
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("CORDON_LOG"))
        .with_writer(std::io::stderr)
        .init();

    if let Err(err) = sys::startup(args.parent_pid) {
        eprintln!("cordon-runner: {err:#}");
        return ExitCode::from(EXIT_CORDON_FAILED as u8);
    }
    if let Some(path) = &args.request_file {
        return ExitCode::from(crate::request_file::run(path, args.parent_pid) as u8);
    }
    match serve(args, token) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cordon-runner: {err:#}");
            ExitCode::from(EXIT_CORDON_FAILED as u8)
        }
    }
}

fn serve(args: Args, token: Option<String>) -> anyhow::Result<()> {
    let token = token.with_context(|| format!("no handshake token: {TOKEN_ENV} is not set"))?;
    let policy: Policy = serde_json::from_str(args.policy_json.as_deref().unwrap_or_default())
        .context("--policy-json is not a valid policy")?;
    let sandbox = cordon_sandbox::enforce(&policy)?;
    sys::startup(args.parent_pid)?;
    let config = SessionConfig { token, max_frame: args.max_frame, sandbox };

    // The channel's fds are adopted before the runtime opens fds of its own.
    let channel = match (args.ipc_fd, &args.pipe) {
        (Some(fd), _) => sys::Channel::inherited(fd)?,
        (None, Some(name)) => sys::Channel::pipe(name)?,
        (None, None) => sys::Channel::stdio()?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let (reader, writer) = channel.into_async()?;
        let ending = session::serve(reader, writer, config).await?;
        tracing::debug!(?ending, "runner exiting");
        Ok(())
    })
}
