//! One channel's life: the handshake, then requests in, events out, until
//! the parent shuts the session down or goes away. Either way every process
//! tree the session started is killed before it returns.

use std::time::Duration;

use anyhow::{Context as _, bail};
use cordon_ipc::{
    ErrorKind, HelloAck, MAX_FRAME_CAP, Message, MessageCodec, SandboxReport, SpawnError, SpawnErrorKind,
    accept_hello,
};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::process::{self, Context, Control, Table};
use crate::sys::{self, Reaper};

/// How long the parent has to send `Hello`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `Shutdown` waits for killed processes to be reported.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long the last messages have to reach the parent at the end.
const FLUSH_GRACE: Duration = Duration::from_secs(1);

/// Largest `Output` chunk, before the frame maximum is taken into account.
const MAX_CHUNK: usize = 64 * 1024;

/// Room in a frame for everything of an `Output` message but its data.
const OUTPUT_OVERHEAD: usize = 64;

/// What the runner was started with.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The secret the parent must present in `Hello`.
    pub token: String,
    /// The largest frame the runner accepts.
    pub max_frame: u32,
    /// What the runner enforces, for `HelloAck`.
    pub sandbox: SandboxReport,
}

impl SessionConfig {
    /// A config with the largest frame maximum the protocol allows (the
    /// parent's `Hello` may lower it).
    pub fn new(token: String, sandbox: SandboxReport) -> Self {
        SessionConfig { token, max_frame: MAX_FRAME_CAP, sandbox }
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The parent sent `Shutdown`.
    Shutdown,
    /// The channel closed.
    ChannelClosed,
    /// The parent broke the protocol; the runner reported it and closed the
    /// channel.
    ProtocolError,
    /// The runner was told to terminate (`SIGTERM`, e.g. from the parent's
    /// death).
    Terminated,
}

/// Serves one channel until it ends.
pub async fn serve<R, W>(reader: R, writer: W, config: SessionConfig) -> anyhow::Result<Ending>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut frames = FramedRead::new(reader, MessageCodec::new(config.max_frame));
    let mut sink = FramedWrite::new(writer, MessageCodec::new(config.max_frame));

    let hello = match tokio::time::timeout(HANDSHAKE_TIMEOUT, frames.next()).await {
        Err(_) => bail!("no Hello within {HANDSHAKE_TIMEOUT:?}"),
        Ok(None) => bail!("channel closed before Hello"),
        Ok(Some(Err(err))) => bail!("reading Hello: {err}"),
        Ok(Some(Ok(Message::Hello(hello)))) => hello,
        Ok(Some(Ok(other))) => {
            let reason = format!("expected Hello, got {}", other.name());
            let _ = sink.send(Message::HelloReject { reason: reason.clone() }).await;
            bail!(reason);
        }
    };
    let negotiated = match accept_hello(&hello, &config.token, config.max_frame) {
        Ok(n) => n,
        Err(err) => {
            let _ = sink.send(Message::HelloReject { reason: err.to_string() }).await;
            bail!("handshake refused: {err}");
        }
    };
    frames.decoder_mut().set_max_frame(negotiated.max_frame);
    sink.encoder_mut().set_max_frame(negotiated.max_frame);
    sink.send(Message::HelloAck(HelloAck {
        version: negotiated.version,
        runner_version: env!("CARGO_PKG_VERSION").to_string(),
        pid: cordon_sandbox::launched_pid(),
        platform: std::env::consts::OS.to_string(),
        sandbox: config.sandbox.clone(),
        features: features(),
        max_frame: negotiated.max_frame,
        window: negotiated.window,
        stdin_window: process::MAX_PENDING_INPUT as u32,
    }))
    .await
    .context("sending HelloAck")?;
    tracing::debug!(version = negotiated.version, max_frame = negotiated.max_frame, "handshake done");

    let (out, out_rx) = mpsc::unbounded_channel();
    let (stop_writing, stop) = watch::channel(false);
    let mut writer = tokio::spawn(write_loop(sink, out_rx, stop));
    let cx = Context {
        out: out.clone(),
        reaper: Reaper::start().context("installing the SIGCHLD handler")?,
        window: negotiated.window,
        chunk: MAX_CHUNK.min(negotiated.max_frame as usize - OUTPUT_OVERHEAD),
        table: Table::default(),
        left: Default::default(),
    };
    let mut termination = sys::Termination::new().context("installing the termination handler")?;

