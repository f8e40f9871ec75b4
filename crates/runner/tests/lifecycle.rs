//! The runner's life and the wire guarantees: handshake, bootstraps,
//! protocol errors, shutdown, channel loss, runner death, parent death.
#![cfg(unix)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::*;
use cordon::{Command, Error, Event, Sandbox, Transport};
use cordon_ipc::{
    DEFAULT_MAX_FRAME, DEFAULT_WINDOW, ErrorKind, FrameReader, FrameWriter, Hello, Message,
    SUPPORTED_VERSIONS, Spawn, SpawnErrorKind, Stream, TOKEN_ENV,
};

fn hello(token: &str) -> Message {
    Message::Hello(Hello {
        versions: SUPPORTED_VERSIONS,
        token: token.into(),
        max_frame: DEFAULT_MAX_FRAME,
        window: DEFAULT_WINDOW,
    })
}

#[test]
fn a_wrong_token_is_rejected_and_the_runner_exits() {
    let mut runner = RawRunner::start("right-token");
    runner.send(&hello("wrong-token"));
    match runner.recv() {
        Some(Message::HelloReject { reason }) => assert!(reason.contains("token"), "{reason}"),
        other => panic!("expected HelloReject, got {other:?}"),
    }
    assert_eq!(runner.recv(), None, "the channel closes after HelloReject");
    assert_eq!(runner.wait_exit(), Some(125));
}

#[test]
fn disjoint_versions_are_rejected() {
    let mut runner = RawRunner::start("t");
    runner.send(&Message::Hello(Hello {
        versions: (7, 9),
        token: "t".into(),
        max_frame: DEFAULT_MAX_FRAME,
        window: DEFAULT_WINDOW,
    }));
    match runner.recv() {
        Some(Message::HelloReject { reason }) => assert!(reason.contains("version"), "{reason}"),
        other => panic!("expected HelloReject, got {other:?}"),
    }
}

#[test]
fn a_request_before_hello_is_rejected() {
    let mut runner = RawRunner::start("t");
    runner.send(&spawn_msg(1, &["true"]));
    assert!(matches!(runner.recv(), Some(Message::HelloReject { .. })));
    assert_eq!(runner.wait_exit(), Some(125));
}

#[test]
fn the_handshake_reports_runner_facts() {
    let mut runner = RawRunner::start("t");
    runner.send(&Message::Hello(Hello {
        versions: SUPPORTED_VERSIONS,
        token: "t".into(),
        max_frame: u32::MAX,
        window: 4096,
    }));
    match runner.recv() {
        Some(Message::HelloAck(ack)) => {
            assert_eq!(ack.version, 1);
            assert_eq!(ack.pid, runner.child.id());
            assert_eq!(ack.platform, "linux");
            assert_eq!(ack.max_frame, cordon_ipc::MAX_FRAME_CAP, "never more than the cap");
            assert_eq!(ack.window, 4096);
            assert_eq!(ack.sandbox.policy, "full-access");
            assert!(ack.sandbox.layers.is_empty(), "no enforcement is claimed");
            assert!(ack.features.iter().any(|f| f == "pty"));
        }
        other => panic!("expected HelloAck, got {other:?}"),
    }
}

