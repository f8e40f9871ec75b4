//! What the runner does with what it inherited: the handshake token and the
//! channel (a named pipe the parent created, or the runner's own stdio).

use anyhow::{Context, bail};

/// An async reader of the channel.
pub type ChannelReader = Box<dyn tokio::io::AsyncRead + Unpin + Send>;
/// An async writer of the channel.
pub type ChannelWriter = Box<dyn tokio::io::AsyncWrite + Unpin + Send>;

/// Where the channel is.
#[derive(Debug)]
pub enum Channel {
    /// The parent's named pipe (`--pipe NAME`).
    Pipe(String),
    /// The runner's stdin/stdout (`--ipc-stdio`).
    Stdio,
}

impl Channel {
    /// An inherited socket: a Unix transport.
    pub fn inherited(fd: i32) -> anyhow::Result<Channel> {
        bail!("--ipc-fd {fd}: inherited sockets are a Unix transport; on Windows use --pipe")
    }

    /// The named pipe `name`, created by the parent.
    pub fn pipe(name: &str) -> anyhow::Result<Channel> {
        if !name.starts_with(r"\\.\pipe\") {
            bail!(r"--pipe {name}: not a local pipe name (\\.\pipe\...)");
        }
        Ok(Channel::Pipe(name.to_string()))
    }

    /// The runner's stdin and stdout.
    pub fn stdio() -> anyhow::Result<Channel> {
        Ok(Channel::Stdio)
    }

    /// The async halves; call inside the runtime.
    pub fn into_async(self) -> anyhow::Result<(ChannelReader, ChannelWriter)> {
        match self {
            Channel::Pipe(name) => {
                let client = tokio::net::windows::named_pipe::ClientOptions::new()
                    .open(&name)
                    .with_context(|| format!("connecting to {name}"))?;
                let (reader, writer) = tokio::io::split(client);
                Ok((Box::new(reader), Box::new(writer)))
            }
            Channel::Stdio => Ok((Box::new(tokio::io::stdin()), Box::new(tokio::io::stdout()))),
        }
    }
}

/// Children get an explicit list of handles to inherit, never the runner's
/// others: nothing to do here.
pub fn mark_inherited_fds_close_on_exec() {}

/// Takes variable `name` (the handshake token) out of the environment, so
/// no child's environment is built with it.
pub fn take_secret_env(name: &str) -> Option<String> {
    let value = std::env::var(name).ok()?;
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe { std::env::remove_var(name) };
    Some(value)
}
