//! Starting processes: on pipes, on a new pseudo-terminal, or on the
//! runner's own stdio (the request-file bootstrap).
//!
//! Every child gets, between `fork` and `exec`: its own session (pipes and
//! PTY; for a PTY the terminal becomes its controlling terminal), the child
//! subreaper attribute (see `tree`), `SIGKILL` when the runner dies, default
//! signal dispositions, and close-on-exec on every fd above 2.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cordon_ipc::{OsBytes, Size, SpawnError, SpawnErrorKind};
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::libc;
use nix::unistd::{AccessFlags, access};

/// The capacity asked for each output pipe (the default is 64 KiB): a
/// chatty command then blocks, and wakes the runner, a sixteenth as often.
/// Unprivileged users may go up to `/proc/sys/fs/pipe-max-size` (1 MiB by
/// default); a refusal keeps the default.
const OUTPUT_PIPE_SIZE: i32 = 1 << 20;

use super::{InputPipe, InputWatch, OutputPipe, ProcessTree, Terminal};
use crate::sys::{Child, SpawnSpec, StdioMode, io_error, spawn_error};

/// `PATH` used when the child's environment has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What only Unix keeps of a started child: nothing beyond the common
/// [`Child`].
#[derive(Debug)]
pub struct PlatformChild;

/// Starts a process. Failures are classified for `SpawnFailed`.
pub fn spawn(spec: &SpawnSpec<'_>) -> Result<Child, SpawnError> {
    let Some(name) = spec.argv.first() else {
        return Err(spawn_error(SpawnErrorKind::InvalidRequest, "argv is empty".into(), None));
    };
    let has_nul = |b: &OsBytes| b.as_bytes().contains(&0);
    if spec.argv.iter().any(has_nul)
        || spec
            .env
            .iter()
            .any(|(k, v)| has_nul(k) || has_nul(v) || k.as_bytes().is_empty() || k.as_bytes().contains(&b'='))
    {
        return Err(spawn_error(
            SpawnErrorKind::InvalidRequest,
            "argv or env contains a NUL byte or a malformed variable name".into(),
            None,
        ));
    }
    let cwd = spec.working_directory(libc::ENOTDIR)?;
    let cwd = cwd.as_deref();
    let name = os(name);
    let path = spec.env.get(b"PATH".as_slice()).map(os);
    let program = resolve_program(name, path, cwd)?;

    let mut command = Command::new(&program);
    command
        .arg0(name)
        .args(spec.argv[1..].iter().map(os))
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (os(k), os(v))));
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let mut master = None;
    let mut input_watch = None;
    match spec.stdio {
        StdioMode::Pipes { stdin } => {
            command
                .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        }
        StdioMode::Pty(size) => {
            let (pty_master, pty_slave) = open_pty(size)?;
            let slave = |fd: &OwnedFd| fd.try_clone().map(Stdio::from).map_err(|e| io_error("dup", e));
            command.stdin(slave(&pty_slave)?).stdout(slave(&pty_slave)?).stderr(slave(&pty_slave)?);
            input_watch = InputWatch::terminal(pty_slave.as_fd()).ok();
            master = Some(pty_master);
        }
        StdioMode::Inherit => {
            command.stdin(Stdio::inherit()).stdout(Stdio::inherit()).stderr(Stdio::inherit());
        }
    }
    let setup = ChildSetup {
        runner_pid: std::process::id() as libc::pid_t,
        new_session: spec.stdio != StdioMode::Inherit,
        controlling_tty: matches!(spec.stdio, StdioMode::Pty(_)),
    };
    // SAFETY: the closure only makes async-signal-safe system calls.
    unsafe { command.pre_exec(move || setup.run()) };

    let mut child = command.spawn().map_err(|err| classify_exec_error(&program, err))?;
    // The Command holds the PTY slave copies; drop them so the runner keeps
    // no slave open and sees EOF (EIO) once the child's tree is gone.
    drop(command);
    let pid = child.id();
    let stdin = child.stdin.take().map(OwnedFd::from);
    if let Some(pipe) = &stdin {
        input_watch = InputWatch::pipe(pipe.as_fd()).ok();
    }
    let stdout = child.stdout.take().map(OwnedFd::from);
    let stderr = child.stderr.take().map(OwnedFd::from);
    // The std handle is dropped without waiting: the Reaper owns exit
    // statuses.
    drop(child);
    let tree = ProcessTree::new(pid);
    let wired = (|| -> io::Result<_> {
        for fd in stdin.iter().chain(&stdout).chain(&stderr).chain(&master) {
            set_nonblocking(fd)?;
        }
        for fd in stdout.iter().chain(&stderr) {
            let _ = fcntl(fd, FcntlArg::F_SETPIPE_SZ(OUTPUT_PIPE_SIZE));
        }
        Ok((
            stdin.map(InputPipe::new).transpose()?,
            stdout.map(OutputPipe::new).transpose()?,
            stderr.map(OutputPipe::new).transpose()?,
            master.map(Terminal::new).transpose()?,
        ))
    })();
    match wired {
        Ok((stdin, stdout, stderr, pty)) => {
            Ok(Child { pid, tree, stdin, stdout, stderr, pty, input_watch, platform: PlatformChild })
        }
        Err(err) => {
            tree.kill();
            Err(io_error("registering the child's stdio", err))
        }
    }
}

