//! One process's life inside the runner: spawn, pump its output under flow
//! control, feed its input, carry out control requests, and report its exit
//! after the last of its output.
//!
//! Each process is one task that owns everything about it, so its messages
//! leave in the order it produced them: `Spawned`, its `Output` in order,
//! then exactly one `Exited`.

use std::collections::HashMap;
use std::future::pending;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cordon_ipc::{
    ErrorKind, Exited, FlowWindow, Message, OsBytes, ProcessId, ProcessStatus, Signal, Size, Spawn,
    SpawnError, Stream,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant as TokioInstant, sleep_until};
use tracing::Instrument;

use crate::sys::{
    self, ExitStatus, InputPipe, InputWatch, OutputPipe, ProcessTree, Reaper, SpawnSpec, StdioMode, Terminal,
};

/// Input accepted for a process and not yet written, at most: the stdin
/// window announced in `HelloAck`. A parent that sends past it gets an error
/// rather than a buffer without bound.
pub const MAX_PENDING_INPUT: usize = cordon_ipc::DEFAULT_STDIN_WINDOW as usize;

/// After a PTY process exits, output still in the terminal's buffers is
/// read until this much quiet (or the terminal's end of file)...
const PTY_QUIET_AFTER_EXIT: Duration = Duration::from_millis(100);

/// ...but for no longer than this, counted while the window lets us read: a
/// descendant that keeps the terminal open and keeps writing cannot hold
/// back the `Exited`.
const PTY_DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// After `Shutdown`, how long a killed process's remaining output is still
/// offered before it is dropped and `Exited` is sent regardless.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(1);

/// What the session asks of a process.
#[derive(Debug)]
pub enum Control {
    /// Bytes for its input.
    Stdin(Vec<u8>),
    /// End of its input.
    CloseStdin,
    /// New terminal size.
    Resize(Size),
    /// A signal for its process group.
    Signal(Signal),
    /// Kill its whole tree.
    Terminate,
    /// The session is ending: kill the tree, offer the rest of the output
    /// briefly, then report `Exited` even if the parent stopped reading.
    Shutdown,
    /// The parent consumed this many output bytes.
    Ack(u64),
}

/// The session's handle on a live process.
#[derive(Debug, Clone)]
pub struct Handle {
    /// Requests for the process's task.
    pub control: mpsc::UnboundedSender<Control>,
    state: Arc<Mutex<Snapshot>>,
}

impl Handle {
    /// The process's status now.
    pub fn status(&self) -> ProcessStatus {
        let (mut status, input_watch) = {
            let s = self.state.lock().expect("process state lock");
            let status = ProcessStatus {
                id: s.id,
                pid: s.pid,
                argv: s.argv.clone(),
                tty: s.tty,
                running: s.running,
                elapsed_ms: s.started.elapsed().as_millis() as u64,
                unacked_bytes: s.unacked,
                awaiting_input: false,
            };
            (status, s.input_watch.filter(|_| s.running))
        };
        // Read outside the lock: it walks /proc.
        status.awaiting_input = input_watch.is_some_and(|watch| watch.awaiting_input());
        status
    }
}

#[derive(Debug)]
struct Snapshot {
    id: ProcessId,
    pid: u32,
    argv: Vec<OsBytes>,
    tty: bool,
    started: Instant,
    running: bool,
    unacked: u64,
    input_watch: Option<InputWatch>,
}

/// The live processes of a session, by id.
pub type Table = Arc<Mutex<HashMap<ProcessId, Handle>>>;

/// What every process of a session shares.
#[derive(Debug, Clone)]
pub struct Context {
    /// Messages to the parent.
    pub out: mpsc::UnboundedSender<Message>,
    /// Exit statuses.
    pub reaper: Reaper,
    /// Flow-control window per process.
    pub window: u32,
    /// Largest output chunk per `Output` message.
    pub chunk: usize,
    /// The session's process table; a process removes itself after `Exited`.
    pub table: Table,
    /// Woken whenever a process leaves the table.
    pub left: Arc<tokio::sync::Notify>,
}

