//! The client end of one channel: a writer task that sends frames, a reader
//! task that routes each incoming message to whoever waits for it, and the
//! rule that when the channel dies every waiter learns why, at once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use cordon_ipc::{
    ErrorKind, Message, MessageCodec, ProcessId, ProcessStatus, SpawnError, Stream, encode_frame,
};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{FramedRead, FramedWrite};
use tracing::Instrument;

use crate::error::{Error, Result, RunnerGone};
use crate::event::ExitStatus;

/// An event of one process, in the order the runner sent it.
#[derive(Debug)]
pub(crate) enum Routed {
    Output { stream: Stream, data: Vec<u8> },
    Exited(ExitStatus),
    Error { kind: ErrorKind, message: String },
}

/// Per-process state the reader fills in.
#[derive(Debug, Default)]
pub(crate) struct ProcessShared {
    /// Set when `Exited` arrives.
    pub exit: OnceLock<ExitStatus>,
    /// Input sent and not yet acknowledged by `StdinAck`.
    pub input_in_flight: Mutex<u64>,
    /// Woken on `StdinAck`, `Exited` and the channel's death.
    pub input_changed: tokio::sync::Notify,
}

/// Where a process's events go. A detached process (its `Process` was
/// dropped, or its spawn abandoned) has its output acknowledged and
/// discarded, so its window never stays shut.
#[derive(Debug)]
struct Route {
    events: Option<mpsc::UnboundedSender<Routed>>,
    shared: Arc<ProcessShared>,
}

/// What the writer task is asked to do.
#[derive(Debug)]
enum Outgoing {
    /// A whole frame, already encoded and checked against the maximum by
    /// the sender, so a request too large fails its own call and never the
    /// channel.
    Frame(Vec<u8>),
    /// Close the channel (the runner then kills everything and exits).
    Close,
}

#[derive(Default)]
struct Waiters {
    spawns: HashMap<ProcessId, oneshot::Sender<Result<u32, SpawnError>>>,
    routes: HashMap<ProcessId, Route>,
    polls: HashMap<ProcessId, VecDeque<oneshot::Sender<Result<ProcessStatus>>>>,
    lists: VecDeque<oneshot::Sender<Result<Vec<ProcessStatus>>>>,
    /// Why the channel died, once it has.
    dead: Option<RunnerGone>,
}

/// A live channel to a runner.
pub(crate) struct Connection {
    out: mpsc::UnboundedSender<Outgoing>,
    waiters: Arc<Mutex<Waiters>>,
    closed: tokio::sync::watch::Receiver<bool>,
    /// The negotiated maximum frame body.
    pub max_frame: u32,
    /// Consumed output is acknowledged once this much has built up (or the
    /// process's window would otherwise stay shut).
    pub ack_threshold: u64,
    /// Input a process may have unacknowledged.
    pub stdin_window: u64,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("max_frame", &self.max_frame).finish_non_exhaustive()
    }
}

impl Connection {
    /// Starts the reader and writer tasks on an established (handshaken)
    /// channel, inside `span` (the runner's).
    pub fn start<R, W>(
        frames: FramedRead<R, MessageCodec>,
        sink: FramedWrite<W, MessageCodec>,
        max_frame: u32,
        window: u32,
        stdin_window: u32,
        span: tracing::Span,
    ) -> Connection
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (out, out_rx) = mpsc::unbounded_channel();
        let waiters = Arc::new(Mutex::new(Waiters::default()));
        let (closed_tx, closed) = tokio::sync::watch::channel(false);
        // The handshake flushed everything the framed writer buffered.
        let writer = BufWriter::with_capacity(256 * 1024, sink.into_inner());
        tokio::spawn(write_loop(writer, out_rx, waiters.clone()).instrument(span.clone()));
        tokio::spawn(read_loop(frames, waiters.clone(), closed_tx, out.clone(), max_frame).instrument(span));
        // A quarter window: the runner never runs dry while acks are batched.
        let ack_threshold = (window as u64 / 4).max(1);
        Connection { out, waiters, closed, max_frame, ack_threshold, stdin_window: stdin_window.into() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiters.lock().expect("connection lock")
    }

    /// The error for a call that finds the channel dead: why it died, or,
    /// if the reader has not recorded that yet, that it is closed.
    pub fn gone(&self) -> Error {
        let gone = self.lock().dead.clone();
        Error::RunnerGone(gone.unwrap_or_else(|| RunnerGone::new("the channel is closed")))
    }

    /// Queues a message for the runner; one that does not fit in a frame
    /// is refused here, without touching the channel.
    pub fn send(&self, message: Message) -> Result<()> {
        let frame = self.encode(&message)?;
        self.send_frame(frame)
    }