/// A new pseudo-terminal of `size`: the master, and the slave opened from
/// it with `TIOCGPTPEER` rather than by its `/dev/pts/N` path, which the
/// sandbox denies (another terminal's slave would be someone's keystrokes).
fn open_pty(size: Size) -> Result<(OwnedFd, OwnedFd), SpawnError> {
    use std::os::fd::FromRawFd;
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let master = nix::pty::posix_openpt(flags).map_err(|e| os_error("opening /dev/ptmx", e))?;
    nix::pty::grantpt(&master).map_err(|e| os_error("grantpt", e))?;
    nix::pty::unlockpt(&master).map_err(|e| os_error("unlockpt", e))?;
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd we own.
    let slave = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER as _, flags.bits()) };
    if slave < 0 {
        return Err(io_error("TIOCGPTPEER", io::Error::last_os_error()));
    }
    // SAFETY: a fresh fd from the kernel, owned by nobody else.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    let master = OwnedFd::from(master);
    super::io::set_size(master.as_fd(), size).map_err(|e| io_error("setting the window size", e))?;
    Ok((master, slave))
}

/// What the child does between `fork` and `exec`.
#[derive(Clone, Copy)]
struct ChildSetup {
    runner_pid: libc::pid_t,
    new_session: bool,
    controlling_tty: bool,
}

impl ChildSetup {
    /// Runs in the forked child: async-signal-safe calls only.
    fn run(self) -> io::Result<()> {
        // SAFETY: plain system calls on the child's own state.
        unsafe {
            if self.new_session && libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if self.controlling_tty && libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(io::Error::last_os_error());
            }
            // The runner may have died before the line above took effect.
            if libc::getppid() != self.runner_pid {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) < 0 {
                return Err(io::Error::last_os_error());
            }
            cordon_sandbox::limit_command()?;
            for sig in [
                libc::SIGINT,
                libc::SIGQUIT,
                libc::SIGTERM,
                libc::SIGHUP,
                libc::SIGPIPE,
                libc::SIGCHLD,
                libc::SIGTSTP,
                libc::SIGTTIN,
                libc::SIGTTOU,
            ] {
                libc::signal(sig, libc::SIG_DFL);
            }
            // Only 0, 1 and 2 survive exec. Marking (not closing) keeps
            // std's own exec-error pipe working; a kernel without
            // close_range leaves the runner's fds, which are all
            // close-on-exec already.
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
        }
        Ok(())
    }
}

