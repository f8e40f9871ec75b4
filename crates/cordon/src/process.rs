//! A running process: its events as they arrive, its input, and the signals
//! and kills that reach its tree. [`Process`] is the handle; the channel
//! underneath is [`crate::connection`].

use std::sync::Arc;

use cordon_ipc::{ErrorKind, Message, ProcessId, Signal, Size, Stream};
use tokio::sync::mpsc;

use crate::capture::{DEFAULT_OUTPUT_LIMIT, HeadTail};
use crate::connection::{Connection, ProcessShared, Routed};
use crate::error::{Error, Result};
use crate::event::{Event, ExitStatus, Output, ProcessState};

/// Room in a frame for everything of a `Stdin` message but its data.
const STDIN_OVERHEAD: usize = 64;

/// A process running in the sandbox.
///
/// Output is consumed through [`Process::next_event`]; consuming it is what
/// lets the runner send more (flow control), so a process whose events are
/// not read stalls on its writes, like a process writing to a full pipe,
/// while other processes go on. Dropping a `Process` before it exited kills
/// its tree.
#[derive(Debug)]
pub struct Process {
    id: ProcessId,
    pid: u32,
    tty: bool,
    conn: Arc<Connection>,
    events: mpsc::UnboundedReceiver<Routed>,
    shared: Arc<ProcessShared>,
    finished: bool,
    /// Output handed to the application and not yet acknowledged.
    consumed: u64,
    /// `process{id, program, tty, pid}`, inside the sandbox's span.
    span: tracing::Span,
}

impl Process {
    pub(crate) fn new(
        id: ProcessId,
        pid: u32,
        tty: bool,
        conn: Arc<Connection>,
        events: mpsc::UnboundedReceiver<Routed>,
        shared: Arc<ProcessShared>,
        span: tracing::Span,
    ) -> Self {
        Process { id, pid, tty, conn, events, shared, finished: false, consumed: 0, span }
    }

    /// The id on the channel.
    pub fn id(&self) -> ProcessId {
        self.id
    }

    /// The operating-system pid, as the runner sees it.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The next event; `Ok(None)` after [`Event::Exited`] was returned. If the
    /// runner dies first, `Err(Error::RunnerGone)`.
    pub async fn next_event(&mut self) -> Result<Option<Event>> {
        if self.finished {
            return Ok(None);
        }
        match self.events.recv().await {
            Some(Routed::Output { stream, data }) => {
                // Consumed: open the window by as much, in batches. The
                // batch is a fraction of the window, so a full window always
                // has an acknowledgement on its way.
                self.consumed += data.len() as u64;
                if self.consumed >= self.conn.ack_threshold {
                    let _ = self.conn.send(Message::Ack { id: self.id, bytes: self.consumed });
                    self.consumed = 0;
                }
                Ok(Some(Event::Output { stream, data }))
            }
            Some(Routed::Error { kind, message }) => Ok(Some(Event::Error { kind, message })),
            Some(Routed::Exited(status)) => {
                self.finished = true;
                tracing::debug!(
                    parent: &self.span,
                    code = status.code,
                    signal = status.signal,
                    timed_out = status.timed_out,
                    duration_ms = status.duration.as_millis() as u64,
                    "exited"
                );
                Ok(Some(Event::Exited(status)))
            }
            None => {
                let err = self.conn.gone();
                tracing::debug!(parent: &self.span, error = %err, "lost with its runner");
                Err(err)
            }
        }
    }

    /// Writes to the process's stdin (or terminal). Large writes are split
    /// into frames. Input is flow-controlled: this waits while the runner
    /// holds a full stdin window of this process's input, so a process that
    /// does not read its input slows its writer down rather than losing
    /// bytes. Returns once the bytes are on their way to the runner.
    pub async fn write_stdin(&self, data: impl AsRef<[u8]>) -> Result<()> {
        self.stdin_writer().write(data).await
    }

    /// Ends the process's input: closes the pipe, or sends the terminal's
    /// end-of-file character.
    pub async fn close_stdin(&self) -> Result<()> {
        self.stdin_writer().close().await
    }

    /// A handle for the process's input that can live in another task while
    /// this one reads events.
    pub fn stdin_writer(&self) -> StdinWriter {
        StdinWriter { id: self.id, conn: self.conn.clone(), shared: self.shared.clone() }
    }

    /// Resizes the process's terminal.
    pub async fn resize(&self, size: Size) -> Result<()> {
        self.check_running()?;
        if !self.tty {
            return Err(Error::Request {
                kind: ErrorKind::InvalidRequest,
                message: "resize: the process has no terminal".into(),
            });
        }
        self.conn.send(Message::Resize { id: self.id, rows: size.rows, cols: size.cols })
    }

    /// Sends a signal to the process's group (on a PTY, its foreground group).
    pub async fn signal(&self, signal: Signal) -> Result<()> {
        self.check_running()?;
        tracing::debug!(parent: &self.span, ?signal, "signal");
        self.conn.send(Message::Signal { id: self.id, signal })
    }

