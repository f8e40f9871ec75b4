//! One session: a process, the task that drains its events into a bounded
//! buffer as they come (so a fast exit loses nothing and a chatty process
//! never stalls on an absent reader), and what each reply takes from it.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use cordon::{Event, ExitStatus, HeadTail, Process, Signal, Size, StdinWriter};
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::Instrument as _;

use crate::render::{Screen, Transcript};
use crate::truncate::{marker, truncate_middle};
use crate::types::{BYTES_PER_TOKEN, SessionInfo, SessionState};

/// What the pump is asked to do with the process.
pub(crate) enum Control {
    Signal(Signal),
    Terminate,
    Resize(Size, oneshot::Sender<cordon::Result<()>>),
    /// Whether a process waits to read the session's input.
    AwaitingInput(oneshot::Sender<bool>),
}

/// What the pump and the callers share.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// Woken on every output, exit or loss of the runner.
    pub changed: Notify,
}

pub(crate) struct State {
    /// Pipe sessions: raw stdout and stderr in arrival order; tty
    /// sessions: completed rendered lines.
    output: HeadTail,
    transcript: Option<Transcript>,
    screen: Option<Screen>,
    /// Offset in `output` up to which replies have been given.
    read_pos: u64,
    /// Raw bytes the process wrote.
    pub raw_bytes: u64,
    pub last_output: Option<Instant>,
    pub exit: Option<ExitStatus>,
    /// The runner went away before the process's exit was seen.
    pub lost: Option<String>,
    pub last_used: Instant,
    last_used_wall: SystemTime,
    /// The runner's last answer on whether a process waits for input,
    /// until output comes.
    awaiting_input: bool,
}

/// The text a reply carries, before token truncation.
pub(crate) struct Delta {
    pub text: String,
    /// Bytes the buffer bound dropped from it.
    pub dropped: u64,
    /// Where the reader is once this is taken.
    next_pos: u64,
}

impl State {
    fn new(tty: Option<Size>, buffer_bytes: usize) -> Self {
        State {
            output: HeadTail::new(buffer_bytes as u64),
            transcript: tty.map(|_| Transcript::new()),
            screen: tty.map(|s| Screen::new(s.rows, s.cols)),
            read_pos: 0,
            raw_bytes: 0,
            last_output: None,
            exit: None,
            lost: None,
            last_used: Instant::now(),
            last_used_wall: SystemTime::now(),
            awaiting_input: false,
        }
    }

    fn push(&mut self, data: &[u8]) {
        self.raw_bytes += data.len() as u64;
        self.last_output = Some(Instant::now());
        self.awaiting_input = false;
        if let Some(screen) = &mut self.screen {
            screen.feed(data);
        }
        match &mut self.transcript {
            Some(t) => {
                let lines = t.feed(data);
                self.output.push(lines.as_bytes());
            }
            None => self.output.push(data),
        }
    }

    pub fn finished(&self) -> bool {
        self.exit.is_some() || self.lost.is_some()
    }

    /// What arrived since the last reply, without taking it.
    pub fn peek(&self) -> Delta {
        let slice = self.output.since(self.read_pos);
        let mut end = slice.tail;
        let mut next_pos = self.output.total();
        let mut head = slice.head;
        if self.transcript.is_none() && !self.finished() {
            // A character split across two chunks waits for its end.
            let held = if slice.dropped == 0 && end.is_empty() {
                incomplete_suffix(&head)
            } else {
                incomplete_suffix(&end)
            };
            next_pos -= held as u64;
            if slice.dropped == 0 && end.is_empty() {
                head.truncate(head.len() - held);
            } else {
                end.truncate(end.len() - held);
            }
        }
        let mut text = String::from_utf8_lossy(&head).into_owned();
        if slice.dropped > 0 {
            text.push_str(&marker(slice.dropped.div_ceil(BYTES_PER_TOKEN as u64) as usize));
        }
        text.push_str(&String::from_utf8_lossy(&end));
        if let Some(t) = &self.transcript {
            text.push_str(&t.partial());
        }
        Delta { text, dropped: slice.dropped, next_pos }
    }

    /// Marks `delta` as given.
    pub fn take(&mut self, delta: &Delta) {
        self.read_pos = delta.next_pos;
    }

    pub fn screen(&self) -> Option<String> {
        self.screen.as_ref().map(Screen::contents)
    }

    /// Input went to the process: whether it waits again is to be seen.
    pub fn input_sent(&mut self) {
        self.awaiting_input = false;
    }

    pub fn touch(&mut self) {
        self.last_used = Instant::now();
        self.last_used_wall = SystemTime::now();
    }

    pub fn session_state(&self) -> SessionState {
        match (self.finished(), self.awaiting_input) {
            (true, _) => SessionState::Exited,
            (false, true) => SessionState::AwaitingInput,
            (false, false) => SessionState::Running,
        }
    }
}

/// Bytes at the end of `bytes` that begin a UTF-8 character not yet complete.
fn incomplete_suffix(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 != 0x80 {
            let width = match b {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            return if width > back { back } else { 0 };
        }
    }
    0
}

