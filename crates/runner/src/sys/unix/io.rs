//! The runner's ends of a child's stdio as async pipes and terminals.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use cordon_ipc::Size;
use nix::errno::Errno;
use nix::libc;
use nix::sys::termios::{SpecialCharacterIndices, tcgetattr};
use tokio::io::unix::AsyncFd;

/// Registers a non-blocking fd with the runtime.
fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the fd is owned by the AsyncFd and closed only when it is
    // dropped.
    unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)
}

/// The read end of a child's stdout or stderr.
#[derive(Debug)]
pub struct OutputPipe(AsyncFd<OwnedFd>);

impl OutputPipe {
    pub(super) fn new(fd: OwnedFd) -> io::Result<Self> {
        register(fd).map(OutputPipe)
    }

    /// Waits for output and reads up to `max` bytes (empty: end of file).
    pub async fn read(&self, max: usize) -> io::Result<Vec<u8>> {
        read_async(&self.0, max).await
    }

    /// Reads up to `max` bytes without waiting: `Ok(None)` if nothing is
    /// there yet.
    pub fn read_now(&self, max: usize) -> io::Result<Option<Vec<u8>>> {
        read_now(self.0.get_ref(), max)
    }
}

/// The write end of a child's stdin.
#[derive(Debug)]
pub struct InputPipe(AsyncFd<OwnedFd>);

impl InputPipe {
    pub(super) fn new(fd: OwnedFd) -> io::Result<Self> {
        register(fd).map(InputPipe)
    }

    /// Waits until the pipe takes data and writes a prefix of `data`;
    /// returns how much of it was consumed.
    pub async fn write(&self, data: &[u8]) -> io::Result<usize> {
        write_async(&self.0, data).await
    }
}

/// A pseudo-terminal's master: output and input of the child, its size.
#[derive(Debug)]
pub struct Terminal(AsyncFd<OwnedFd>);

impl Terminal {
    pub(super) fn new(fd: OwnedFd) -> io::Result<Self> {
        register(fd).map(Terminal)
    }

    /// Waits for output and reads up to `max` bytes (empty: every holder of
    /// the terminal has closed it).
    pub async fn read(&self, max: usize) -> io::Result<Vec<u8>> {
        pty_eof(read_async(&self.0, max).await)
    }

    /// Reads up to `max` bytes without waiting: `Ok(None)` if nothing is
    /// there yet.
    pub fn read_now(&self, max: usize) -> io::Result<Option<Vec<u8>>> {
        match read_now(self.0.get_ref(), max) {
            Err(err) if err.raw_os_error() == Some(Errno::EIO as i32) => Ok(Some(Vec::new())),
            other => other,
        }
    }

    /// Writes a prefix of `data` as typed input; returns how much of it was
    /// consumed.
    pub async fn write(&self, data: &[u8]) -> io::Result<usize> {
        write_async(&self.0, data).await
    }

    /// Sets the window size; the kernel sends `SIGWINCH` to the terminal's
    /// foreground process group.
    pub fn resize(&self, size: Size) -> io::Result<()> {
        set_size(self.0.as_fd(), size)
    }

    /// The input that makes the line discipline report end of file: its
    /// `VEOF` character (normally Ctrl-D), twice when the current line is
    /// not empty (the first only ends the line).
    pub fn eof_input(&self, line_pending: bool) -> Vec<u8> {
        let veof = tcgetattr(self.0.get_ref())
            .map(|t| t.control_chars[SpecialCharacterIndices::VEOF as usize])
            .unwrap_or(4);
        if line_pending { vec![veof, veof] } else { vec![veof] }
    }

    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

nix::ioctl_write_ptr_bad!(set_window_size, libc::TIOCSWINSZ, libc::winsize);

/// Sets a terminal's window size.
pub(super) fn set_size(fd: BorrowedFd<'_>, size: Size) -> io::Result<()> {
    let winsize = libc::winsize { ws_row: size.rows, ws_col: size.cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: a valid fd and a valid winsize.
    unsafe { set_window_size(fd.as_raw_fd(), &winsize) }.map(drop).map_err(io::Error::from)
}

/// EIO is how a PTY master reports that every slave is closed: end of file.
fn pty_eof(read: io::Result<Vec<u8>>) -> io::Result<Vec<u8>> {
    match read {
        Err(err) if err.raw_os_error() == Some(Errno::EIO as i32) => Ok(Vec::new()),
        other => other,
    }
}

async fn read_async(fd: &AsyncFd<OwnedFd>, max: usize) -> io::Result<Vec<u8>> {
    loop {
        let mut guard = fd.readable().await?;
        match guard.try_io(|fd| read_now(fd.get_ref(), max)?.ok_or_else(|| io::ErrorKind::WouldBlock.into()))
        {
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}

fn read_now(fd: &OwnedFd, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut buf: Vec<u8> = Vec::with_capacity(max);
    loop {
        // SAFETY: the kernel writes at most `max` bytes into the vector's
        // spare capacity; the length is set to what it wrote.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), max) };
        if n >= 0 {
            // SAFETY: read initialised the first `n` bytes, `n <= max`,
            // which is within the capacity.
            unsafe { buf.set_len(n as usize) };
            // A short read must not pin a whole chunk of memory while it
            // waits in the window.
            if buf.len() < max / 2 {
                buf.shrink_to_fit();
            }
            return Ok(Some(buf));
        }
        match Errno::last() {
            Errno::EAGAIN => return Ok(None),
            Errno::EINTR => continue,
            errno => return Err(errno.into()),
        }
    }
}

async fn write_async(fd: &AsyncFd<OwnedFd>, data: &[u8]) -> io::Result<usize> {
    loop {
        let mut guard = fd.writable().await?;
        match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), data).map_err(io::Error::from)) {
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}
