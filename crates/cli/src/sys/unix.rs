//! Unix: termios raw mode, `TIOCGWINSZ`, and signals.

use std::io::IsTerminal;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::OnceLock;

use cordon::Size;
use nix::libc;
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::{Request, SandboxTemp};

/// The settings to restore, for the panic hook.
static SAVED: OnceLock<libc::termios> = OnceLock::new();

/// Raw mode on stdin while alive; the previous settings come back on drop,
/// and on panic.
#[derive(Debug)]
pub struct RawMode {
    saved: Termios,
    typeahead: Vec<u8>,
}

impl RawMode {
    /// Puts stdin in raw mode if it is a terminal; `None` if it is not.
    ///
    /// What the terminal already holds as whole lines is read first, in the
    /// mode it was typed in (see [`RawMode::take_typeahead`]): an end of
    /// file pending in canonical mode would otherwise reach the command as
    /// a NUL byte nobody typed, the line discipline's marker for it.
    pub fn enable() -> anyhow::Result<Option<RawMode>> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(None);
        }
        let saved = tcgetattr(stdin.as_fd())?;
        let _ = SAVED.set(libc::termios::from(saved.clone()));
        let previous_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_saved();
            previous_hook(info);
        }));
        let typeahead = read_whole_lines(stdin.as_fd(), saved.control_chars[libc::VEOF]);
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
        Ok(Some(RawMode { saved, typeahead }))
    }

    /// What was typed before raw mode, to pass on first: the whole lines,
    /// and each end of file as the `eof` character, which the command's own
    /// terminal turns back into an end of file.
    pub fn take_typeahead(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.typeahead)
    }
}

/// Reads what a terminal in canonical mode has ready without blocking:
/// whole lines, and ends of file (a read of 0), each kept as `eof`.
fn read_whole_lines(terminal: BorrowedFd<'_>, eof: u8) -> Vec<u8> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut typed = Vec::new();
    let mut buf = [0u8; 4096];
    // Bounded: a terminal fed faster than this loop reads is not waited out.
    for _ in 0..256 {
        let mut fds = [PollFd::new(terminal, PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1)) {
            break;
        }
        // Ready in canonical mode means a whole line or an end of file is
        // there, so this read does not block.
        match nix::unistd::read(terminal, &mut buf) {
            Ok(0) => typed.push(eof),
            Ok(n) => typed.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    typed
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSADRAIN, &self.saved);
    }
}

fn restore_saved() {
    if let Some(saved) = SAVED.get() {
        // SAFETY: fd 0 and a termios that came from tcgetattr.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, saved) };
    }
}

nix::ioctl_read_bad!(get_window_size, libc::TIOCGWINSZ, libc::winsize);

/// The size of the terminal on `fd`, if it is one.
fn size_of(fd: BorrowedFd<'_>) -> Option<Size> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: a valid fd and a valid out-pointer.
    unsafe { get_window_size(fd.as_raw_fd(), &mut ws) }.ok()?;
    (ws.ws_row > 0 && ws.ws_col > 0).then_some(Size { rows: ws.ws_row, cols: ws.ws_col })
}

/// The size of whichever of stdin, stdout and stderr is a terminal.
pub fn current_size() -> Option<Size> {
    size_of(std::io::stdin().as_fd())
        .or_else(|| size_of(std::io::stdout().as_fd()))
        .or_else(|| size_of(std::io::stderr().as_fd()))
}

/// Signals for the running command: `SIGINT`, `SIGTERM`, `SIGHUP`,
/// `SIGWINCH`.
#[derive(Debug)]
pub struct Interrupts {
    interrupts: Signal,
    terminates: Signal,
    hangups: Signal,
    resizes: Signal,
}

impl Interrupts {
    /// Starts listening.
    pub fn new() -> std::io::Result<Self> {
        Ok(Interrupts {
            interrupts: signal(SignalKind::interrupt())?,
            terminates: signal(SignalKind::terminate())?,
            hangups: signal(SignalKind::hangup())?,
            resizes: signal(SignalKind::window_change())?,
        })
    }

    /// The next request.
    pub async fn next(&mut self) -> Request {
        tokio::select! {
            _ = self.interrupts.recv() => Request::Interrupt,
            _ = self.terminates.recv() => Request::Terminate,
            _ = self.hangups.recv() => Request::Hangup,
            _ = self.resizes.recv() => Request::Resize,
        }
    }
}

