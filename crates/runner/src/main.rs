//! The `cordon-runner` executable: parse the bootstrap, confine, serve.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{ArgGroup, Parser};
use cordon_ipc::{DEFAULT_MAX_FRAME, MIN_MAX_FRAME, TOKEN_ENV, oneshot::EXIT_CORDON_FAILED};
use cordon_runner::session::{self, SessionConfig};
use cordon_sandbox::Policy;
use nix::fcntl::{FcntlArg, FdFlag, fcntl};

/// The helper that lives inside cordon's sandbox. It is started by `cordon`
/// (or the cordon library), not by hand.
#[derive(Debug, Parser)]
#[command(name = "cordon-runner", version, about)]
#[command(group(ArgGroup::new("bootstrap").required(true).args(["ipc_fd", "ipc_stdio", "request_file"])))]
struct Args {
    /// Serve the channel on this inherited socket fd.
    #[arg(long, value_name = "FD")]
    ipc_fd: Option<RawFd>,
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
    /// The largest frame body to accept, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME,
          value_parser = clap::value_parser!(u32).range(MIN_MAX_FRAME as i64..))]
    max_frame: u32,
}

fn main() -> ExitCode {
    // Taken before anything else (and before any thread exists) so no
    // child can ever inherit it.
    let token = take_token();

    mark_inherited_fds_close_on_exec();
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("CORDON_LOG"))
        .with_writer(std::io::stderr)
        .init();

    if let Err(err) = cordon_runner::sys::startup(args.parent_pid) {
        eprintln!("cordon-runner: {err:#}");
        return ExitCode::from(EXIT_CORDON_FAILED as u8);
    }
    if let Some(path) = &args.request_file {
        return ExitCode::from(cordon_runner::request_file::run(path) as u8);
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
    cordon_runner::sys::rearm()?;
    // The parent may have died while the sandbox was being set up.
    if args.parent_pid.is_some_and(|p| nix::unistd::getppid().as_raw() as u32 != p) {
        bail!("the parent exited while the runner was starting");
    }
    let config = SessionConfig { token, max_frame: args.max_frame, sandbox };

    // The channel's fds are adopted before the runtime opens fds of its own.
    let channel = match args.ipc_fd {
        Some(fd) => Channel::Socket(take_fd(fd)?),
        None => Channel::Stdio(stdio_fds()?),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let (reader, writer) = channel.into_async()?;
        let ending = session::serve(reader, writer, config).await?;
        tracing::debug!(?ending, "runner exiting");
        Ok(())
    })
}

type BoxedReader = Box<dyn tokio::io::AsyncRead + Unpin + Send>;
type BoxedWriter = Box<dyn tokio::io::AsyncWrite + Unpin + Send>;

/// The fds that carry the channel, before they are handed to the runtime.
enum Channel {
    /// One connected socket (`--ipc-fd`).
    Socket(OwnedFd),
    /// Separate input and output (`--ipc-stdio`).
    Stdio((OwnedFd, OwnedFd)),
}

impl Channel {
    fn into_async(self) -> anyhow::Result<(BoxedReader, BoxedWriter)> {
        match self {
            Channel::Socket(fd) => {
                let stream = tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))
                    .context("--ipc-fd must be a connected unix socket")?;
                let (reader, writer) = stream.into_split();
                Ok((Box::new(reader), Box::new(writer)))
            }
            Channel::Stdio((input, output)) => Ok((async_reader(input)?, async_writer(output)?)),
        }
    }
}

/// Adopts an inherited fd, marking it close-on-exec so children never see it.
fn take_fd(fd: RawFd) -> anyhow::Result<OwnedFd> {
    if fd < 3 {
        bail!("--ipc-fd {fd}: the channel cannot be a standard stream (use --ipc-stdio)");
    }
    // SAFETY: only probes whether the number is an open fd.
    fcntl(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, FcntlArg::F_GETFD)
        .with_context(|| format!("--ipc-fd {fd} is not an open fd"))?;
    // SAFETY: the fd is open (checked above) and nothing else in this
    // process owns it: no other fd has been opened yet.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    fcntl(&owned, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    set_nonblocking(&owned)?;
    Ok(owned)
}