/// Spawns the process, sends `Spawned` and starts its task; or returns why
/// it could not be spawned.
pub fn start(spawn: Spawn, cx: &Context) -> Result<Handle, SpawnError> {
    let stdio = match spawn.tty {
        Some(size) => StdioMode::Pty(size),
        None => StdioMode::Pipes { stdin: spawn.stdin },
    };
    let cwd = spawn.cwd.as_ref().map(sys::path_of).transpose()?;
    let spec = SpawnSpec { argv: &spawn.argv, cwd: cwd.as_deref(), env: &spawn.env, stdio };
    let child = sys::spawn(&spec)?;
    let started = Instant::now();
    // Watched before any await: the reaper cannot miss this child.
    let exit = cx.reaper.watch(&child);
    let sys::Child { pid, tree, stdin, stdout, stderr, pty, input_watch, .. } = child;
    // The parent sees pids as the host numbers them, not as the sandbox's
    // PID namespace does.
    let pid = cordon_sandbox::host_pid(pid).unwrap_or_else(|err| {
        tracing::warn!(pid, %err, "reporting the pid as the sandbox numbers it");
        pid
    });
    let state = Arc::new(Mutex::new(Snapshot {
        id: spawn.id,
        pid,
        argv: spawn.argv.clone(),
        tty: spawn.tty.is_some(),
        started,
        running: true,
        unacked: 0,
        input_watch,
    }));
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let handle = Handle { control: control_tx, state: state.clone() };
    let _ = cx.out.send(Message::Spawned { id: spawn.id, pid });
    let input = if pty.is_some() {
        Input::Terminal
    } else {
        match stdin {
            Some(pipe) => Input::Pipe(pipe),
            None => Input::Closed,
        }
    };
    let task = ProcessTask {
        id: spawn.id,
        tree,
        started,
        deadline: spawn.timeout_ms.map(|ms| TokioInstant::now() + Duration::from_millis(ms)),
        cx: cx.clone(),
        state,
        control: control_rx,
        exit_rx: exit,
        exit: None,
        exited_after: None,
        timed_out: false,
        stdout,
        stderr,
        pty_output_open: pty.is_some(),
        pty,
        pty_quiet_until: None,
        pty_drain_spent: Duration::ZERO,
        pty_drain_since: None,
        discard_at: None,
        input,
        pending_input: Vec::new(),
        unacked_input: 0,
        input_line_pending: false,
        close_input_when_flushed: false,
        window: FlowWindow::new(cx.window),
    };
    let span = tracing::debug_span!("process", id = spawn.id, pid);
    tokio::spawn(task.run().instrument(span));
    Ok(handle)
}

enum Input {
    /// No input (pipe mode without stdin, or after `CloseStdin`).
    Closed,
    /// The stdin pipe.
    Pipe(InputPipe),
    /// The terminal (shared with output).
    Terminal,
}

struct ProcessTask {
    id: ProcessId,
    tree: ProcessTree,
    started: Instant,
    deadline: Option<TokioInstant>,
    cx: Context,
    state: Arc<Mutex<Snapshot>>,
    control: mpsc::UnboundedReceiver<Control>,
    exit_rx: oneshot::Receiver<ExitStatus>,
    exit: Option<ExitStatus>,
    exited_after: Option<Duration>,
    timed_out: bool,
    stdout: Option<OutputPipe>,
    stderr: Option<OutputPipe>,
    pty: Option<Terminal>,
    pty_output_open: bool,
    pty_quiet_until: Option<TokioInstant>,
    pty_drain_spent: Duration,
    pty_drain_since: Option<TokioInstant>,
    discard_at: Option<TokioInstant>,
    input: Input,
    pending_input: Vec<u8>,
    /// Input bytes from the parent accepted and not yet acknowledged with
    /// `StdinAck`.
    unacked_input: u64,
    input_line_pending: bool,
    close_input_when_flushed: bool,
    window: FlowWindow,
}

