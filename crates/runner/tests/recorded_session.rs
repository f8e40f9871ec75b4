//! One session with the real runner that uses every request: pipes with
//! stdin, stderr, an exit code, a PTY with a resize, poll, list, signal,
//! terminate, a timeout, a failed spawn, refused requests, shutdown; and a
//! rejected handshake. Each step is checked, so this is an ordinary test.
//!
//! With `CORDON_RECORD_FRAMES=DIR` it also writes what went over the wire as
//! the fuzz targets' seeds (see `fuzz/` and docs/reliability.md, "Fuzzing"):
//!
//! ```text
//! CORDON_RECORD_FRAMES=$PWD/fuzz/seeds cargo test -p cordon-runner --test recorded_session
//! ```
//!
//! `DIR/frame/` gets each direction's whole byte stream, `DIR/message/` every
//! frame body, `DIR/handshake/` the handshake bodies, `DIR/request_file/`
//! the request files of these commands and `DIR/policy_json/` the
//! `--policy-json` values of each preset.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use common::*;
use cordon_ipc::oneshot::OneShotRequest;
use cordon_ipc::{
    DEFAULT_MAX_FRAME, DEFAULT_WINDOW, ErrorKind, FrameReader, Hello, LENGTH_PREFIX, Message, OsBytes,
    SUPPORTED_VERSIONS, Signal, Size, Spawn, SpawnErrorKind, Stream, encode_frame,
};
use cordon_sandbox::{PolicyBuilder, Preset};

/// The token of the recorded session (the handshake fuzz target checks
/// against it too).
const TOKEN: &str = "raw-token";

/// A byte stream that keeps a copy of everything read through it.
struct Tee {
    inner: UnixStream,
    seen: Vec<u8>,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// A raw runner whose frames, both ways, are kept as sent.
struct Recorded {
    runner: RawRunner,
    reader: FrameReader<Tee>,
    sent: Vec<u8>,
}

impl Recorded {
    fn start(token: &str) -> Recorded {
        let mut runner = RawRunner::start(token);
        let stream = runner.reader.get_mut().try_clone().unwrap();
        let reader = FrameReader::new(Tee { inner: stream, seen: Vec::new() }, DEFAULT_MAX_FRAME);
        Recorded { runner, reader, sent: Vec::new() }
    }

    fn send(&mut self, message: Message) {
        let frame = encode_frame(&message, DEFAULT_MAX_FRAME).unwrap();
        self.runner.writer.get_mut().write_all(&frame).unwrap();
        self.sent.extend_from_slice(&frame);
    }

    fn recv(&mut self) -> Option<Message> {
        self.reader.read_message().expect("read a frame")
    }

    /// Messages up to and including the first that `last` picks; output is
    /// acknowledged as it arrives.
    fn recv_until(&mut self, last: impl Fn(&Message) -> bool) -> Vec<Message> {
        let mut got = Vec::new();
        loop {
            let message = self.recv().unwrap_or_else(|| panic!("end of stream after {got:?}"));
            if let Message::Output { id, data, .. } = &message {
                let ack = Message::Ack { id: *id, bytes: data.len() as u64 };
                self.send(ack);
            }
            let done = last(&message);
            got.push(message);
            if done {
                return got;
            }
        }
    }

