//! The runner's ends of a child's stdio. Anonymous pipes and the
//! pseudoconsole's pipes cannot be read asynchronously on Windows, so each
//! has a thread doing blocking reads (or writes) and the async side talks to
//! it through a small shared queue.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::ptr::null_mut;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use cordon_ipc::Size;
use tokio::sync::{Notify, oneshot};
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::Storage::FileSystem::ReadFile;
use windows_sys::Win32::System::Console::{COORD, ClosePseudoConsole, HPCON, ResizePseudoConsole};
use windows_sys::Win32::System::Pipes::PeekNamedPipe;

use cordon_sandbox::windows::command_line::normalize_pty_input;

/// Largest blocking read of a reader thread.
const READ_CHUNK: usize = 64 * 1024;

/// Output a reader thread queues before it waits for the consumer.
const QUEUE_LIMIT: usize = 256 * 1024;

/// Largest blocking write of a writer thread, so acknowledgements keep
/// flowing on a slow reader.
const WRITE_CHUNK: usize = 64 * 1024;

#[derive(Debug, Default)]
struct Queue {
    chunks: VecDeque<Vec<u8>>,
    queued: usize,
    eof: bool,
    error: Option<io::Error>,
    /// When the thread last had data from the pipe.
    last_data: Option<Instant>,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled to the reader thread when room is made, and to waiters on
    /// the exit path when data or end of file arrives.
    changed: Condvar,
    /// Wakes the async consumer.
    ready: Notify,
}

/// The read end of a child's stdout or stderr (or of a pseudoconsole).
#[derive(Debug)]
pub struct OutputPipe {
    shared: Arc<Shared>,
    /// Our own handle on the pipe, to see whether bytes wait in it.
    peek: OwnedHandle,
}

impl OutputPipe {
    pub(super) fn new(pipe: OwnedHandle) -> io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let peek = pipe.try_clone()?;
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("cordon-output".into())
            .spawn(move || read_loop(&pipe, &thread_shared))?;
        Ok(OutputPipe { shared, peek })
    }

    /// Waits for output and reads up to `max` bytes (empty: end of file).
    pub async fn read(&self, max: usize) -> io::Result<Vec<u8>> {
        loop {
            let notified = self.shared.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(result) = self.take(max) {
                return result;
            }
            notified.await;
        }
    }

    /// Reads up to `max` bytes without waiting for the child: `Ok(None)` if
    /// nothing is there. Bytes already in the pipe are waited for (briefly:
    /// the thread is reading them).
    pub fn read_now(&self, max: usize) -> io::Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + Duration::from_millis(200);
        loop {
            if let Some(result) = self.take(max) {
                return result.map(Some);
            }
            if self.bytes_in_pipe() == 0 || Instant::now() >= deadline {
                return Ok(None);
            }
            let queue = self.shared.queue.lock().expect("output queue");
            let _ = self.shared.changed.wait_timeout(queue, Duration::from_millis(10));
        }
    }

    /// A function that waits, on a plain thread, until the reader has
    /// reached end of file or has had nothing new for `quiet` (at most
    /// `limit` in all), or its queue is full: the point where everything a
    /// process wrote before it exited is in the queue.
    pub(super) fn settler(&self) -> impl Fn(Duration, Duration) + Send + 'static {
        let shared = self.shared.clone();
        move |quiet, limit| settle(&shared, quiet, limit)
    }

    fn take(&self, max: usize) -> Option<io::Result<Vec<u8>>> {
        let mut queue = self.shared.queue.lock().expect("output queue");
        if let Some(front) = queue.chunks.front_mut() {
            let data = if front.len() <= max {
                queue.chunks.pop_front().expect("front")
            } else {
                let rest = front.split_off(max);
                std::mem::replace(front, rest)
            };
            queue.queued -= data.len();
            self.shared.changed.notify_all();
            return Some(Ok(data));
        }
        if let Some(err) = queue.error.take() {
            queue.eof = true;
            return Some(Err(err));
        }
        if queue.eof {
            return Some(Ok(Vec::new()));
        }
        None
    }

    fn bytes_in_pipe(&self) -> u32 {
        let mut available = 0u32;
        // SAFETY: a valid pipe handle; no buffer, only the count is asked.
        let ok = unsafe {
            PeekNamedPipe(
                self.peek.as_raw_handle(),
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
                &mut available,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 { 0 } else { available }
    }
}

fn settle(shared: &Shared, quiet: Duration, limit: Duration) {
    let start = Instant::now();
    let mut queue = shared.queue.lock().expect("output queue");
    loop {
        let now = Instant::now();
        let last = queue.last_data.unwrap_or(start).max(start);
        if queue.eof || queue.error.is_some() || queue.queued >= QUEUE_LIMIT {
            return;
        }
        if now >= start + limit || now >= last + quiet {
            return;
        }
        let wait = (last + quiet).min(start + limit) - now;
        queue = shared.changed.wait_timeout(queue, wait).expect("output queue").0;
    }
}

/// One blocking `ReadFile`. Not `std::fs::File::read`: it reports a broken
/// pipe (the end of a pipe) as a read of 0 bytes, the same as a writer's
/// zero-length write, which a pseudoconsole does make.
fn read_pipe(pipe: &OwnedHandle, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let mut read = 0u32;
    // SAFETY: a live pipe handle and a buffer of the given length.
    let ok = unsafe {
        ReadFile(pipe.as_raw_handle() as HANDLE, buf.as_mut_ptr(), buf.len() as u32, &mut read, null_mut())
    };
    if ok != 0 {
        return Ok(Some(read as usize));
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(BROKEN_PIPE) { Ok(None) } else { Err(err) }
}

fn read_loop(pipe: &OwnedHandle, shared: &Shared) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        {
            let mut queue = shared.queue.lock().expect("output queue");
            while queue.queued >= QUEUE_LIMIT {
                queue = shared.changed.wait(queue).expect("output queue");
            }
        }
        let read = read_pipe(pipe, &mut buf);
        let mut queue = shared.queue.lock().expect("output queue");
        match read {
            Ok(Some(0)) => continue,
            Ok(Some(n)) => {
                queue.chunks.push_back(buf[..n].to_vec());
                queue.queued += n;
                queue.last_data = Some(Instant::now());
            }
            // Every write end is closed: the end of a pipe on Windows.
            Ok(None) => queue.eof = true,
            Err(err) => queue.error = Some(err),
        }
        let done = queue.eof || queue.error.is_some();
        drop(queue);
        shared.changed.notify_all();
        shared.ready.notify_one();
        if done {
            return;
        }
    }
}

