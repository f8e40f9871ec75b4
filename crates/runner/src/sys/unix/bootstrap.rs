//! What the runner does with what it inherited, before anything else: the
//! handshake token (scrubbed from the environment), the fds (none may reach
//! a child), and the channel (an inherited socket, or its own stdio).

use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use anyhow::{Context, bail};
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::stat::{SFlag, fstat};

use super::spawn::set_nonblocking;

/// An async reader of the channel.
pub type ChannelReader = Box<dyn tokio::io::AsyncRead + Unpin + Send>;
/// An async writer of the channel.
pub type ChannelWriter = Box<dyn tokio::io::AsyncWrite + Unpin + Send>;

/// The fds that carry the channel, adopted before the runtime opens fds of
/// its own and turned into async halves inside it.
#[derive(Debug)]
pub enum Channel {
    /// One connected socket (`--ipc-fd`).
    Socket(OwnedFd),
    /// Separate input and output (`--ipc-stdio`).
    Stdio(OwnedFd, OwnedFd),
}

impl Channel {
    /// Adopts inherited fd `fd`, marking it close-on-exec so children never
    /// see it.
    pub fn inherited(fd: RawFd) -> anyhow::Result<Channel> {
        if fd < 3 {
            bail!("--ipc-fd {fd}: the channel cannot be a standard stream (use --ipc-stdio)");
        }
        // SAFETY: only probes whether the number is an open fd.
        fcntl(unsafe { BorrowedFd::borrow_raw(fd) }, FcntlArg::F_GETFD)
            .with_context(|| format!("--ipc-fd {fd} is not an open fd"))?;
        // SAFETY: the fd is open (checked above) and nothing else in this
        // process owns it: no other fd has been opened yet.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        fcntl(&owned, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        Ok(Channel::Socket(owned))
    }

    /// A named pipe: a Windows transport.
    pub fn pipe(name: &str) -> anyhow::Result<Channel> {
        bail!("--pipe {name}: named pipes are a Windows transport; on Unix use --ipc-fd")
    }

    /// The runner's stdin/stdout. Both are duplicated (close on exec) and
    /// fd 1 is pointed at stderr, so a stray print can never corrupt the
    /// channel.
    pub fn stdio() -> anyhow::Result<Channel> {
        let input = std::io::stdin().as_fd().try_clone_to_owned()?;
        let output = std::io::stdout().as_fd().try_clone_to_owned()?;
        nix::unistd::dup2_stdout(std::io::stderr())?;
        Ok(Channel::Stdio(input, output))
    }

    /// The async halves; call inside the runtime.
    pub fn into_async(self) -> anyhow::Result<(ChannelReader, ChannelWriter)> {
        match self {
            Channel::Socket(fd) => {
                let (reader, writer) =
                    socket(fd).context("--ipc-fd must be a connected unix socket")?.into_split();
                Ok((Box::new(reader), Box::new(writer)))
            }
            // ssh and kubectl give pipes or sockets.
            Channel::Stdio(input, output) => {
                let reader: ChannelReader = if is_socket(&input)? {
                    Box::new(socket(input)?)
                } else {
                    Box::new(
                        tokio::net::unix::pipe::Receiver::from_owned_fd(input)
                            .context("--ipc-stdio needs stdin to be a pipe or a socket")?,
                    )
                };
                let writer: ChannelWriter = if is_socket(&output)? {
                    Box::new(socket(output)?)
                } else {
                    Box::new(
                        tokio::net::unix::pipe::Sender::from_owned_fd(output)
                            .context("--ipc-stdio needs stdout to be a pipe or a socket")?,
                    )
                };
                Ok((reader, writer))
            }
        }
    }
}

fn socket(fd: OwnedFd) -> anyhow::Result<tokio::net::UnixStream> {
    set_nonblocking(&fd)?;
    Ok(tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))?)
}

fn is_socket(fd: &OwnedFd) -> anyhow::Result<bool> {
    Ok(SFlag::from_bits_truncate(fstat(fd)?.st_mode).contains(SFlag::S_IFSOCK))
}

/// Whatever fds the runner inherited must not reach its children, even on a
/// kernel without `close_range`: mark them all close-on-exec while the
/// runner is still single-threaded. The channel fd is adopted later.
pub fn mark_inherited_fds_close_on_exec() {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<RawFd> =
        entries.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).filter(|fd| *fd > 2).collect();
    for fd in fds {
        // SAFETY: only sets a flag; a closed fd (the directory's own) fails
        // harmlessly.
        unsafe { nix::libc::fcntl(fd, nix::libc::F_SETFD, nix::libc::FD_CLOEXEC) };
    }
}

/// Takes variable `name` (the handshake token) out of the environment.
/// Removing the variable is not enough: `/proc/PID/environ` shows the
/// environment block as it was at exec, so the bytes are overwritten in
/// place first. Call it while single-threaded.
pub fn take_secret_env(name: &str) -> Option<String> {
    let value = std::env::var(name).ok()?;
    let prefix = format!("{name}=");
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
        std::env::remove_var(name);
    }
    Some(value)
}
