//! Helpers shared by the runner's integration tests. Every test starts the
//! real `cordon-runner` binary and speaks to it through the client library or
//! directly on the wire.
#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use cordon::{LaunchOptions, Policy, Sandbox};
use cordon_ipc::{
    DEFAULT_MAX_FRAME, FrameReader, FrameWriter, Hello, Message, SUPPORTED_VERSIONS, TOKEN_ENV,
};
use sha2::{Digest, Sha256};

pub const RUNNER: &str = env!("CARGO_BIN_EXE_cordon-runner");

/// No test may hang: everything async runs under this bound.
pub const TEST_DEADLINE: Duration = Duration::from_secs(60);

pub async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(TEST_DEADLINE, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: did not finish within {TEST_DEADLINE:?}"),
    }
}

pub fn options() -> LaunchOptions {
    LaunchOptions::new(Policy::full_access()).runner(RUNNER)
}

pub async fn launch() -> Sandbox {
    Sandbox::launch(options()).await.expect("launch the runner")
}

/// Whether `pid` is gone (no such process, or a zombie nobody reaped yet).
pub fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let after = &stat[stat.rfind(')').unwrap() + 1..];
            after.split_whitespace().next() == Some("Z")
        }
    }
}

/// Waits up to 10 s for `pid` to be gone.
pub fn wait_gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if is_gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Waits up to 10 s for a file to hold a pid.
pub fn read_pid_file(path: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no pid in {}", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), fast in debug builds.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A temp dir holding `data` in a file; returns the dir, the path and the
/// data's SHA-256.
pub fn data_file(data: &[u8]) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::File::create(&path).unwrap().write_all(data).unwrap();
    (dir, path, Sha256::digest(data).to_vec())
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// A runner spoken to directly on the wire, over a socketpair (fd 3).
pub struct RawRunner {
    pub child: Child,
    pub reader: FrameReader<UnixStream>,
    pub writer: FrameWriter<UnixStream>,
    pub token: String,
}

impl RawRunner {
    /// Starts the runner; no handshake yet.
    pub fn start(token: &str) -> RawRunner {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let theirs = OwnedFd::from(theirs);
        let raw = theirs.as_raw_fd();
        let mut command = StdCommand::new(RUNNER);
        command
            .args(["--ipc-fd", "3", "--policy-json", "\"full-access\""])
            .env(TOKEN_ENV, token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: dup2 is async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                if nix::libc::dup2(raw, 3) == 3 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
            });
        }
        let child = command.spawn().unwrap();
        drop(theirs);
        ours.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let reader = FrameReader::new(ours.try_clone().unwrap(), DEFAULT_MAX_FRAME);
        let writer = FrameWriter::new(ours, DEFAULT_MAX_FRAME);
        RawRunner { child, reader, writer, token: token.to_string() }
    }

    /// Starts the runner and completes the handshake.
    pub fn connect() -> RawRunner {
        RawRunner::connect_with_window(cordon_ipc::DEFAULT_WINDOW)
    }

    /// Starts the runner and completes the handshake with this window.
    pub fn connect_with_window(window: u32) -> RawRunner {
        let mut runner = RawRunner::start("raw-token");
        runner.send(&Message::Hello(Hello {
            versions: SUPPORTED_VERSIONS,
            token: runner.token.clone(),
            max_frame: DEFAULT_MAX_FRAME,
            window,
        }));
        match runner.recv() {
            Some(Message::HelloAck(_)) => runner,
            other => panic!("expected HelloAck, got {other:?}"),
        }
    }

    pub fn send(&mut self, message: &Message) {
        self.writer.write_message(message).unwrap();
    }

    pub fn recv(&mut self) -> Option<Message> {
        self.reader.read_message().expect("read a frame")
    }

    /// Waits up to 10 s for the runner to exit; its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the runner did not exit within 10 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RawRunner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn spawn_msg(id: u64, argv: &[&str]) -> Message {
    Message::Spawn(cordon_ipc::Spawn {
        id,
        argv: argv.iter().map(|s| (*s).into()).collect(),
        cwd: None,
        env: std::env::vars().map(|(k, v)| (k.into(), v.into())).collect(),
        tty: None,
        stdin: false,
        timeout_ms: None,
    })
}

/// Every live descendant of `root`, from the parent links in `/proc` (the
/// command name in `/proc/PID/stat` may hold spaces and parentheses).
pub fn descendants(root: u32) -> Vec<u32> {
    let mut children: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some(close) = stat.rfind(')') else { continue };
        if let Some(ppid) = stat[close + 1..].split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        for &kid in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            found.push(kid);
            queue.push(kid);
        }
    }
    found
}

/// Reads events until `needle` shows up in the process's output; returns
/// all output read so far.
pub async fn read_until(process: &mut cordon::Process, needle: &str) -> String {
    let mut seen = String::new();
    loop {
        match process.next_event().await.expect("event") {
            Some(cordon::Event::Output { data, .. }) => {
                seen.push_str(&String::from_utf8_lossy(&data));
                if seen.contains(needle) {
                    return seen;
                }
            }
            Some(cordon::Event::Error { message, .. }) => panic!("runner error: {message}"),
            Some(cordon::Event::Exited(status)) => {
                panic!("exited ({status:?}) before {needle:?}; output: {seen:?}")
            }
            None => panic!("no more events before {needle:?}"),
        }
    }
}

/// The host directories the sandbox gets empty ones of its own in place of.
pub const PRIVATE_DIRS: &[&str] = &["/tmp", "/var/tmp", "/run", "/var/run"];

/// A scratch directory on the host that the sandbox sees as it is: not
/// under one of [`PRIVATE_DIRS`] (Cargo's target directory, or `$HOME`).
pub fn host_scratch() -> tempfile::TempDir {
    let candidates =
        [Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR"))), std::env::var_os("HOME").map(PathBuf::from)];
    let parent = candidates
        .into_iter()
        .flatten()
        .find(|dir| {
            std::fs::create_dir_all(dir).is_ok()
                && dir.canonicalize().is_ok_and(|dir| !PRIVATE_DIRS.iter().any(|p| dir.starts_with(p)))
        })
        .expect("a scratch directory outside /tmp, /var/tmp and /run (Cargo's target dir or $HOME)");
    tempfile::tempdir_in(parent).unwrap()
}