const BROKEN_PIPE: i32 = windows_sys::Win32::Foundation::ERROR_BROKEN_PIPE as i32;

type WriteJob = (Vec<u8>, oneshot::Sender<io::Result<usize>>);

/// The write end of a child's stdin (or of a pseudoconsole's input).
#[derive(Debug)]
pub struct InputPipe {
    jobs: std::sync::mpsc::Sender<WriteJob>,
    /// A write handed to the thread whose result is not yet collected.
    in_flight: Mutex<Option<oneshot::Receiver<io::Result<usize>>>>,
}

impl InputPipe {
    pub(super) fn new(pipe: OwnedHandle) -> io::Result<Self> {
        let (jobs, rx) = std::sync::mpsc::channel::<WriteJob>();
        std::thread::Builder::new().name("cordon-input".into()).spawn(move || {
            let mut pipe = std::fs::File::from(pipe);
            // Ends, closing the pipe, when the InputPipe is dropped.
            while let Ok((data, done)) = rx.recv() {
                let _ = done.send(pipe.write_all(&data).map(|()| data.len()));
            }
        })?;
        Ok(InputPipe { jobs, in_flight: Mutex::new(None) })
    }

    /// Writes a prefix of `data`; returns how much of it was consumed.
    ///
    /// A write cancelled while in flight completes on the next call, whose
    /// `data` must begin with the same bytes (the process task only ever
    /// drops what a write consumed from the front of its queue).
    pub async fn write(&self, data: &[u8]) -> io::Result<usize> {
        let pending = self.in_flight.lock().expect("input state").take();
        let rx = match pending {
            Some(rx) => rx,
            None => {
                let (tx, rx) = oneshot::channel();
                let chunk = data[..data.len().min(WRITE_CHUNK)].to_vec();
                self.jobs
                    .send((chunk, tx))
                    .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the input thread is gone"))?;
                rx
            }
        };
        let mut guard = InFlight { slot: &self.in_flight, rx: Some(rx) };
        let result = guard.rx.as_mut().expect("receiver").await;
        guard.rx = None;
        result.unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::BrokenPipe, "the input thread is gone")))
    }
}

/// Puts an uncollected write back when its future is dropped.
struct InFlight<'a> {
    slot: &'a Mutex<Option<oneshot::Receiver<io::Result<usize>>>>,
    rx: Option<oneshot::Receiver<io::Result<usize>>>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(rx) = self.rx.take() {
            *self.slot.lock().expect("input state") = Some(rx);
        }
    }
}

