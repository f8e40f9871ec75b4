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

use super::Request;

/// The settings to restore, for the panic hook.
static SAVED: OnceLock<libc::termios> = OnceLock::new();

/// Raw mode on stdin while alive; the previous settings come back on drop,
/// and on panic.
#[derive(Debug)]
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts stdin in raw mode if it is a terminal; `None` if it is not.
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
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
        Ok(Some(RawMode { saved }))
    }
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

/// Creates a new directory in the temp dir, named `prefix` and random
/// letters, that only the user can enter (0700: made so, then set so
/// whatever the umask), removed when dropped.
pub fn private_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let private = std::fs::Permissions::from_mode(0o700);
    let dir = tempfile::Builder::new().prefix(prefix).permissions(private.clone()).tempdir()?;
    std::fs::set_permissions(dir.path(), private)?;
    Ok(dir)
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

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