impl ProcessTask {
    async fn run(mut self) {
        loop {
            if self.exit.is_some() {
                self.drain_after_exit();
            }
            let budget = self.window.available().min(self.cx.chunk as u64) as usize;
            if self.exit.is_some() {
                self.account_pty_drain(budget > 0);
                if self.stdout.is_none() && self.stderr.is_none() && !self.pty_output_open {
                    break;
                }
            }
            let input = match &self.input {
                Input::Pipe(pipe) => Some(Writable::Pipe(pipe)),
                Input::Terminal => self.pty.as_ref().map(Writable::Terminal),
                Input::Closed => None,
            };
            let drain_limit =
                self.pty_drain_since.map(|since| since + (PTY_DRAIN_LIMIT - self.pty_drain_spent));
            tokio::select! {
                Some(request) = self.control.recv() => self.on_control(request),
                status = &mut self.exit_rx, if self.exit.is_none() => {
                    self.on_exit(status.unwrap_or(ExitStatus { code: None, signal: None }));
                }
                _ = sleep_until_opt(self.deadline), if self.exit.is_none() && !self.timed_out => {
                    tracing::debug!("timeout: killing the tree");
                    self.timed_out = true;
                    self.tree.kill();
                }
                read = read_pipe(self.stdout.as_ref(), budget), if self.stdout.is_some() && budget > 0 => {
                    self.on_read(Stream::Stdout, read);
                }
                read = read_pipe(self.stderr.as_ref(), budget), if self.stderr.is_some() && budget > 0 => {
                    self.on_read(Stream::Stderr, read);
                }
                read = read_terminal(self.pty.as_ref(), budget), if self.pty_output_open && budget > 0 => {
                    self.on_read(Stream::Pty, read);
                }
                // Quiet is only counted while the window lets us read.
                _ = sleep_until_opt(self.pty_quiet_until), if self.exit.is_some() && self.pty_output_open && budget > 0 => {
                    self.pty_output_open = false;
                }
                // Wakes the loop to account the drain time.
                _ = sleep_until_opt(drain_limit), if drain_limit.is_some() => {}
                _ = sleep_until_opt(self.discard_at), if self.discard_at.is_some() => {
                    tracing::debug!("shutdown: dropping output nobody read");
                    self.discard_at = None;
                    self.stdout = None;
                    self.stderr = None;
                    self.pty_output_open = false;
                }
                written = write_some(input, &self.pending_input), if input.is_some() && !self.pending_input.is_empty() => {
                    self.on_written(written);
                }
            }
        }
        let exit = self.exit.expect("loop ends after exit");
        let duration_ms = self.exited_after.unwrap_or_default().as_millis() as u64;
        let _ = self.cx.out.send(Message::Exited(Exited {
            id: self.id,
            code: exit.code,
            signal: exit.signal,
            timed_out: self.timed_out,
            duration_ms,
        }));
        self.cx.table.lock().expect("process table lock").remove(&self.id);
        self.cx.left.notify_waiters();
    }

    fn on_control(&mut self, request: Control) {
        match request {
            Control::Ack(bytes) => {
                if let Err(err) = self.window.ack(bytes) {
                    self.error(ErrorKind::Protocol, err.to_string());
                }
                self.state.lock().expect("process state lock").unacked = self.window.in_flight();
                if self.exit.is_some() {
                    // The quiet period restarts once reading can resume.
                    self.pty_quiet_until = Some(TokioInstant::now() + PTY_QUIET_AFTER_EXIT);
                }
            }
            Control::Stdin(data) => self.on_stdin(data),
            Control::CloseStdin => self.on_close_stdin(),
            Control::Resize(size) => match &self.pty {
                Some(terminal) => {
                    if let Err(err) = terminal.resize(size) {
                        self.error(ErrorKind::Os, format!("resize: {err}"));
                    }
                }
                None => self.error(ErrorKind::InvalidRequest, "resize: the process has no terminal".into()),
            },
            Control::Signal(signal) => {
                if self.exit.is_none() {
                    if let Err(err) = self.tree.signal(signal, self.pty.as_ref()) {
                        self.error(ErrorKind::Os, format!("signal {signal:?}: {err}"));
                    }
                }
            }
            Control::Terminate => {
                if self.exit.is_none() {
                    self.tree.kill();
                }
            }
            Control::Shutdown => {
                if self.exit.is_none() {
                    self.tree.kill();
                }
                self.discard_at.get_or_insert(TokioInstant::now() + SHUTDOWN_DRAIN);
            }
        }
    }