    /// Encodes a message as a frame within the channel's maximum.
    fn encode(&self, message: &Message) -> Result<Vec<u8>> {
        encode_frame(message, self.max_frame).map_err(|err| match err {
            cordon_ipc::Error::MessageTooLarge { message, len, max } => {
                Error::RequestTooLarge { message, size: len, max }
            }
            other => Error::Request { kind: ErrorKind::InvalidRequest, message: other.to_string() },
        })
    }

    fn send_frame(&self, frame: Vec<u8>) -> Result<()> {
        if self.lock().dead.is_some() {
            return Err(self.gone());
        }
        self.out.send(Outgoing::Frame(frame)).map_err(|_| self.gone())
    }

    /// Whether the channel has died.
    pub fn is_dead(&self) -> bool {
        self.lock().dead.is_some()
    }

    /// Stops delivering the process's events: its output is acknowledged
    /// and dropped as it arrives.
    pub fn detach(&self, id: ProcessId) {
        if let Some(route) = self.lock().routes.get_mut(&id) {
            route.events = None;
        }
    }

    /// Closes the channel; the runner kills every process and exits.
    pub fn close(&self) {
        let _ = self.out.send(Outgoing::Close);
    }

    /// Sends `Spawn` and waits for `Spawned` or `SpawnFailed`. The route for
    /// the process's events exists before the request leaves.
    pub async fn spawn(
        &self,
        spawn: cordon_ipc::Spawn,
    ) -> Result<(u32, mpsc::UnboundedReceiver<Routed>, Arc<ProcessShared>)> {
        let id = spawn.id;
        // Checked before any waiter exists, so a refusal leaves nothing behind.
        let frame = self.encode(&Message::Spawn(spawn))?;
        let (reply_tx, reply) = oneshot::channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let shared = Arc::new(ProcessShared::default());
        {
            let mut w = self.lock();
            if let Some(gone) = &w.dead {
                return Err(Error::RunnerGone(gone.clone()));
            }
            w.spawns.insert(id, reply_tx);
            w.routes.insert(id, Route { events: Some(events_tx), shared: shared.clone() });
        }
        self.send_frame(frame)?;
        match reply.await {
            Ok(Ok(pid)) => Ok((pid, events, shared)),
            Ok(Err(e)) => Err(Error::Spawn { kind: e.kind, message: e.message, os_code: e.os_code }),
            Err(_) => Err(self.gone()),
        }
    }

    /// Sends `Poll` and waits for the answer.
    pub async fn poll(&self, id: ProcessId) -> Result<ProcessStatus> {
        let (tx, rx) = oneshot::channel();
        self.lock().polls.entry(id).or_default().push_back(tx);
        self.send(Message::Poll { id })?;
        rx.await.map_err(|_| self.gone())?
    }

    /// Sends `List` and waits for the answer.
    pub async fn list(&self) -> Result<Vec<ProcessStatus>> {
        let (tx, rx) = oneshot::channel();
        self.lock().lists.push_back(tx);
        self.send(Message::List {})?;
        rx.await.map_err(|_| self.gone())?
    }

    /// Resolves once the channel is closed (by either side).
    pub async fn closed(&self) {
        let mut closed = self.closed.clone();
        let _ = closed.wait_for(|c| *c).await;
    }
}

/// Marks the channel dead and fails every waiter (dropping their senders).
fn kill(waiters: &Mutex<Waiters>, gone: RunnerGone) {
    let mut w = waiters.lock().expect("connection lock");
    if w.dead.is_none() {
        tracing::debug!(reason = gone.reason(), io_error = ?gone.io_error(), "channel closed");
        w.dead = Some(gone);
    }
    w.spawns.clear();
    for route in w.routes.values() {
        route.shared.input_changed.notify_waiters();
    }
    w.routes.clear();
    w.polls.clear();
    w.lists.clear();
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: BufWriter<W>,
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    waiters: Arc<Mutex<Waiters>>,
) {
    let mut next = queue.recv().await;
    while let Some(Outgoing::Frame(frame)) = next {
        let mut result = writer.write_all(&frame).await;
        next = None;
        while result.is_ok() {
            match queue.try_recv() {
                Ok(Outgoing::Frame(frame)) => result = writer.write_all(&frame).await,
                Ok(Outgoing::Close) => {
                    next = Some(Outgoing::Close);
                    break;
                }
                Err(_) => break,
            }
        }
        if result.is_ok() {
            result = writer.flush().await;
        }
        if let Err(err) = result {
            kill(&waiters, RunnerGone::io("writing to the runner failed", err));
            return;
        }
        if next.is_none() {
            next = queue.recv().await;
        }
    }
    let _ = writer.shutdown().await;
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut frames: FramedRead<R, MessageCodec>,
    waiters: Arc<Mutex<Waiters>>,
    closed: tokio::sync::watch::Sender<bool>,
    out: mpsc::UnboundedSender<Outgoing>,
    max_frame: u32,
) {
    // The reader's own messages (Ack, Terminate) are small: they always fit.
    let out = move |message: Message| {
        if let Ok(frame) = encode_frame(&message, max_frame) {
            let _ = out.send(Outgoing::Frame(frame));
        }
    };
    let gone = loop {
        let message = match frames.next().await {
            None => break RunnerGone::new("the runner closed the channel"),
            Some(Err(cordon_ipc::Error::Io(err))) => {
                break RunnerGone::io("reading from the runner failed", err);
            }
            Some(Err(err)) => break RunnerGone::new(format!("the runner broke the wire format: {err}")),
            Some(Ok(message)) => message,
        };
        if let Err(reason) = route(message, &waiters, &out) {
            break RunnerGone::new(reason);
        }
    };
    kill(&waiters, gone);
    let _ = closed.send(true);
}