/// A live session.
pub(crate) struct Session {
    pub id: u32,
    pub command: String,
    pub tty: bool,
    pub pid: u32,
    started: SystemTime,
    pub shared: Arc<Shared>,
    control: mpsc::UnboundedSender<Control>,
    pub stdin: StdinWriter,
    pub stdin_closed: std::sync::atomic::AtomicBool,
}

impl Session {
    /// Takes over `process` and starts draining it.
    pub fn start(
        id: u32,
        command: String,
        tty: Option<Size>,
        buffer_bytes: usize,
        process: Process,
    ) -> Arc<Session> {
        let shared =
            Arc::new(Shared { state: Mutex::new(State::new(tty, buffer_bytes)), changed: Notify::new() });
        let (control, requests) = mpsc::unbounded_channel();
        let session = Arc::new(Session {
            id,
            command,
            tty: tty.is_some(),
            pid: process.pid(),
            started: SystemTime::now(),
            shared: shared.clone(),
            control,
            stdin: process.stdin_writer(),
            stdin_closed: Default::default(),
        });
        let span = tracing::debug_span!("exec session", id, pid = process.pid());
        tokio::spawn(pump(process, shared, requests).instrument(span));
        session
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().expect("session state lock")
    }

    /// Asks the runner whether a process waits to read this session's
    /// input; false once the process is gone.
    pub async fn awaiting_input(&self) -> bool {
        let (reply, answer) = oneshot::channel();
        self.control(Control::AwaitingInput(reply)) && answer.await.unwrap_or(false)
    }

    /// Sends `control` to the pump; false if it has finished (the process
    /// exited).
    pub fn control(&self, control: Control) -> bool {
        self.control.send(control).is_ok()
    }

    pub fn info(&self) -> SessionInfo {
        let state = self.state();
        SessionInfo {
            session_id: self.id,
            command: self.command.clone(),
            tty: self.tty,
            state: state.session_state(),
            pid: self.pid,
            started_unix_ms: unix_ms(self.started),
            last_used_unix_ms: unix_ms(state.last_used_wall),
            output_bytes: state.raw_bytes,
        }
    }

    /// Truncates `delta` to `max_tokens`: (output, original tokens, truncated).
    pub fn budget(delta: &Delta, max_tokens: usize) -> (String, usize, bool) {
        let original = (delta.text.len() + delta.dropped as usize).div_ceil(BYTES_PER_TOKEN);
        let (text, cut) = truncate_middle(&delta.text, max_tokens.saturating_mul(BYTES_PER_TOKEN));
        (text, original, cut || delta.dropped > 0)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The pump ends when its control channel closes, dropping the
        // process, which kills its tree; say so at once rather than later.
        let _ = self.control.send(Control::Terminate);
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Drains `process` into `shared` until it exits, and carries out controls.
/// Ends (dropping, so killing, the process) when the session is gone.
async fn pump(mut process: Process, shared: Arc<Shared>, mut requests: mpsc::UnboundedReceiver<Control>) {
    loop {
        tokio::select! {
            event = process.next_event() => {
                let mut state = shared.state.lock().expect("session state lock");
                match event {
                    Ok(Some(Event::Output { data, .. })) => state.push(&data),
                    Ok(Some(Event::Error { kind, message })) => {
                        tracing::debug!(?kind, %message, "runner refused a request");
                        continue;
                    }
                    Ok(Some(Event::Exited(status))) => state.exit = Some(status),
                    Ok(None) => {}
                    Err(err) => state.lost = Some(err.to_string()),
                }
                let done = state.finished();
                drop(state);
                shared.changed.notify_waiters();
                if done {
                    return;
                }
            }
            request = requests.recv() => match request {
                Some(Control::Signal(signal)) => {
                    let _ = process.signal(signal).await;
                }
                Some(Control::Terminate) => {
                    let _ = process.terminate().await;
                }
                Some(Control::AwaitingInput(reply)) => {
                    let waiting = matches!(
                        process.status().await,
                        Ok(cordon::ProcessState::Running(status)) if status.awaiting_input
                    );
                    shared.state.lock().expect("session state lock").awaiting_input = waiting;
                    let _ = reply.send(waiting);
                }
                Some(Control::Resize(size, reply)) => {
                    let outcome = process.resize(size).await;
                    if outcome.is_ok() {
                        if let Some(screen) = &mut shared.state.lock().expect("session state lock").screen {
                            screen.resize(size.rows, size.cols);
                        }
                    }
                    let _ = reply.send(outcome);
                }
                None => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::incomplete_suffix;

    #[test]
    fn split_characters_are_held_back() {
        assert_eq!(incomplete_suffix("é".as_bytes()), 0);
        assert_eq!(incomplete_suffix(&"é".as_bytes()[..1]), 1);
        assert_eq!(incomplete_suffix(&"ab€".as_bytes()[..4]), 2);
        assert_eq!(incomplete_suffix(b"abc"), 0);
    }
}