    /// Kills the process and all its descendants. Its `Exited` follows.
    pub async fn terminate(&self) -> Result<()> {
        if self.shared.exit.get().is_some() {
            return Ok(());
        }
        tracing::debug!(parent: &self.span, "terminate");
        self.conn.send(Message::Terminate { id: self.id })
    }

    /// Asks the runner where the process is.
    pub async fn status(&self) -> Result<ProcessState> {
        if let Some(status) = self.shared.exit.get() {
            return Ok(ProcessState::Exited(*status));
        }
        match self.conn.poll(self.id).await {
            Ok(status) => Ok(ProcessState::Running(status)),
            // The Exited was read before the answer: the reader recorded it.
            Err(err) => match self.shared.exit.get() {
                Some(status) => Ok(ProcessState::Exited(*status)),
                None => Err(err),
            },
        }
    }

    /// Waits for the end, discarding output.
    pub async fn wait(&mut self) -> Result<ExitStatus> {
        loop {
            match self.next_event().await? {
                Some(Event::Exited(status)) => return Ok(status),
                Some(_) => {}
                None => return self.shared.exit.get().copied().ok_or(Error::Exited),
            }
        }
    }

    /// Waits for the end, collecting the output: all of it up to
    /// [`DEFAULT_OUTPUT_LIMIT`] bytes per stream, past that the first and
    /// last halves, with what was dropped counted.
    pub async fn output(self) -> Result<Output> {
        self.output_within(DEFAULT_OUTPUT_LIMIT).await
    }

    /// [`output`](Self::output), keeping at most `limit` bytes of each
    /// stream (the first and the last halves); `u64::MAX` keeps everything.
    pub async fn output_within(mut self, limit: u64) -> Result<Output> {
        let (mut stdout, mut stderr) = (HeadTail::new(limit), HeadTail::new(limit));
        loop {
            match self.next_event().await? {
                Some(Event::Output { stream: Stream::Stderr, data }) => stderr.push(&data),
                Some(Event::Output { data, .. }) => stdout.push(&data),
                Some(Event::Error { kind, message }) => {
                    tracing::warn!(parent: &self.span, ?kind, %message, "runner error")
                }
                Some(Event::Exited(status)) => {
                    let (stdout_dropped, stderr_dropped) = (stdout.dropped(), stderr.dropped());
                    return Ok(Output {
                        status,
                        stdout: stdout.into_kept(),
                        stderr: stderr.into_kept(),
                        stdout_dropped,
                        stderr_dropped,
                    });
                }
                None => return Err(Error::Exited),
            }
        }
    }

    fn check_running(&self) -> Result<()> {
        if self.shared.exit.get().is_some() { Err(Error::Exited) } else { Ok(()) }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.shared.exit.get().is_none() {
            tracing::debug!(parent: &self.span, "dropped while running; terminating its tree");
            // Nobody will read its output: have it discarded (and
            // acknowledged) as it comes, so the tree dies and reports.
            self.conn.detach(self.id);
            // What was routed here before the detach is acknowledged too.
            let mut unacked = self.consumed;
            while let Ok(event) = self.events.try_recv() {
                if let Routed::Output { data, .. } = event {
                    unacked += data.len() as u64;
                }
            }
            if unacked > 0 {
                let _ = self.conn.send(Message::Ack { id: self.id, bytes: unacked });
            }
            let _ = self.conn.send(Message::Terminate { id: self.id });
        }
    }
}

/// The input side of a [`Process`], usable from another task.
#[derive(Debug, Clone)]
pub struct StdinWriter {
    id: ProcessId,
    conn: Arc<Connection>,
    shared: Arc<ProcessShared>,
}

impl StdinWriter {
    /// Writes to the process's input; see [`Process::write_stdin`].
    pub async fn write(&self, data: impl AsRef<[u8]>) -> Result<()> {
        // However large frames may be, input goes in pieces of at most the
        // default size, so one write never holds the channel for long.
        let frame_room = self.conn.max_frame.min(cordon_ipc::DEFAULT_MAX_FRAME) as usize - STDIN_OVERHEAD;
        let max = frame_room.min(self.conn.stdin_window as usize);
        for chunk in data.as_ref().chunks(max) {
            self.reserve(chunk.len() as u64).await?;
            self.conn.send(Message::Stdin { id: self.id, data: chunk.to_vec() })?;
        }
        Ok(())
    }

    /// Ends the process's input; see [`Process::close_stdin`].
    pub async fn close(&self) -> Result<()> {
        self.check_running()?;
        self.conn.send(Message::CloseStdin { id: self.id })
    }

    /// Waits until `bytes` more fit in the stdin window, and takes them.
    async fn reserve(&self, bytes: u64) -> Result<()> {
        loop {
            let changed = self.shared.input_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            self.check_running()?;
            if self.conn.is_dead() {
                return Err(self.conn.gone());
            }
            {
                let mut in_flight = self.shared.input_in_flight.lock().expect("input lock");
                if *in_flight + bytes <= self.conn.stdin_window {
                    *in_flight += bytes;
                    return Ok(());
                }
            }
            changed.await;
        }
    }

    fn check_running(&self) -> Result<()> {
        if self.shared.exit.get().is_some() { Err(Error::Exited) } else { Ok(()) }
    }
}