/// A pseudoconsole: the child's console, its output and input.
#[derive(Debug)]
pub struct Terminal {
    output: OutputPipe,
    input: InputPipe,
    console: Arc<PseudoConsole>,
    /// A `\r` ended the last input; a `\n` right after it is the same Enter.
    pending_cr: Mutex<bool>,
    /// A normalised chunk being written, and how many input bytes it is.
    pending: Mutex<Option<(Vec<u8>, usize)>>,
}

impl Terminal {
    pub(super) fn new(output: OutputPipe, input: InputPipe, console: Arc<PseudoConsole>) -> Self {
        Terminal { output, input, console, pending_cr: Mutex::new(false), pending: Mutex::new(None) }
    }

    /// Waits for output and reads up to `max` bytes (empty: the
    /// pseudoconsole is closed).
    pub async fn read(&self, max: usize) -> io::Result<Vec<u8>> {
        self.output.read(max).await
    }

    /// Reads up to `max` bytes without waiting: `Ok(None)` if nothing is
    /// there yet.
    pub fn read_now(&self, max: usize) -> io::Result<Option<Vec<u8>>> {
        self.output.read_now(max)
    }

    /// Writes a prefix of `data` as typed input, with `\n` as Enter; returns
    /// how much of `data` was consumed. Cancel-safe as `InputPipe::write`:
    /// a chunk normalised once is kept until it is written.
    pub async fn write(&self, data: &[u8]) -> io::Result<usize> {
        let (typed, consumed) = {
            let mut pending = self.pending.lock().expect("terminal state");
            match &*pending {
                Some(chunk) => chunk.clone(),
                None => {
                    let raw = &data[..data.len().min(WRITE_CHUNK)];
                    let mut pending_cr = self.pending_cr.lock().expect("terminal state");
                    let chunk = (normalize_pty_input(raw, &mut pending_cr), raw.len());
                    *pending = Some(chunk.clone());
                    chunk
                }
            }
        };
        // Normalising never lengthens, so the chunk is one write job.
        let written = if typed.is_empty() { Ok(0) } else { self.input.write(&typed).await };
        *self.pending.lock().expect("terminal state") = None;
        written.map(|_| consumed)
    }

    /// Sets the console's size.
    pub fn resize(&self, size: Size) -> io::Result<()> {
        self.console.resize(size)
    }

    /// The input that ends a console's input: Ctrl-Z and Enter (on a fresh
    /// line).
    pub fn eof_input(&self, line_pending: bool) -> Vec<u8> {
        if line_pending { b"\r\x1a\r".to_vec() } else { b"\x1a\r".to_vec() }
    }

    pub(super) fn interrupt(&self) -> io::Result<()> {
        self.input.jobs.send((vec![0x03], oneshot::channel().0)).map_err(|_| io::ErrorKind::BrokenPipe.into())
    }

    pub(super) fn output(&self) -> &OutputPipe {
        &self.output
    }
}

/// An `HPCON`, closed once.
#[derive(Debug)]
pub(super) struct PseudoConsole {
    handle: Mutex<Option<HPCON>>,
}

impl PseudoConsole {
    pub(super) fn new(handle: HPCON) -> Self {
        PseudoConsole { handle: Mutex::new(Some(handle)) }
    }

    pub(super) fn raw(&self) -> Option<HPCON> {
        *self.handle.lock().expect("console")
    }

    fn resize(&self, size: Size) -> io::Result<()> {
        let Some(handle) = self.raw() else {
            return Err(io::Error::other("the pseudoconsole is closed"));
        };
        let coord = console_size(size);
        // SAFETY: a live pseudoconsole handle.
        let hr = unsafe { ResizePseudoConsole(handle, coord) };
        if hr < 0 { Err(io::Error::from_raw_os_error(hr)) } else { Ok(()) }
    }

    /// Closes the console: its output pipe then ends, once what it has
    /// rendered is read.
    pub(super) fn close(&self) {
        if let Some(handle) = self.handle.lock().expect("console").take() {
            // SAFETY: a live pseudoconsole handle, closed exactly once.
            unsafe { ClosePseudoConsole(handle) };
        }
    }
}

impl Drop for PseudoConsole {
    fn drop(&mut self) {
        self.close();
    }
}

/// A pseudoconsole's size is 1 to 32767 (`i16`) each way; the wire allows
/// any `u16`, which is clamped into that range (a plain cast made 65535
/// negative, which the console refuses).
pub(super) fn console_size(size: Size) -> COORD {
    let clamp = |n: u16| n.clamp(1, i16::MAX as u16) as i16;
    COORD { X: clamp(size.cols), Y: clamp(size.rows) }
}
