//! The user's terminal: raw mode that is always undone, and its size.

use std::io::IsTerminal;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::OnceLock;

use cordon::Size;
use nix::libc;
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};

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
pub fn size_of(fd: BorrowedFd<'_>) -> Option<Size> {
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