/// Spawns, failures, terminations, timeouts and a shutdown on one channel;
/// then checks every guarantee of the protocol on the recorded messages.
#[test]
fn wire_guarantees_hold_under_mixed_load() {
    let mut runner = RawRunner::connect();
    let mut expected_stdout: HashMap<u64, Vec<u8>> = HashMap::new();
    for id in 1..=10u64 {
        let script =
            format!("i=0; while [ $i -lt 200 ]; do echo {id}-$i; i=$((i+1)); done; echo done-{id} >&2");
        runner.send(&spawn_msg(id, &["sh", "-c", &script]));
        expected_stdout.insert(id, (0..200).map(|i| format!("{id}-{i}\n")).collect::<String>().into_bytes());
    }
    runner.send(&spawn_msg(11, &["no-such-program-here"]));
    runner.send(&spawn_msg(12, &["sleep", "30"]));
    runner.send(&Message::Terminate { id: 12 });
    let mut timed = spawn_msg(13, &["sleep", "30"]);
    if let Message::Spawn(s) = &mut timed {
        s.timeout_ms = Some(200);
    }
    runner.send(&timed);
    runner.send(&spawn_msg(14, &["sleep", "30"]));
    runner.send(&spawn_msg(1, &["true"])); // id 1 may still be live: refused or fine, never twice-reported

    let mut spawned: HashMap<u64, u32> = HashMap::new();
    let mut spawn_results: HashMap<u64, usize> = HashMap::new();
    let mut exited: HashMap<u64, cordon_ipc::Exited> = HashMap::new();
    let mut stdout: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut stderr: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut shutdown_sent = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(message) = runner.recv() {
        assert!(Instant::now() < deadline, "the runner did not finish");
        match message {
            Message::Spawned { id, pid } => {
                *spawn_results.entry(id).or_default() += 1;
                spawned.insert(id, pid);
            }
            Message::SpawnFailed { id, error } => {
                *spawn_results.entry(id).or_default() += 1;
                if id == 11 {
                    assert_eq!(error.kind, SpawnErrorKind::NotFound);
                }
            }
            Message::Output { id, stream, data } => {
                assert!(!exited.contains_key(&id) || id == 1, "output of {id} after its Exited");
                let _ = runner.writer.write_message(&Message::Ack { id, bytes: data.len() as u64 }); // may race the close after Shutdown
                match stream {
                    Stream::Stdout => stdout.entry(id).or_default().extend_from_slice(&data),
                    Stream::Stderr => stderr.entry(id).or_default().extend_from_slice(&data),
                    Stream::Pty => panic!("pipe process sent pty output"),
                }
            }
            Message::Exited(e) => {
                assert!(spawned.contains_key(&e.id), "Exited for {} without Spawned", e.id);
                if e.id != 1 {
                    assert!(exited.insert(e.id, e.clone()).is_none(), "two Exited for {}", e.id);
                } else {
                    exited.insert(e.id, e.clone());
                }
            }
            Message::Error { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
        // Once the ten scripts are done, shut down with 14 still running.
        if !shutdown_sent && (2..=10).all(|id| exited.contains_key(&id)) && exited.contains_key(&13) {
            runner.send(&Message::Shutdown {});
            shutdown_sent = true;
        }
    }
    assert!(shutdown_sent);
    for id in 2..=10u64 {
        assert_eq!(stdout[&id], expected_stdout[&id], "stdout of {id} in order and complete");
        assert_eq!(stderr[&id], format!("done-{id}\n").as_bytes(), "stderr of {id} separate");
        assert_eq!(exited[&id].code, Some(0));
    }
    for id in 2..=14u64 {
        assert_eq!(spawn_results.get(&id), Some(&1), "exactly one Spawned/SpawnFailed for {id}");
    }
    assert!(!spawned.contains_key(&11));
    assert_eq!(exited[&12].signal, Some(9), "Terminate");
    assert!(exited[&13].timed_out, "timeout");
    assert_eq!(exited[&14].signal, Some(9), "Shutdown reports Exited for what it killed");
    for (id, pid) in &spawned {
        assert!(exited.contains_key(id), "Spawned {id} never got its Exited");
        assert!(wait_gone(*pid));
    }
    assert_eq!(runner.wait_exit(), Some(0), "a clean shutdown exits 0");
}

#[test]
fn shutdown_waits_for_acks_so_no_output_is_lost() {
    // A small window: most of the output waits in the pipe, unacknowledged,
    // when Shutdown arrives.
    let mut runner = RawRunner::connect_with_window(16 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let done = dir.path().join("done");
    let script = format!("head -c 60000 /dev/zero; touch {}; sleep 30", done.display());
    runner.send(&spawn_msg(1, &["sh", "-c", &script]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done.exists() {
        assert!(Instant::now() < deadline, "the writer never finished");
        std::thread::sleep(Duration::from_millis(10));
    }
    runner.send(&Message::Shutdown {});
    let mut got = 0usize;
    let mut exited = false;
    loop {
        let message = match runner.reader.read_message() {
            Ok(Some(message)) => message,
            Ok(None) => break,
            // An Ack that reaches the runner after its last read makes its
            // close a reset (AF_UNIX reports unread data that way). The
            // kernel still hands over every byte sent before it, so after
            // Exited this is the end of the stream, not a loss.
            Err(cordon_ipc::Error::Io(err))
                if exited && err.kind() == std::io::ErrorKind::ConnectionReset =>
            {
                break;
            }
            Err(err) => panic!("read a frame: {err}"),
        };
        match message {
            Message::Output { id, data, .. } => {
                assert!(!exited, "output after Exited");
                got += data.len();
                // The runner closes once the last Exited is out, which can
                // be before this Ack for the last chunk arrives.
                let _ = runner.writer.write_message(&Message::Ack { id, bytes: data.len() as u64 });
            }
            Message::Exited(e) => {
                assert_eq!(e.signal, Some(9));
                exited = true;
            }
            _ => {}
        }
    }
    assert!(exited, "Shutdown must still report Exited");
    assert_eq!(got, 60000, "everything written before the kill is delivered");
}

#[test]
fn a_malformed_frame_gets_a_protocol_error_and_the_channel_closes() {
    let mut runner = RawRunner::connect();
    runner.send(&spawn_msg(1, &["sleep", "30"]));
    let pid = match runner.recv() {
        Some(Message::Spawned { pid, .. }) => pid,
        other => panic!("{other:?}"),
    };
    // A valid length, a body that is not a message.
    let stream = runner.writer.get_mut();
    stream.write_all(&[3, 0, 0, 0, 0xc1, 0xc1, 0xc1]).unwrap();
    let mut error = None;
    while let Some(message) = runner.recv() {
        if let Message::Error { id: None, kind, message } = message {
            error = Some((kind, message));
        }
    }
    let (kind, _) = error.expect("the runner reports the protocol error before closing");
    assert_eq!(kind, ErrorKind::Protocol);
    assert!(wait_gone(pid), "the runner kills its tree when it closes the channel");
    assert_eq!(runner.wait_exit(), Some(0));
}

#[test]
fn an_oversized_frame_is_refused_without_reading_it() {
    let mut runner = RawRunner::connect();
    let stream = runner.writer.get_mut();
    // Announce 1 GiB; send nothing more.
    stream.write_all(&(1u32 << 30).to_le_bytes()).unwrap();
    match runner.recv() {
        Some(Message::Error { id: None, kind: ErrorKind::Protocol, message }) => {
            assert!(message.contains("exceeds"), "{message}")
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
    assert_eq!(runner.recv(), None);
}

#[test]
fn a_message_only_the_runner_may_send_is_a_protocol_error() {
    let mut runner = RawRunner::connect();
    runner.send(&Message::Spawned { id: 1, pid: 1 });
    assert!(matches!(runner.recv(), Some(Message::Error { id: None, kind: ErrorKind::Protocol, .. })));
    assert_eq!(runner.recv(), None);
}

#[test]
fn requests_about_unknown_processes_get_errors() {
    let mut runner = RawRunner::connect();
    for request in [
        Message::Stdin { id: 9, data: b"x".to_vec() },
        Message::CloseStdin { id: 9 },
        Message::Resize { id: 9, rows: 1, cols: 1 },
        Message::Signal { id: 9, signal: cordon_ipc::Signal::Kill },
        Message::Terminate { id: 9 },
        Message::Poll { id: 9 },
    ] {
        let name = request.name();
        runner.send(&request);
        match runner.recv() {
            Some(Message::Error { id: Some(9), kind: ErrorKind::UnknownProcess, .. }) => {}
            other => panic!("{name}: expected unknown_process, got {other:?}"),
        }
    }
    // An Ack for an unknown id races exits and is ignored; List still works.
    runner.send(&Message::Ack { id: 9, bytes: 1 });
    runner.send(&Message::List {});
    assert_eq!(runner.recv(), Some(Message::Processes { processes: vec![] }));
}

#[test]
fn acknowledging_more_than_was_sent_is_reported() {
    let mut runner = RawRunner::connect();
    runner.send(&spawn_msg(1, &["sleep", "30"]));
    assert!(matches!(runner.recv(), Some(Message::Spawned { .. })));
    runner.send(&Message::Ack { id: 1, bytes: 10 });
    match runner.recv() {
        Some(Message::Error { id: Some(1), kind: ErrorKind::Protocol, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn closing_the_channel_kills_the_tree_and_the_runner_exits() {
    let mut runner = RawRunner::connect();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let script = format!("(setsid sleep 300 & echo $! > {}); sleep 300", pid_file.display());
    runner.send(&spawn_msg(1, &["sh", "-c", &script]));
    let pid = match runner.recv() {
        Some(Message::Spawned { pid, .. }) => pid,
        other => panic!("{other:?}"),
    };
    let grandchild = read_pid_file(&pid_file);
    runner.writer.get_mut().shutdown(std::net::Shutdown::Both).unwrap();
    let status = runner.wait_exit();
    assert_eq!(status, Some(0));
    assert!(wait_gone(pid), "the process outlived the channel");
    assert!(wait_gone(grandchild), "the setsid'ed grandchild outlived the channel");
}

#[tokio::test]
async fn runner_killed_mid_stream_fails_every_call_promptly() {
    bounded("test", async {
        let sandbox = launch().await;
        let mut yes = sandbox.spawn(Command::new("yes")).await.unwrap();
        let cat = sandbox.spawn(Command::new("cat").stdin(true)).await.unwrap();
        for _ in 0..3 {
            assert!(matches!(yes.next_event().await.unwrap(), Some(Event::Output { .. })));
        }
        let runner_pid = sandbox.info().pid;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(runner_pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let started = Instant::now();
        // Buffered output may still be read; then the error, not a hang.
        let err = loop {
            match yes.next_event().await {
                Ok(Some(Event::Output { .. })) => continue,
                Ok(other) => panic!("unexpected {other:?}"),
                Err(err) => break err,
            }
        };
        assert!(matches!(err, Error::RunnerGone(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(cat.write_stdin("x").await, Err(Error::RunnerGone(_))));
        assert!(matches!(sandbox.spawn(Command::new("true")).await, Err(Error::RunnerGone(_))));
        assert!(matches!(sandbox.list().await, Err(Error::RunnerGone(_))));
        assert!(matches!(cat.status().await, Err(Error::RunnerGone(_))));
    })
    .await
}

#[tokio::test]
async fn the_stdio_transport_works_end_to_end() {
    bounded("test", async {
        let sandbox = Sandbox::launch(options().transport(Transport::Stdio)).await.unwrap();
        let out = sandbox.run(Command::new("sh").args(["-c", "echo via-stdio; echo e >&2"])).await.unwrap();
        assert_eq!(out.stdout, b"via-stdio\n");
        assert_eq!(out.stderr, b"e\n");
        let cat = sandbox.spawn(Command::new("cat").stdin(true)).await.unwrap();
        cat.write_stdin("ping\n").await.unwrap();
        cat.close_stdin().await.unwrap();
        let out = cat.output().await.unwrap();
        assert_eq!(out.stdout, b"ping\n");
        sandbox.shutdown().await.unwrap();
    })
    .await
}

#[test]
fn the_stdio_transport_also_accepts_a_socket() {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let theirs_out = theirs.try_clone().unwrap();
    let mut child = StdCommand::new(RUNNER)
        .args(["--ipc-stdio", "--policy-json", "\"full-access\""])
        .env(TOKEN_ENV, "s")
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs_out)))
        .spawn()
        .unwrap();
    ours.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut writer = FrameWriter::new(ours.try_clone().unwrap(), DEFAULT_MAX_FRAME);
    let mut reader = FrameReader::new(ours, DEFAULT_MAX_FRAME);
    writer.write_message(&hello("s")).unwrap();
    assert!(matches!(reader.read_message().unwrap(), Some(Message::HelloAck(_))));
    writer.write_message(&Message::Shutdown {}).unwrap();
    assert_eq!(reader.read_message().unwrap(), None);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn the_runner_exits_when_its_parent_died_before_it_started() {
    // --parent-pid names a process that is not the runner's parent: the
    // death signal could not have been armed in time.
    let out = StdCommand::new(RUNNER)
        .args(["--ipc-stdio", "--policy-json", "\"full-access\"", "--parent-pid", "1"])
        .env(TOKEN_ENV, "t")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exited before the runner started"));
}

#[test]
fn parent_death_kills_the_runner_and_its_tree() {
    // A shell starts the runner (so the shell is its parent) and reports
    // the runner's pid; the channel is the runner's stdio, held by the test.
    let mut parent = StdCommand::new("sh")
        // An asynchronous command's stdin is /dev/null unless redirected
        // from a saved copy.
        .args([
            "-c",
            "exec 3<&0; \"$0\" --ipc-stdio --policy-json '\"full-access\"' <&3 3<&- & echo $! >&2; wait",
            RUNNER,
        ])
        .env(TOKEN_ENV, "p")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(parent.stderr.take().unwrap()).read_line(&mut line).unwrap();
    let runner_pid: u32 = line.trim().parse().unwrap();
    let mut writer = FrameWriter::new(parent.stdin.take().unwrap(), DEFAULT_MAX_FRAME);
    let mut reader = FrameReader::new(parent.stdout.take().unwrap(), DEFAULT_MAX_FRAME);
    writer.write_message(&hello("p")).unwrap();
    assert!(matches!(reader.read_message().unwrap(), Some(Message::HelloAck(_))));
    writer.write_message(&spawn_msg(1, &["sleep", "300"])).unwrap();
    let sleeper = match reader.read_message().unwrap() {
        Some(Message::Spawned { pid, .. }) => pid,
        other => panic!("{other:?}"),
    };
    // The parent dies; the test still holds the channel open.
    parent.kill().unwrap();
    parent.wait().unwrap();
    assert!(wait_gone(runner_pid), "the runner outlived its parent");
    assert!(wait_gone(sleeper), "the runner's tree outlived its parent");
    drop(writer);
}

fn request_file(dir: &std::path::Path, json: &str) -> std::path::PathBuf {
    let path = dir.join("request.json");
    std::fs::write(&path, json).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn run_request(path: &std::path::Path) -> std::process::Output {
    StdCommand::new(RUNNER).arg("--request-file").arg(path).stdin(Stdio::null()).output().unwrap()
}

#[test]
fn the_request_file_bootstrap_runs_the_command_and_deletes_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let env = serde_json::json!({ "PATH": std::env::var("PATH").unwrap(), "GREETING": "hi" });
    let request = serde_json::json!({
        "argv": ["sh", "-c", "echo \"$GREETING from $(pwd)\"; echo oops >&2; exit 7"],
        "cwd": "/tmp",
        "env": env,
        "policy": "full-access",
    });
    let path = request_file(dir.path(), &request.to_string());
    let out = run_request(&path);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi from /tmp\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    assert!(!path.exists(), "the request file is deleted on read");
}

#[test]
fn the_request_file_bootstrap_follows_the_exit_status_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path_env = std::env::var("PATH").unwrap();
    let plain = dir.path().join("plain.txt");
    std::fs::write(&plain, "echo not executable").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cases = [
        (serde_json::json!(["sh", "-c", "kill -9 $$"]), None, 137),
        (serde_json::json!(["sleep", "30"]), Some(300), 124),
        (serde_json::json!(["no-such-program-here"]), None, 127),
        (serde_json::json!([plain.to_str().unwrap()]), None, 126),
    ];
    for (argv, timeout_ms, code) in cases {
        let request = serde_json::json!({
            "argv": argv, "env": { "PATH": path_env }, "timeout_ms": timeout_ms, "policy": "full-access",
        });
        let out = run_request(&request_file(dir.path(), &request.to_string()));
        assert_eq!(out.status.code(), Some(code), "{argv}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn a_bad_request_file_is_a_clear_error_with_status_125() {
    let dir = tempfile::tempdir().unwrap();
    let missing = run_request(&dir.path().join("missing.json"));
    assert_eq!(missing.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read request file"));

    let malformed = run_request(&request_file(dir.path(), "{ not json"));
    assert_eq!(malformed.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&malformed.stderr).contains("malformed request file"));

    let unknown = run_request(&request_file(dir.path(), r#"{"argv":["true"],"policy":"full-access","x":1}"#));
    assert_eq!(unknown.status.code(), Some(125), "unknown fields are refused");

    let bad_policy = run_request(&request_file(dir.path(), r#"{"argv":["true"],"policy":"everything"}"#));
    assert_eq!(bad_policy.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&bad_policy.stderr).contains("malformed request file"));
}

#[test]
fn the_request_file_bootstrap_enforces_its_policy() {
    let dir = tempfile::tempdir().unwrap();
    // Not in /tmp, of which the sandbox sees nothing here: a directory it
    // does see, and may not write.
    let outside = host_scratch();
    let target = outside.path().join("written");
    let request = serde_json::json!({
        "argv": ["sh", "-c", format!("touch {} 2>&1; echo done", target.display())],
        "env": { "PATH": std::env::var("PATH").unwrap() },
        "policy": "read-only",
    });
    let out = run_request(&request_file(dir.path(), &request.to_string()));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let refused = stdout.contains("Permission denied") || stdout.contains("Read-only file system");
    assert!(refused && stdout.contains("done"), "{stdout}");
    assert!(!target.exists(), "read-only let the command write outside");
}

#[test]
fn a_spawn_with_an_empty_argv_is_an_invalid_request() {
    let mut runner = RawRunner::connect();
    runner.send(&Message::Spawn(Spawn {
        id: 1,
        argv: vec![],
        cwd: None,
        env: Default::default(),
        tty: None,
        stdin: false,
        timeout_ms: None,
    }));
    match runner.recv() {
        Some(Message::SpawnFailed { id: 1, error }) => assert_eq!(error.kind, SpawnErrorKind::InvalidRequest),
        other => panic!("{other:?}"),
    }
}

#[test]
fn input_is_acknowledged_and_input_past_the_window_is_refused() {
    let mut runner = RawRunner::connect();
    let mut spawn = spawn_msg(1, &["sh", "-c", "sleep 2; wc -c"]);
    if let Message::Spawn(s) = &mut spawn {
        s.stdin = true;
    }
    runner.send(&spawn);
    assert!(matches!(runner.recv(), Some(Message::Spawned { .. })));
    // Twice the stdin window while nothing is read: a parent that ignores
    // its credit.
    let window = cordon_ipc::DEFAULT_STDIN_WINDOW as u64;
    let chunk = 512 * 1024u64;
    for _ in 0..2 * window / chunk {
        runner.send(&Message::Stdin { id: 1, data: vec![b'a'; chunk as usize] });
    }
    runner.send(&Message::CloseStdin { id: 1 });
    let (mut acked, mut refused, mut output) = (0u64, 0u64, Vec::new());
    while let Some(message) = runner.recv() {
        match message {
            Message::StdinAck { bytes, .. } => acked += bytes,
            Message::Error { id: Some(1), kind: ErrorKind::Protocol, .. } => refused += 1,
            Message::Output { id, data, .. } => {
                runner.send(&Message::Ack { id, bytes: data.len() as u64 });
                output.extend_from_slice(&data);
            }
            Message::Exited(_) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(refused > 0, "input past the window is refused with an error");
    assert_eq!(acked, 2 * window, "every input byte is acknowledged, refused ones too");
    let delivered: u64 = String::from_utf8_lossy(&output).trim().parse().unwrap();
    assert_eq!(delivered, 2 * window - refused * chunk, "all accepted input arrived");
    assert!(delivered >= window, "at least a window's worth is accepted");
}