    fn on_stdin(&mut self, data: Vec<u8>) {
        let len = data.len() as u64;
        if matches!(self.input, Input::Closed) || self.close_input_when_flushed {
            // Acknowledged all the same, so the parent's credit comes back.
            self.ack_input(len);
            let why = if self.exit.is_some() { "the process has exited" } else { "its stdin is closed" };
            return self
                .error(ErrorKind::InvalidRequest, format!("stdin: {} bytes not delivered: {why}", len));
        }
        if self.pending_input.len() + data.len() > MAX_PENDING_INPUT {
            self.ack_input(len);
            return self.error(
                ErrorKind::Protocol,
                format!(
                    "stdin: {len} bytes refused: more than the stdin window of {MAX_PENDING_INPUT} bytes \
                     unacknowledged ({} queued)",
                    self.pending_input.len()
                ),
            );
        }
        if let Some(&last) = data.last() {
            self.input_line_pending = last != b'\n' && last != b'\r';
        }
        self.unacked_input += len;
        self.pending_input.extend_from_slice(&data);
    }

    /// Tells the parent that `bytes` of its input are done with (written,
    /// or dropped with an error), returning its credit.
    fn ack_input(&mut self, bytes: u64) {
        if bytes > 0 {
            let _ = self.cx.out.send(Message::StdinAck { id: self.id, bytes });
        }
    }

    /// Drops queued input, acknowledging the parent's part of it.
    fn drop_pending_input(&mut self) -> u64 {
        let dropped = self.unacked_input;
        self.pending_input.clear();
        self.unacked_input = 0;
        self.ack_input(dropped);
        dropped
    }

    fn on_close_stdin(&mut self) {
        match &self.input {
            Input::Closed => {}
            Input::Terminal => {
                if !self.close_input_when_flushed
                    && let Some(terminal) = &self.pty
                {
                    let eof = terminal.eof_input(self.input_line_pending);
                    self.pending_input.extend_from_slice(&eof);
                    self.close_input_when_flushed = true;
                }
            }
            Input::Pipe(_) => {
                self.close_input_when_flushed = true;
                if self.pending_input.is_empty() {
                    self.input = Input::Closed;
                }
            }
        }
    }

    fn on_written(&mut self, written: io::Result<usize>) {
        match written {
            Ok(n) => {
                self.pending_input.drain(..n);
                // The parent's bytes come first in the queue; a PTY's VEOF
                // bytes, added by the runner, come last.
                let acked = (n as u64).min(self.unacked_input);
                self.unacked_input -= acked;
                self.ack_input(acked);
                if self.pending_input.is_empty() && self.close_input_when_flushed {
                    // A PTY keeps its master for output; only a pipe closes.
                    self.input = Input::Closed;
                }
            }
            Err(err) => {
                let dropped = self.drop_pending_input();
                self.input = Input::Closed;
                if self.exit.is_none() {
                    self.error(
                        ErrorKind::Os,
                        format!("stdin: the process stopped reading ({err}); {dropped} bytes not delivered"),
                    );
                }
            }
        }
    }

    fn on_exit(&mut self, status: ExitStatus) {
        tracing::debug!(?status, "exited");
        self.exit = Some(status);
        self.exited_after = Some(self.started.elapsed());
        self.state.lock().expect("process state lock").running = false;
        self.pty_quiet_until = Some(TokioInstant::now() + PTY_QUIET_AFTER_EXIT);
        self.drop_pending_input();
        self.input = Input::Closed;
    }