/// On Unix an argument is any bytes.
fn os(bytes: &OsBytes) -> &OsStr {
    OsStr::from_bytes(bytes.as_bytes())
}

/// Finds the program the way `execvp` would, so that "not found" and "not
/// executable" are told apart before forking.
fn resolve_program(name: &OsStr, path: Option<&OsStr>, cwd: Option<&Path>) -> Result<PathBuf, SpawnError> {
    let in_cwd = |p: &Path| match cwd {
        Some(cwd) if p.is_relative() => cwd.join(p),
        _ => p.to_path_buf(),
    };
    let shown = name.to_string_lossy();
    if name.is_empty() {
        return Err(spawn_error(SpawnErrorKind::NotFound, "empty program name".into(), Some(libc::ENOENT)));
    }
    if name.as_bytes().contains(&b'/') {
        let candidate = in_cwd(Path::new(name));
        // A path the kernel cannot even look up (too long, a loop of
        // links) is not "not found": say what it is, with the exit status
        // a shell gives it (126).
        if let Err(err) = candidate.metadata()
            && let Some(code @ (libc::ENAMETOOLONG | libc::ELOOP)) = err.raw_os_error()
        {
            return Err(spawn_error(SpawnErrorKind::NotExecutable, format!("{shown}: {err}"), Some(code)));
        }
        return match check_executable(&candidate) {
            Ok(()) => Ok(candidate),
            Err(kind) => Err(program_error(kind, &shown, &candidate)),
        };
    }
    let path = path.unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut not_executable = None;
    for dir in path.as_bytes().split(|b| *b == b':') {
        let dir = if dir.is_empty() { Path::new(".") } else { Path::new(OsStr::from_bytes(dir)) };
        let candidate = in_cwd(&dir.join(name));
        match check_executable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(SpawnErrorKind::NotExecutable) if not_executable.is_none() => {
                not_executable = Some(candidate)
            }
            Err(_) => {}
        }
    }
    match not_executable {
        Some(candidate) => Err(program_error(SpawnErrorKind::NotExecutable, &shown, &candidate)),
        None => Err(spawn_error(
            SpawnErrorKind::NotFound,
            format!("{shown}: command not found in PATH={}", path.to_string_lossy()),
            Some(libc::ENOENT),
        )),
    }
}

fn check_executable(path: &Path) -> Result<(), SpawnErrorKind> {
    match path.metadata() {
        Err(_) => Err(SpawnErrorKind::NotFound),
        Ok(meta) if meta.is_dir() => Err(SpawnErrorKind::NotExecutable),
        Ok(_) => access(path, AccessFlags::X_OK).map_err(|_| SpawnErrorKind::NotExecutable),
    }
}

fn program_error(kind: SpawnErrorKind, name: &str, path: &Path) -> SpawnError {
    let (what, code) = match kind {
        SpawnErrorKind::NotFound => ("no such file", libc::ENOENT),
        _ => ("not executable", libc::EACCES),
    };
    spawn_error(kind, format!("{name}: {what} ({})", path.display()), Some(code))
}

fn classify_exec_error(program: &Path, err: io::Error) -> SpawnError {
    let kind = match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => SpawnErrorKind::NotFound,
        Some(libc::EACCES) | Some(libc::ENOEXEC) | Some(libc::EISDIR) | Some(libc::ETXTBSY) => {
            SpawnErrorKind::NotExecutable
        }
        _ => SpawnErrorKind::Os,
    };
    spawn_error(kind, format!("cannot execute {}: {err}", program.display()), err.raw_os_error())
}

fn os_error(what: &str, errno: Errno) -> SpawnError {
    spawn_error(SpawnErrorKind::Os, format!("{what}: {}", errno.desc()), Some(errno as i32))
}

/// Sets `O_NONBLOCK`, for a fd the runtime will poll.
pub(super) fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}
