//! The wire's own guarantees, end to end against the real runner: frame
//! sizes (a request too large fails alone; `execve`-sized requests fit),
//! whole frames only at the end of a session, the tree gone once the runner
//! is, output never after `Exited`, and faults mid-stream.
#![cfg(unix)]

mod common;

use common::*;
use cordon::{Command, Error};
use cordon_ipc::{DEFAULT_MAX_FRAME, MAX_FRAME_CAP, Message, encode_body};

/// `n` arguments of `len` bytes each, all different.
fn long_args(n: usize, len: usize) -> Vec<String> {
    (0..n).map(|i| format!("{i:0len$}")).collect()
}

#[tokio::test]
async fn an_oversized_spawn_fails_alone_and_the_sandbox_goes_on() {
    bounded("test", async {
        // A runner that, like an older one, settles on 1 MiB frames.
        let sandbox = cordon::Sandbox::launch(options().max_frame(DEFAULT_MAX_FRAME)).await.unwrap();
        let mut cat = sandbox.spawn(Command::new("cat").stdin(true)).await.unwrap();
        cat.write_stdin("before\n").await.unwrap();
        assert!(read_until(&mut cat, "before\n").await.contains("before"));

        let args = long_args(20_000, 60);
        match sandbox.spawn(Command::new("true").args(&args)).await {
            Err(Error::RequestTooLarge { message, size, max }) => {
                assert_eq!(message, "Spawn");
                assert_eq!(max, DEFAULT_MAX_FRAME);
                assert!(size > max as usize, "{size} <= {max}");
                let text = Error::RequestTooLarge { message, size, max }.to_string();
                assert!(text.contains(&size.to_string()) && text.contains(&max.to_string()), "{text}");
            }
            other => panic!("expected RequestTooLarge, got {other:?}"),
        }

        // The sandbox still spawns, and the process started before still runs.
        let out = sandbox.run(Command::new("echo").arg("after")).await.unwrap();
        assert_eq!(out.stdout, b"after\n");
        cat.write_stdin("still here\n").await.unwrap();
        assert!(read_until(&mut cat, "still here\n").await.contains("still here"));
        cat.close_stdin().await.unwrap();
        assert!(cat.wait().await.unwrap().success());
        sandbox.shutdown().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn twenty_thousand_arguments_of_sixty_bytes_spawn_through_ipc() {
    bounded("test", async {
        let sandbox = launch().await;
        assert_eq!(sandbox.info().max_frame, MAX_FRAME_CAP, "the handshake settles on the cap");
        let args = long_args(20_000, 60);
        // More than the old 1 MiB frame could carry.
        let spawn = Message::Spawn(cordon_ipc::Spawn {
            id: 1,
            argv: args.iter().map(Into::into).collect(),
            cwd: None,
            env: Default::default(),
            tty: None,
            stdin: false,
            timeout_ms: None,
        });
        assert!(encode_body(&spawn).unwrap().len() > DEFAULT_MAX_FRAME as usize);

        let script = r#"echo "$#"; printf '%s\n' "$1" "${20000}""#;
        let out =
            sandbox.run(Command::new("sh").args(["-c", script, "sh"]).args(&args).env_clear()).await.unwrap();
        let expected = format!("20000\n{}\n{}\n", args[0], args[19_999]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
        assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));

        // The answers that repeat argv grow with it, and still fit.
        let mut sleeper =
            sandbox.spawn(Command::new("sh").args(["-c", "sleep 30", "sh"]).args(&args)).await.unwrap();
        let listed = sandbox.list().await.unwrap();
        let entry = listed.iter().find(|p| p.id == sleeper.id()).expect("listed");
        assert_eq!(entry.argv.len(), 4 + args.len());
        sleeper.terminate().await.unwrap();
        let _ = sleeper.wait().await;
        sandbox.shutdown().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn arguments_environment_and_cwd_that_are_not_utf8_reach_the_process_as_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    bounded("test", async {
        let scratch = host_scratch();
        let dir = scratch.path().join(OsStr::from_bytes(b"caf\xe9"));
        std::fs::create_dir(&dir).unwrap();
        let sandbox = launch().await;
        let script = r#"printf '%s|%s|' "$1" "$BYTES"; pwd"#;
        let command = Command::new("sh")
            .args(["-c", script, "sh"])
            .arg(OsStr::from_bytes(b"\xff\xfe"))
            .env("BYTES", "plain")
            .cwd(&dir);
        let out = sandbox.run(command).await.unwrap();
        let mut expected = b"\xff\xfe|plain|".to_vec();
        expected.extend_from_slice(dir.as_os_str().as_bytes());
        expected.push(b'\n');
        assert_eq!(out.stdout, expected, "{}", String::from_utf8_lossy(&out.stderr));
        sandbox.shutdown().await.unwrap();
    })
    .await
}

#[test]
fn an_environment_that_is_not_utf8_reaches_the_process_as_bytes() {
    let mut runner = RawRunner::connect();
    let mut spawn = match spawn_msg(1, &["sh", "-c", "printf '%s' \"$V\""]) {
        Message::Spawn(spawn) => spawn,
        _ => unreachable!(),
    };
    spawn.env.insert("V".into(), cordon_ipc::OsBytes::from(vec![0x80, 0xff]));
    runner.send(&Message::Spawn(spawn));
    let mut output = Vec::new();
    loop {
        match runner.recv().expect("a message") {
            Message::Output { data, .. } => output.extend_from_slice(&data),
            Message::Exited(exited) => {
                assert_eq!(exited.code, Some(0));
                break;
            }
            Message::Spawned { .. } | Message::StdinAck { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(output, [0x80, 0xff]);
}

/// How often each ending is tried: the cut showed in about half the runs.
const ROUNDS: usize = 12;

/// Streams output as fast as the runner can send it, ends the session with
/// `end` while the runner is in the middle of writing (the socket buffer is
/// full), then reads to the end of stream: every frame must be whole.
fn the_last_frame_is_whole_when(what: &str, end: impl Fn(&mut RawRunner)) {
    for round in 0..ROUNDS {
        // A window far larger than the socket buffer: the runner always has
        // more to write than the socket takes.
        let mut runner = RawRunner::connect_with_window(64 << 20);
        runner.send(&spawn_msg(1, &["sh", "-c", "exec cat /dev/zero"]));
        let mut outputs = 0;
        while outputs < 4 {
            if let Some(Message::Output { .. }) = runner.recv() {
                outputs += 1;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        end(&mut runner);
        loop {
            match runner.reader.read_message() {
                Ok(Some(_)) => outputs += 1,
                Ok(None) => break,
                Err(err) => panic!("{what}, round {round}, after {outputs} Outputs: {err}"),
            }
        }
        assert_eq!(runner.wait_exit(), Some(0), "{what}, round {round}");
    }
}

#[test]
fn the_last_frame_is_whole_when_the_runner_gets_sigterm() {
    the_last_frame_is_whole_when("SIGTERM", |runner| {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(runner.child.id() as i32),
            nix::sys::signal::SIGTERM,
        )
        .unwrap();
    });
}

#[test]
fn the_last_frame_is_whole_when_the_parent_half_closes() {
    the_last_frame_is_whole_when("half-close", |runner| {
        runner.writer.get_mut().shutdown(std::net::Shutdown::Write).unwrap();
    });
}

/// Starts a tree of `width` sleeping processes under one spawned shell and
/// returns every pid in it once all are running.
fn start_tree(runner: &mut RawRunner, width: usize) -> Vec<u32> {
    let script = format!("for i in $(seq {width}); do sleep 60 & done; echo started; wait");
    runner.send(&spawn_msg(1, &["sh", "-c", &script]));
    let mut root = None;
    loop {
        match runner.recv().expect("a message") {
            Message::Spawned { pid, .. } => root = Some(pid),
            Message::Output { data, .. } if data.starts_with(b"started") => break,
            Message::Output { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let root = root.expect("Spawned before Output");
    let mut tree = descendants(root);
    assert_eq!(tree.len(), width, "{tree:?}");
    tree.push(root);
    tree
}

#[test]
fn the_tree_is_gone_once_the_runners_exit_is_seen() {
    for round in 0..30 {
        let mut runner = RawRunner::connect();
        let tree = start_tree(&mut runner, 8);
        let how = if round % 2 == 0 { "SIGTERM" } else { "end of stream" };
        if round % 2 == 0 {
            let pid = nix::unistd::Pid::from_raw(runner.child.id() as i32);
            nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM).unwrap();
        } else {
            runner.writer.get_mut().shutdown(std::net::Shutdown::Both).unwrap();
        }
        let status = runner.child.wait().unwrap();
        let alive: Vec<u32> = tree.iter().copied().filter(|pid| !is_gone(*pid)).collect();
        assert!(alive.is_empty(), "round {round} ({how}): runner {status}, still alive: {alive:?}");
    }
}

#[test]
fn output_still_queued_at_exit_never_follows_exited() {
    const TOTAL: usize = 100_000;
    const WINDOW: u32 = 4096;
    for round in 0..5 {
        let mut runner = RawRunner::connect_with_window(WINDOW);
        runner.send(&spawn_msg(1, &["head", "-c", &TOTAL.to_string(), "/dev/zero"]));
        // Acks held back: the window fills, the process exits, the rest of
        // its output stays queued in its pipe.
        let socket = runner.reader.get_mut().try_clone().unwrap();
        socket.set_read_timeout(Some(std::time::Duration::from_millis(300))).unwrap();
        let mut got = 0;
        let mut polled = false;
        loop {
            match runner.reader.read_message() {
                Ok(Some(Message::Spawned { .. })) => {}
                Ok(Some(Message::Output { data, .. })) => got += data.len(),
                Ok(Some(Message::Status(status))) => {
                    assert!(!status.running, "round {round}: {status:?}");
                    assert_eq!(status.unacked_bytes, u64::from(WINDOW));
                    break;
                }
                Ok(Some(Message::Exited(exited))) => {
                    panic!("round {round}: Exited ({exited:?}) after {got} of {TOTAL} bytes, acks held back")
                }
                Err(cordon_ipc::Error::Io(err))
                    if err.kind() == std::io::ErrorKind::WouldBlock && !polled =>
                {
                    runner.send(&Message::Poll { id: 1 });
                    polled = true;
                }
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(got, WINDOW as usize);
        socket.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
        runner.send(&Message::Ack { id: 1, bytes: got as u64 });
        loop {
            match runner.recv().expect("a message") {
                Message::Output { data, .. } => {
                    got += data.len();
                    runner.send(&Message::Ack { id: 1, bytes: data.len() as u64 });
                }
                Message::Exited(exited) => {
                    assert_eq!(got, TOTAL, "round {round}: Exited before all output");
                    assert_eq!(exited.code, Some(0));
                    break;
                }
                other => panic!("round {round}: {other:?}"),
            }
        }
        runner.send(&Message::Shutdown {});
        while let Some(message) = runner.recv() {
            assert!(!matches!(message, Message::Output { .. }), "round {round}: {message:?} after Exited");
        }
    }
}

#[tokio::test]
async fn output_is_intact_across_a_sigstop_and_sigcont_of_the_runner() {
    use nix::sys::signal::{Signal, kill};
    bounded("test", async {
        let sandbox = launch().await;
        let runner = nix::unistd::Pid::from_raw(sandbox.runner_pid().unwrap() as i32);
        let mut seq = sandbox.spawn(Command::new("seq").args(["1", "300000"])).await.unwrap();
        let mut text = Vec::new();
        let mut stopped = false;
        let status = loop {
            match seq.next_event().await.unwrap() {
                Some(cordon::Event::Output { data, .. }) => {
                    text.extend_from_slice(&data);
                    if !stopped && text.len() > 100_000 {
                        stopped = true;
                        kill(runner, Signal::SIGSTOP).unwrap();
                        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                        let stat = std::fs::read_to_string(format!("/proc/{runner}/stat")).unwrap();
                        let state = stat[stat.rfind(')').unwrap() + 2..].chars().next();
                        assert_eq!(state, Some('T'), "the runner is stopped");
                        kill(runner, Signal::SIGCONT).unwrap();
                    }
                }
                Some(cordon::Event::Exited(status)) => break status,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert!(stopped, "the output ended before the runner could be stopped");
        assert!(status.success(), "{status:?}");
        let expected: String = (1..=300_000).map(|i| format!("{i}\n")).collect();
        assert!(
            text == expected.as_bytes(),
            "{} bytes of {} arrived, or not in order",
            text.len(),
            expected.len()
        );
        sandbox.shutdown().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn a_timeout_of_zero_kills_the_tree_at_once() {
    bounded("test", async {
        let sandbox = launch().await;
        let started = std::time::Instant::now();
        let out =
            sandbox.run(Command::new("sleep").arg("30").timeout(std::time::Duration::ZERO)).await.unwrap();
        assert!(out.status.timed_out, "{:?}", out.status);
        assert_eq!(out.status.signal, Some(9));
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
        sandbox.shutdown().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn pty_sizes_from_0x0_to_65535x65535_are_set_as_given() {
    use cordon::Size;
    bounded("test", async {
        let sandbox = launch().await;
        for (rows, cols) in [(0, 0), (65535, 65535), (1, 65535), (65535, 1)] {
            let out = sandbox.run(Command::new("stty").arg("size").tty(Size { rows, cols })).await.unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{rows} {cols}\r\n"));
        }
        // Resized to the extremes, too.
        let mut sh = sandbox.spawn(Command::new("sh").tty(Size { rows: 24, cols: 80 })).await.unwrap();
        for (rows, cols) in [(0u16, 0u16), (65535, 65535)] {
            sh.resize(Size { rows, cols }).await.unwrap();
            sh.write_stdin(format!("stty size; echo done-{rows}\n")).await.unwrap();
            let seen = read_until(&mut sh, &format!("{rows} {cols}\r\ndone-{rows}")).await;
            assert!(seen.contains(&format!("{rows} {cols}")), "{seen:?}");
        }
        sh.write_stdin("exit\n").await.unwrap();
        assert!(sh.wait().await.unwrap().success());
        sandbox.shutdown().await.unwrap();
    })
    .await
}