    fn on_read(&mut self, stream: Stream, read: io::Result<Vec<u8>>) {
        match read {
            Ok(data) if !data.is_empty() => {
                if stream == Stream::Pty && self.exit.is_some() {
                    self.pty_quiet_until = Some(TokioInstant::now() + PTY_QUIET_AFTER_EXIT);
                }
                self.send_output(stream, data);
            }
            Ok(_) => self.close_output(stream),
            Err(err) => {
                self.error(ErrorKind::Os, format!("reading {stream:?}: {err}"));
                self.close_output(stream);
            }
        }
    }

    fn send_output(&mut self, stream: Stream, data: Vec<u8>) {
        self.window.consume(data.len() as u64);
        self.state.lock().expect("process state lock").unacked = self.window.in_flight();
        let _ = self.cx.out.send(Message::Output { id: self.id, stream, data });
    }

    fn close_output(&mut self, stream: Stream) {
        match stream {
            Stream::Stdout => self.stdout = None,
            Stream::Stderr => self.stderr = None,
            Stream::Pty => self.pty_output_open = false,
        }
    }

    /// Counts the time spent draining a PTY after exit while reading was
    /// possible, and stops at the limit.
    fn account_pty_drain(&mut self, can_read: bool) {
        if !self.pty_output_open {
            self.pty_drain_since = None;
            return;
        }
        let now = TokioInstant::now();
        if let Some(since) = self.pty_drain_since.take() {
            self.pty_drain_spent += now - since;
        }
        if self.pty_drain_spent >= PTY_DRAIN_LIMIT {
            tracing::debug!("pty still written to after exit; stop reading it");
            self.pty_output_open = false;
        } else if can_read {
            self.pty_drain_since = Some(now);
        }
    }

    /// After the process exited: everything it wrote is already in the pipes,
    /// so read without waiting until they are empty (a descendant that
    /// outlived it may hold them open; its later output is not this
    /// process's). A PTY is read until end of file or a short quiet, since
    /// the terminal layer hands data over asynchronously.
    fn drain_after_exit(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr, Stream::Pty] {
            loop {
                let budget = self.window.available().min(self.cx.chunk as u64) as usize;
                if budget == 0 {
                    return;
                }
                let read = match stream {
                    Stream::Stdout => self.stdout.as_ref().map(|p| p.read_now(budget)),
                    Stream::Stderr => self.stderr.as_ref().map(|p| p.read_now(budget)),
                    Stream::Pty => {
                        self.pty.as_ref().filter(|_| self.pty_output_open).map(|t| t.read_now(budget))
                    }
                };
                let Some(read) = read else { break };
                match read {
                    Ok(Some(data)) => self.on_read(stream, Ok(data)),
                    Ok(None) => {
                        if stream != Stream::Pty {
                            self.close_output(stream);
                        }
                        break;
                    }
                    Err(err) => self.on_read(stream, Err(err)),
                }
            }
        }
    }

    fn error(&self, kind: ErrorKind, message: String) {
        let _ = self.cx.out.send(Message::Error { id: Some(self.id), kind, message });
    }
}

async fn sleep_until_opt(deadline: Option<TokioInstant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => pending().await,
    }
}

async fn read_pipe(pipe: Option<&OutputPipe>, max: usize) -> io::Result<Vec<u8>> {
    match pipe {
        Some(pipe) => pipe.read(max).await,
        None => pending().await,
    }
}

async fn read_terminal(terminal: Option<&Terminal>, max: usize) -> io::Result<Vec<u8>> {
    match terminal {
        Some(terminal) => terminal.read(max).await,
        None => pending().await,
    }
}

/// Where a process's input goes.
enum Writable<'a> {
    Pipe(&'a InputPipe),
    Terminal(&'a Terminal),
}

/// Waits until the input takes data and writes a prefix of `data`.
async fn write_some(input: Option<Writable<'_>>, data: &[u8]) -> io::Result<usize> {
    match input {
        Some(Writable::Pipe(pipe)) => pipe.write(data).await,
        Some(Writable::Terminal(terminal)) => terminal.write(data).await,
        None => pending().await,
    }
}