/// The runner's stdin/stdout as the channel. Both are duplicated (close on
/// exec) and fd 1 is pointed at stderr, so a stray print can never corrupt
/// the channel.
fn stdio_fds() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    use std::os::fd::AsFd;
    let input = std::io::stdin().as_fd().try_clone_to_owned()?;
    let output = std::io::stdout().as_fd().try_clone_to_owned()?;
    nix::unistd::dup2_stdout(std::io::stderr())?;
    Ok((input, output))
}

fn is_socket(fd: &OwnedFd) -> anyhow::Result<bool> {
    let stat = nix::sys::stat::fstat(fd)?;
    Ok(nix::sys::stat::SFlag::from_bits_truncate(stat.st_mode).contains(nix::sys::stat::SFlag::S_IFSOCK))
}

fn set_nonblocking(fd: &OwnedFd) -> anyhow::Result<()> {
    let flags = nix::fcntl::OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | nix::fcntl::OFlag::O_NONBLOCK))?;
    Ok(())
}

/// A pipe or a socket (ssh and kubectl give either) as an async reader.
fn async_reader(fd: OwnedFd) -> anyhow::Result<BoxedReader> {
    if is_socket(&fd)? {
        set_nonblocking(&fd)?;
        let stream = tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))?;
        return Ok(Box::new(stream));
    }
    let pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
        .context("--ipc-stdio needs stdin to be a pipe or a socket")?;
    Ok(Box::new(pipe))
}

/// A pipe or a socket as an async writer.
fn async_writer(fd: OwnedFd) -> anyhow::Result<BoxedWriter> {
    if is_socket(&fd)? {
        set_nonblocking(&fd)?;
        let stream = tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))?;
        return Ok(Box::new(stream));
    }
    let pipe = tokio::net::unix::pipe::Sender::from_owned_fd(fd)
        .context("--ipc-stdio needs stdout to be a pipe or a socket")?;
    Ok(Box::new(pipe))
}

/// Whatever fds the runner inherited must not reach its children, even on a
/// kernel without `close_range`: mark them all close-on-exec while the
/// runner is still single-threaded. The channel fd is adopted later.
fn mark_inherited_fds_close_on_exec() {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<RawFd> =
        entries.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).filter(|fd| *fd > 2).collect();
    for fd in fds {
        // SAFETY: only sets a flag; a closed fd (the directory's own) fails
        // harmlessly.
        unsafe { nix::libc::fcntl(fd, nix::libc::F_SETFD, nix::libc::FD_CLOEXEC) };
    }
}

/// Takes the handshake token out of the environment. Removing the variable
/// is not enough: `/proc/PID/environ` shows the environment block as it was
/// at exec, so the bytes are overwritten in place first.
fn take_token() -> Option<String> {
    let token = std::env::var(TOKEN_ENV).ok()?;
    let prefix = format!("{TOKEN_ENV}=");
    // SAFETY: single-threaded at this point; `environ` is a NULL-terminated
    // array of NUL-terminated strings that this process may write.
    unsafe {
        unsafe extern "C" {
            static mut environ: *mut *mut nix::libc::c_char;
        }
        let mut entry = environ;
        while !entry.is_null() && !(*entry).is_null() {
            let bytes = std::ffi::CStr::from_ptr(*entry).to_bytes();
            if bytes.starts_with(prefix.as_bytes()) {
                std::ptr::write_bytes((*entry).add(prefix.len()), b'0', bytes.len() - prefix.len());
            }
            entry = entry.add(1);
        }
        std::env::remove_var(TOKEN_ENV);
    }
    Some(token)
}