    fn received(&mut self) -> &[u8] {
        &self.reader.get_mut().seen
    }
}

fn hello(token: &str) -> Message {
    Message::Hello(Hello {
        versions: SUPPORTED_VERSIONS,
        token: token.into(),
        max_frame: DEFAULT_MAX_FRAME,
        window: DEFAULT_WINDOW,
    })
}

/// A small environment, so that nothing of the machine's is recorded.
fn env() -> BTreeMap<OsBytes, OsBytes> {
    BTreeMap::from([(OsBytes::from("PATH"), OsBytes::from("/usr/bin:/bin"))])
}

fn spawn(id: u64, argv: &[&str], tty: Option<Size>, stdin: bool, timeout_ms: Option<u64>) -> Message {
    Message::Spawn(Spawn {
        id,
        argv: argv.iter().map(|s| OsBytes::from(*s)).collect(),
        cwd: None,
        env: env(),
        tty,
        stdin,
        timeout_ms,
    })
}

fn output_of(messages: &[Message], of: u64, on: Stream) -> Vec<u8> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::Output { id, stream, data } if *id == of && *stream == on => Some(data.as_slice()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .concat()
}

fn is_exited(of: u64) -> impl Fn(&Message) -> bool {
    move |m| matches!(m, Message::Exited(e) if e.id == of)
}

fn is_error(of: Option<u64>) -> impl Fn(&Message) -> bool {
    move |m| matches!(m, Message::Error { id, .. } if *id == of)
}

fn error_kind(messages: &[Message]) -> Option<ErrorKind> {
    match messages.last() {
        Some(Message::Error { kind, .. }) => Some(*kind),
        _ => None,
    }
}

#[test]
fn a_session_with_every_request_goes_as_specified() {
    let mut session = Recorded::start(TOKEN);
    session.send(hello(TOKEN));
    assert!(matches!(session.recv(), Some(Message::HelloAck(_))));

    // Pipes: stdin in, stdout and stderr out, an exit code.
    let script = "read line; echo \"got $line\"; echo oops >&2; exit 3";
    session.send(spawn(1, &["sh", "-c", script], None, true, None));
    assert!(matches!(session.recv(), Some(Message::Spawned { id: 1, .. })));
    session.send(Message::Stdin { id: 1, data: b"hello\n".to_vec() });
    session.send(Message::CloseStdin { id: 1 });
    let got = session.recv_until(is_exited(1));
    assert_eq!(output_of(&got, 1, Stream::Stdout), b"got hello\n");
    assert_eq!(output_of(&got, 1, Stream::Stderr), b"oops\n");
    assert!(got.iter().any(|m| matches!(m, Message::StdinAck { id: 1, bytes: 6 })), "{got:?}");
    assert!(matches!(got.last(), Some(Message::Exited(e)) if e.code == Some(3)), "{got:?}");

    // A PTY: its size, then a resize the child sees.
    let script = "stty size; read x; stty size";
    session.send(spawn(2, &["sh", "-c", script], Some(Size { rows: 24, cols: 80 }), false, None));
    assert!(matches!(session.recv(), Some(Message::Spawned { id: 2, .. })));
    let mut got = session.recv_until(
        |m| matches!(m, Message::Output { id: 2, data, .. } if data.windows(5).any(|w| w == b"24 80")),
    );
    session.send(Message::Resize { id: 2, rows: 40, cols: 100 });
    session.send(Message::Stdin { id: 2, data: b"\n".to_vec() });
    got.extend(session.recv_until(is_exited(2)));
    let pty = String::from_utf8_lossy(&output_of(&got, 2, Stream::Pty)).into_owned();
    assert!(pty.contains("24 80") && pty.contains("40 100"), "{pty:?}");

    // Poll, list, a resize refused on pipes, a signal, a tree kill.
    session.send(spawn(3, &["sleep", "30"], None, false, None));
    assert!(matches!(session.recv(), Some(Message::Spawned { id: 3, .. })));
    session.send(Message::Poll { id: 3 });
    assert!(matches!(session.recv(), Some(Message::Status(s)) if s.id == 3 && s.running));
    session.send(Message::List {});
    assert!(matches!(session.recv(), Some(Message::Processes { processes }) if processes.len() == 1));
    session.send(Message::Resize { id: 3, rows: 1, cols: 1 });
    assert_eq!(error_kind(&session.recv_until(is_error(Some(3)))), Some(ErrorKind::InvalidRequest));
    session.send(Message::Signal { id: 3, signal: Signal::Terminate });
    let got = session.recv_until(is_exited(3));
    assert!(matches!(got.last(), Some(Message::Exited(e)) if e.signal == Some(15)), "{got:?}");
    session.send(spawn(4, &["sleep", "30"], None, false, None));
    assert!(matches!(session.recv(), Some(Message::Spawned { id: 4, .. })));
    session.send(Message::Terminate { id: 4 });
    let got = session.recv_until(is_exited(4));
    assert!(matches!(got.last(), Some(Message::Exited(e)) if e.signal.is_some()), "{got:?}");

    // A timeout, a spawn that fails, requests for unknown processes.
    session.send(spawn(5, &["sleep", "30"], None, false, Some(50)));
    assert!(matches!(session.recv(), Some(Message::Spawned { id: 5, .. })));
    let got = session.recv_until(is_exited(5));
    assert!(matches!(got.last(), Some(Message::Exited(e)) if e.timed_out), "{got:?}");
    session.send(spawn(6, &["/nonexistent/program"], None, false, None));
    match session.recv() {
        Some(Message::SpawnFailed { id: 6, error }) => assert_eq!(error.kind, SpawnErrorKind::NotFound),
        other => panic!("expected SpawnFailed, got {other:?}"),
    }
    session.send(Message::Poll { id: 99 });
    assert_eq!(error_kind(&session.recv_until(is_error(Some(99)))), Some(ErrorKind::UnknownProcess));

    // Shutdown with a process still running: its Exited, then end of stream.
    session.send(spawn(7, &["sleep", "30"], None, false, None));
    assert!(matches!(session.recv(), Some(Message::Spawned { id: 7, .. })));
    session.send(Message::Shutdown {});
    session.recv_until(is_exited(7));
    assert_eq!(session.recv(), None);
    assert_eq!(session.runner.wait_exit(), Some(0));

    // A handshake with the wrong token.
    let mut rejected = Recorded::start(TOKEN);
    rejected.send(hello("wrong-token"));
    assert!(matches!(rejected.recv(), Some(Message::HelloReject { .. })));
    assert_eq!(rejected.recv(), None);

    if let Some(dir) = std::env::var_os("CORDON_RECORD_FRAMES") {
        record(Path::new(&dir), &mut session, &mut rejected);
    }
}

/// Writes the seeds of every fuzz target that reads what this session
/// sent and received.
fn record(dir: &Path, session: &mut Recorded, rejected: &mut Recorded) {
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = dir.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let (sent, received) = (session.sent.clone(), session.received().to_vec());
    let (rejected_sent, rejected_received) = (rejected.sent.clone(), rejected.received().to_vec());
    write("frame", "parent-to-runner", &sent);
    write("frame", "runner-to-parent", &received);
    write("frame", "rejected-parent-to-runner", &rejected_sent);
    write("frame", "rejected-runner-to-parent", &rejected_received);
    for (direction, stream) in [("p2r", &sent), ("r2p", &received)] {
        for (n, body) in bodies(stream).into_iter().enumerate() {
            let name = cordon_ipc::decode_body(body).unwrap().name();
            write("message", &format!("{direction}-{n:03}-{name}"), body);
        }
    }
    write("handshake", "hello", bodies(&sent)[0]);
    write("handshake", "hello-ack", bodies(&received)[0]);
    write("handshake", "hello-wrong-token", bodies(&rejected_sent)[0]);
    write("handshake", "hello-reject", bodies(&rejected_received)[0]);

    // What `cordon run --bootstrap request-file` and the client's launch
    // would hand the runner for these commands under each preset.
    let cwd = tempfile::tempdir().unwrap();
    let policies: Vec<(Preset, cordon_sandbox::Policy)> = Preset::ALL
        .into_iter()
        .map(|preset| (preset, PolicyBuilder::new(preset).cwd(cwd.path()).build().unwrap()))
        .collect();
    for (preset, policy) in &policies {
        write("policy_json", &format!("{preset}-name"), format!("\"{preset}\"").as_bytes());
        write("policy_json", &format!("{preset}-object"), &serde_json::to_vec(policy).unwrap());
    }
    let requests: [(&str, &[&str], Option<u64>); 3] = [
        ("echo", &["echo", "hi"], None),
        ("shell", &["sh", "-c", "read line; echo \"got $line\"; exit 3"], None),
        ("timeout", &["sleep", "30"], Some(50)),
    ];
    for ((preset, policy), (what, argv, timeout_ms)) in policies.iter().zip(requests) {
        let request = OneShotRequest {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            cwd: Some(cwd.path().display().to_string()),
            env: BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]),
            timeout_ms,
            policy: policy.clone(),
        };
        write("request_file", &format!("{what}-{preset}"), &serde_json::to_vec(&request).unwrap());
    }
}

/// The frame bodies of a whole stream.
fn bodies(mut stream: &[u8]) -> Vec<&[u8]> {
    let mut bodies = Vec::new();
    while !stream.is_empty() {
        let len = u32::from_le_bytes(stream[..LENGTH_PREFIX].try_into().unwrap()) as usize;
        bodies.push(&stream[LENGTH_PREFIX..LENGTH_PREFIX + len]);
        stream = &stream[LENGTH_PREFIX + len..];
    }
    bodies
}