    let ending = loop {
        let message = tokio::select! {
            next = frames.next() => next,
            _ = termination.recv() => break Ending::Terminated,
        };
        match message {
            None => break Ending::ChannelClosed,
            Some(Err(err)) => {
                tracing::warn!(%err, "bad frame from the parent; closing the channel");
                let _ = out.send(Message::Error {
                    id: None,
                    kind: ErrorKind::Protocol,
                    message: err.to_string(),
                });
                break Ending::ProtocolError;
            }
            Some(Ok(Message::Shutdown {})) => break Ending::Shutdown,
            Some(Ok(message)) => {
                if let Err(reason) = dispatch(message, &cx) {
                    tracing::warn!(%reason, "protocol violation; closing the channel");
                    let _ = out.send(Message::Error { id: None, kind: ErrorKind::Protocol, message: reason });
                    break Ending::ProtocolError;
                }
            }
        }
    };
    tracing::debug!(?ending, "session ending");

    // Kill every tree.
    let handles: Vec<_> = cx.table.lock().expect("process table lock").values().cloned().collect();
    for handle in &handles {
        let _ = handle.control.send(Control::Shutdown);
    }
    if ending == Ending::Shutdown {
        // Every process reports its Exited after the rest of its output, so
        // keep reading the parent's Acks until the table is empty.
        let deadline = tokio::time::sleep(SHUTDOWN_GRACE);
        tokio::pin!(deadline);
        loop {
            // Armed before the check, so a process leaving in between is
            // not missed.
            let left = cx.left.notified();
            tokio::pin!(left);
            left.as_mut().enable();
            if cx.table.lock().expect("process table lock").is_empty() {
                break;
            }
            tokio::select! {
                _ = &mut deadline => break,
                _ = &mut left => {}
                next = frames.next() => match next {
                    Some(Ok(Message::Ack { id, bytes })) => {
                        let _ = dispatch(Message::Ack { id, bytes }, &cx);
                    }
                    Some(Ok(other)) => tracing::debug!(message = other.name(), "ignored during shutdown"),
                    Some(Err(_)) | None => break,
                },
            }
        }
    }
    sys::kill_all_descendants();
    drop(cx);
    drop(out);
    let mut written = false;
    if matches!(ending, Ending::Shutdown | Ending::ProtocolError) {
        // Deliver what is queued (the Exited reports, or the protocol
        // error): the queue closes once the last process task is gone.
        written = tokio::time::timeout(FLUSH_GRACE, &mut writer).await.is_ok();
    }
    // Nothing more, but never half a frame: the writer stops at the next
    // frame boundary and closes the channel. Only a parent that stops
    // reading for that long can see a frame cut off.
    let _ = stop_writing.send(true);
    if !written && tokio::time::timeout(FLUSH_GRACE, &mut writer).await.is_err() {
        tracing::debug!("the parent stopped reading; closing the channel mid-frame");
        writer.abort();
    }
    if matches!(ending, Ending::Shutdown | Ending::ProtocolError) {
        // Consume what the parent already sent (late Acks): closing a
        // socket with unread data makes the parent's read end in
        // ECONNRESET instead of a clean end of stream.
        while let Some(Some(_)) = frames.next().now_or_never() {}
    }
    Ok(ending)
}