/// A directory in the temp dir that only the user can enter, removed when
/// dropped. While it lives it holds a lock, by which a later cordon tells
/// one left behind by a killed cordon (the lock is gone with its holder)
/// and removes it.
#[derive(Debug)]
pub struct PrivateDir {
    dir: tempfile::TempDir,
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl PrivateDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The lock file in a [`PrivateDir`].
const LOCK: &str = ".cordon-lock";

/// How old a directory without a lock file must be to count as left
/// behind: its maker may be between creating it and locking it.
const UNLOCKED_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Creates a new directory in the temp dir, named `prefix` and random
/// letters, that only the user can enter (0700: made so, then set so
/// whatever the umask), after removing the user's directories of that
/// prefix that a killed cordon left behind.
pub fn private_dir(prefix: &str) -> std::io::Result<PrivateDir> {
    use nix::fcntl::{Flock, FlockArg};
    use std::os::unix::fs::PermissionsExt;
    remove_left_behind(&std::env::temp_dir(), prefix);
    let private = std::fs::Permissions::from_mode(0o700);
    let dir = tempfile::Builder::new().prefix(prefix).permissions(private.clone()).tempdir()?;
    std::fs::set_permissions(dir.path(), private)?;
    let file = create_private(&dir.path().join(LOCK))?;
    let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| errno)?;
    Ok(PrivateDir { dir, _lock: lock })
}

/// The variables that name the sandbox's temp directory.
pub const TEMP_VARIABLES: &[&str] = &["TMPDIR"];

/// The sandbox's `TMPDIR` under a confining preset: its mount
/// namespace's private `/tmp`, which the sandbox may write and nothing on
/// the host sees or keeps.
pub fn sandbox_temp(preset: cordon::Preset) -> std::io::Result<SandboxTemp> {
    Ok(match preset {
        cordon::Preset::FullAccess => SandboxTemp::None,
        _ => SandboxTemp::Private("/tmp"),
    })
}

/// Removes the directories named `prefix…` in `temp` that are the user's
/// and whose lock nobody holds: their cordon is gone.
fn remove_left_behind(temp: &Path, prefix: &str) {
    use nix::fcntl::{Flock, FlockArg};
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(temp) else { return };
    let uid = nix::unistd::geteuid().as_raw();
    for entry in entries.flatten() {
        if !entry.file_name().to_str().is_some_and(|name| name.starts_with(prefix)) {
            continue;
        }
        let path = entry.path();
        // Never through a link, never another user's.
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        let gone = match std::fs::File::open(path.join(LOCK)) {
            Ok(file) => Flock::lock(file, FlockArg::LockExclusiveNonblock).is_ok(),
            Err(_) => {
                meta.modified().ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > UNLOCKED_GRACE)
            }
        };
        if gone {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Creates `path`, readable and writable by the user only (0600).
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

/// `$SHELL`, or `/bin/sh`.
pub fn shell() -> String {
    std::env::var("SHELL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "/bin/sh".into())
}

/// Ignores `SIGINT` and `SIGQUIT` in cordon: the terminal delivers them to
/// the command too (same process group), and cordon waits for its report.
pub fn ignore_terminal_interrupts() {
    use nix::sys::signal::{SigHandler, Signal as NixSignal, signal};
    // SAFETY: setting a disposition to SIG_IGN.
    unsafe {
        let _ = signal(NixSignal::SIGINT, SigHandler::SigIgn);
        let _ = signal(NixSignal::SIGQUIT, SigHandler::SigIgn);
    }
}

/// Completes when cordon is asked to stop: SIGINT or SIGTERM.
pub async fn termination() {
    let Ok(mut interrupt) = signal(SignalKind::interrupt()) else { return std::future::pending().await };
    let Ok(mut terminate) = signal(SignalKind::terminate()) else { return std::future::pending().await };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_private_dir_left_by_a_dead_cordon_is_removed_and_a_live_one_kept() {
        // A prefix of its own: the other tests' sweeps must not race this one.
        let prefix = format!("cordon-sweep-{}-", std::process::id());
        let live = super::private_dir(&prefix).unwrap();
        // What a killed cordon leaves: the directory, its lock file, no lock.
        let dead = tempfile::Builder::new().prefix(&prefix).tempdir().unwrap().keep();
        std::fs::write(dead.join(super::LOCK), "").unwrap();
        std::fs::write(dead.join("request.json"), "{}").unwrap();
        let next = super::private_dir(&prefix).unwrap();
        assert!(!dead.exists(), "{} is left behind", dead.display());
        assert!(live.path().join(super::LOCK).exists(), "the live one is kept");
        assert!(next.path().exists());
    }

    #[test]
    fn a_private_dir_is_0700() {
        let dir = super::private_dir("cordon-test-").unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o700, "{mode:o}");
        assert!(dir.path().file_name().unwrap().to_str().unwrap().starts_with("cordon-test-"));
    }

    #[test]
    fn a_private_file_is_0600() {
        let dir = super::private_dir("cordon-test-").unwrap();
        let path = dir.path().join("file");
        drop(super::create_private(&path).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o600, "{mode:o}");
        assert!(super::create_private(&path).is_err(), "an existing file is never reused");
    }
}