/// Hands one message to its waiter. `Err` ends the channel.
fn route(message: Message, waiters: &Mutex<Waiters>, out: &impl Fn(Message)) -> Result<(), String> {
    let mut w = waiters.lock().expect("connection lock");
    match message {
        Message::Spawned { id, pid } => {
            let delivered = w.spawns.remove(&id).is_some_and(|tx| tx.send(Ok(pid)).is_ok());
            if !delivered {
                // Nobody waits for it any more (the spawn was cancelled): it
                // must not run unsupervised.
                tracing::debug!(id, "spawn abandoned; terminating it");
                if let Some(route) = w.routes.get_mut(&id) {
                    route.events = None;
                }
                out(Message::Terminate { id });
            }
        }
        Message::SpawnFailed { id, error } => {
            w.routes.remove(&id);
            if let Some(tx) = w.spawns.remove(&id) {
                let _ = tx.send(Err(error));
            }
        }
        Message::Output { id, stream, data } => match w.routes.get(&id) {
            Some(Route { events: Some(tx), .. }) => {
                let _ = tx.send(Routed::Output { stream, data });
            }
            Some(Route { events: None, .. }) => {
                out(Message::Ack { id, bytes: data.len() as u64 });
            }
            None => {}
        },
        Message::StdinAck { id, bytes } => {
            if let Some(route) = w.routes.get(&id) {
                let mut in_flight = route.shared.input_in_flight.lock().expect("input lock");
                *in_flight = in_flight.saturating_sub(bytes);
                route.shared.input_changed.notify_waiters();
            }
        }
        Message::Exited(exited) => {
            if let Some(route) = w.routes.remove(&exited.id) {
                let status = ExitStatus::from(&exited);
                let _ = route.shared.exit.set(status);
                route.shared.input_changed.notify_waiters();
                if let Some(tx) = route.events {
                    let _ = tx.send(Routed::Exited(status));
                }
            }
        }
        Message::Status(status) => {
            if let Some(tx) = w.polls.get_mut(&status.id).and_then(VecDeque::pop_front) {
                let _ = tx.send(Ok(status));
            }
        }
        Message::Processes { processes } => {
            if let Some(tx) = w.lists.pop_front() {
                let _ = tx.send(Ok(processes));
            }
        }
        Message::Error { id: Some(id), kind, message } => {
            let poll = match kind {
                ErrorKind::UnknownProcess => w.polls.get_mut(&id).and_then(VecDeque::pop_front),
                _ => None,
            };
            if let Some(tx) = poll {
                let _ = tx.send(Err(Error::Request { kind, message }));
            } else if let Some(Route { events: Some(tx), .. }) = w.routes.get(&id) {
                let _ = tx.send(Routed::Error { kind, message });
            } else {
                tracing::debug!(id, ?kind, %message, "runner error about a process nobody follows");
            }
        }
        Message::Error { id: None, kind: ErrorKind::Protocol, message } => {
            return Err(format!("the runner reported a protocol error: {message}"));
        }
        // The only other error without an id: an answer to List too large
        // for a frame.
        Message::Error { id: None, kind, message } => match w.lists.pop_front() {
            Some(tx) => {
                let _ = tx.send(Err(Error::Request { kind, message }));
            }
            None => tracing::warn!(?kind, %message, "runner error"),
        },
        other => return Err(format!("the runner sent {}, which only a parent may send", other.name())),
    }
    Ok(())
}