/// Carries out one request. `Err` is a protocol violation that ends the
/// session.
fn dispatch(message: Message, cx: &Context) -> Result<(), String> {
    let table = &cx.table;
    let send_to = |id, request: Control| {
        let handle = table.lock().expect("process table lock").get(&id).cloned();
        match handle {
            Some(handle) => {
                let _ = handle.control.send(request);
            }
            None => {
                let _ = cx.out.send(Message::Error {
                    id: Some(id),
                    kind: ErrorKind::UnknownProcess,
                    message: format!("no live process with id {id}"),
                });
            }
        }
    };
    match message {
        Message::Spawn(spawn) => {
            let id = spawn.id;
            if table.lock().expect("process table lock").contains_key(&id) {
                let error = SpawnError {
                    kind: SpawnErrorKind::InvalidRequest,
                    message: format!("id {id} is already in use by a live process"),
                    os_code: None,
                };
                let _ = cx.out.send(Message::SpawnFailed { id, error });
                return Ok(());
            }
            match process::start(spawn, cx) {
                Ok(handle) => {
                    table.lock().expect("process table lock").insert(id, handle);
                }
                Err(error) => {
                    let _ = cx.out.send(Message::SpawnFailed { id, error });
                }
            }
        }
        Message::Stdin { id, data } => send_to(id, Control::Stdin(data)),
        Message::CloseStdin { id } => send_to(id, Control::CloseStdin),
        Message::Resize { id, rows, cols } => send_to(id, Control::Resize(cordon_ipc::Size { rows, cols })),
        Message::Signal { id, signal } => send_to(id, Control::Signal(signal)),
        Message::Terminate { id } => send_to(id, Control::Terminate),
        Message::Ack { id, bytes } => {
            // An Ack racing a process's exit is normal: ignore unknown ids.
            if let Some(handle) = table.lock().expect("process table lock").get(&id) {
                let _ = handle.control.send(Control::Ack(bytes));
            }
        }
        Message::Poll { id } => {
            let status = table.lock().expect("process table lock").get(&id).map(|h| h.status());
            let reply = match status {
                Some(status) => Message::Status(status),
                None => Message::Error {
                    id: Some(id),
                    kind: ErrorKind::UnknownProcess,
                    message: format!("no live process with id {id}"),
                },
            };
            let _ = cx.out.send(reply);
        }
        Message::List {} => {
            let mut processes: Vec<_> =
                table.lock().expect("process table lock").values().map(|h| h.status()).collect();
            processes.sort_by_key(|p| p.id);
            let _ = cx.out.send(Message::Processes { processes });
        }
        other => return Err(format!("{} is not a request a parent may send", other.name())),
    }
    Ok(())
}

/// The capabilities this runner announces in `HelloAck.features`.
fn features() -> Vec<String> {
    let mut features = vec!["pty", "tree-kill", "flow-control", "timeout", "stdin-ack"];
    if crate::sys::DETECTS_AWAITING_INPUT {
        features.push("awaiting-input");
    }
    features.into_iter().map(String::from).collect()
}

/// Queues one message. One that cannot be encoded (larger than the frame
/// maximum: a `Processes` list of very long command lines, say) is replaced
/// by an `Error` saying so, rather than silently ending the channel.
async fn feed<W: AsyncWrite + Unpin>(
    sink: &mut FramedWrite<W, MessageCodec>,
    message: Message,
) -> Result<(), ()> {
    let name = message.name();
    let result = match sink.feed(message).await {
        Err(err @ (cordon_ipc::Error::Encode(_) | cordon_ipc::Error::MessageTooLarge { .. })) => {
            let reason = err.to_string();
            tracing::warn!(%reason, "message dropped");
            let error = Message::Error {
                id: None,
                kind: ErrorKind::InvalidRequest,
                message: format!("the {name} answer does not fit in a frame: {reason}"),
            };
            sink.feed(error).await
        }
        other => other,
    };
    result.map_err(|err| tracing::debug!(%err, "writing to the parent failed"))
}

/// Writes queued messages, flushing whenever the queue runs dry, until the
/// queue closes or `stop` is set; then closes the channel.
///
/// Only whole frames reach the channel: the sink buffers whole frames, and
/// a write under way is always finished (never cancelled), so `stop` takes
/// effect between flushes, at a frame boundary.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut sink: FramedWrite<W, MessageCodec>,
    mut queue: mpsc::UnboundedReceiver<Message>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let message = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            message = queue.recv() => match message {
                Some(message) => message,
                None => break,
            },
        };
        if feed(&mut sink, message).await.is_err() {
            return;
        }
        while !*stop.borrow()
            && let Ok(message) = queue.try_recv()
        {
            if feed(&mut sink, message).await.is_err() {
                return;
            }
        }
        if let Err(err) = sink.flush().await {
            tracing::debug!(%err, "writing to the parent failed");
            return;
        }
    }
    let _ = sink.close().await;
}
