//! Process control through the client library against the real runner:
//! pipes and PTYs, stdin, resize, signals, tree kill, timeouts, many
//! processes, large and binary output, flow control.
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::*;
use cordon::{Command, Error, Event, ProcessState, Signal, Size, SpawnErrorKind, Stream};

#[tokio::test]
async fn stdout_and_stderr_stay_separate() {
    bounded("test", async {
        let sandbox = launch().await;
        let script = "for i in 1 2 3; do echo out$i; echo err$i >&2; done";
        let out = sandbox.run(Command::new("sh").args(["-c", script])).await.unwrap();
        assert_eq!(out.stdout, b"out1\nout2\nout3\n");
        assert_eq!(out.stderr, b"err1\nerr2\nerr3\n");
        assert!(out.status.success());
    })
    .await
}

#[tokio::test]
async fn output_arrives_in_order_and_before_exited() {
    bounded("test", async {
        let sandbox = launch().await;
        let mut p = sandbox.spawn(Command::new("seq").args(["1", "50000"])).await.unwrap();
        let mut text = Vec::new();
        let status = loop {
            match p.next_event().await.unwrap() {
                Some(Event::Output { stream, data }) => {
                    assert_eq!(stream, Stream::Stdout);
                    text.extend_from_slice(&data);
                }
                Some(Event::Exited(status)) => break status,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert!(status.success());
        assert!(p.next_event().await.unwrap().is_none(), "nothing may follow Exited");
        let expected: String = (1..=50000).map(|i| format!("{i}\n")).collect();
        assert_eq!(String::from_utf8(text).unwrap(), expected);
    })
    .await
}

#[tokio::test]
async fn output_written_just_before_exit_is_not_lost() {
    bounded("test", async {
        let sandbox = launch().await;
        for round in 0..20 {
            let out = sandbox.run(Command::new("sh").args(["-c", "echo last-words"])).await.unwrap();
            assert_eq!(out.stdout, b"last-words\n", "round {round}");
            let out = sandbox
                .run(Command::new("sh").args(["-c", "echo last-words"]).tty(Size::default()))
                .await
                .unwrap();
            assert_eq!(out.stdout, b"last-words\r\n", "pty round {round}");
        }
    })
    .await
}

#[tokio::test]
async fn stdin_over_time_and_eof_in_pipe_mode() {
    bounded("test", async {
        let sandbox = launch().await;
        let mut cat = sandbox.spawn(Command::new("cat").stdin(true)).await.unwrap();
        for i in 0..5 {
            cat.write_stdin(format!("line {i}\n")).await.unwrap();
            read_until(&mut cat, &format!("line {i}\n")).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cat.close_stdin().await.unwrap();
        let status = cat.wait().await.unwrap();
        assert_eq!(status.code, Some(0), "cat exits on EOF");
    })
    .await
}

#[tokio::test]
async fn stdin_over_time_and_eof_in_pty_mode() {
    bounded("test", async {
        let sandbox = launch().await;
        let mut cat = sandbox.spawn(Command::new("cat").tty(Size::default())).await.unwrap();
        cat.write_stdin("hello\n").await.unwrap();
        // The terminal echoes the line, then cat writes it back.
        let seen = read_until(&mut cat, "hello\r\nhello\r\n").await;
        assert_eq!(seen, "hello\r\nhello\r\n");
        // A partial line, then EOF: the first VEOF ends the line, the second
        // is end of file.
        cat.write_stdin("tail").await.unwrap();
        cat.close_stdin().await.unwrap();
        let out = cat.output().await.unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("tail"), "{:?}", out.stdout);
        assert_eq!(out.status.code, Some(0), "cat exits on the terminal's EOF");
    })
    .await
}

#[tokio::test]
async fn pipe_process_without_stdin_reads_eof() {
    bounded("test", async {
        let sandbox = launch().await;
        let out = sandbox.run(Command::new("cat")).await.unwrap();
        assert!(out.status.success());
        assert!(out.stdout.is_empty());
    })
    .await
}

#[tokio::test]
async fn pty_has_the_initial_size_and_resize_is_seen_by_the_child() {
    bounded("test", async {
        let sandbox = launch().await;
        let script = "stty size; trap 'echo winch; stty size' WINCH; echo ready; \
                      while :; do sleep 0.02; done";
        let mut sh = sandbox
            .spawn(Command::new("sh").args(["-c", script]).tty(Size { rows: 30, cols: 100 }))
            .await
            .unwrap();
        let seen = read_until(&mut sh, "ready").await;
        assert!(seen.contains("30 100"), "initial size: {seen:?}");
        sh.resize(Size { rows: 50, cols: 132 }).await.unwrap();
        let seen = read_until(&mut sh, "50 132").await;
        assert!(seen.contains("winch"), "SIGWINCH: {seen:?}");
        sh.terminate().await.unwrap();
        sh.wait().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn resize_of_a_pipe_process_is_refused() {
    bounded("test", async {
        let sandbox = launch().await;
        let p = sandbox.spawn(Command::new("sleep").arg("10")).await.unwrap();
        assert!(matches!(p.resize(Size::default()).await, Err(Error::Request { .. })));
    })
    .await
}

#[tokio::test]
async fn each_signal_reaches_the_process() {
    bounded("test", async {
        let sandbox = launch().await;
        for (signal, number) in
            [(Signal::Interrupt, 2), (Signal::Terminate, 15), (Signal::Kill, 9), (Signal::Hangup, 1)]
        {
            let mut p = sandbox.spawn(Command::new("sleep").arg("30")).await.unwrap();
            p.signal(signal).await.unwrap();
            let status = p.wait().await.unwrap();
            assert_eq!(status.signal, Some(number), "{signal:?}");
            assert_eq!(status.exit_code(), 128 + number);
        }
    })
    .await
}

#[tokio::test]
async fn interrupt_on_a_pty_reaches_the_foreground_job_and_a_trap_runs() {
    bounded("test", async {
        let sandbox = launch().await;
        let script = "trap 'echo got-int; exit 7' INT; echo ready; while :; do sleep 0.05; done";
        let mut sh =
            sandbox.spawn(Command::new("sh").args(["-c", script]).tty(Size::default())).await.unwrap();
        read_until(&mut sh, "ready").await;
        sh.signal(Signal::Interrupt).await.unwrap();
        let out = sh.output().await.unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("got-int"));
        assert_eq!(out.status.code, Some(7));
    })
    .await
}

#[tokio::test]
async fn terminate_kills_a_setsid_double_forked_grandchild() {
    bounded("test", async {
        let sandbox = launch().await;
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("daemon.pid");
        // The subshell forks and exits (double fork); the daemon leaves the
        // session with setsid.
        let script = format!(
            "(setsid sh -c 'sleep 300 & echo $! > {}; exit 0' &); echo started; sleep 300",
            pid_file.display()
        );
        let mut p = sandbox.spawn(Command::new("sh").args(["-c", &script])).await.unwrap();
        read_until(&mut p, "started").await;
        let daemon = read_pid_file(&pid_file);
        assert!(!is_gone(daemon), "the daemon runs");
        let sid = std::fs::read_to_string(format!("/proc/{daemon}/stat")).unwrap();
        let fields: Vec<&str> = sid[sid.rfind(')').unwrap() + 2..].split(' ').collect();
        assert_ne!(fields[3], p.pid().to_string(), "the daemon left the process's session");
        p.terminate().await.unwrap();
        let status = p.wait().await.unwrap();
        assert_eq!(status.signal, Some(9));
        assert!(wait_gone(daemon), "the setsid'ed grandchild {daemon} survived Terminate");
    })
    .await
}

#[tokio::test]
async fn timeout_kills_the_tree_and_reports_timed_out() {
    bounded("test", async {
        let sandbox = launch().await;
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("child.pid");
        let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
        let started = std::time::Instant::now();
        let mut p = sandbox
            .spawn(Command::new("sh").args(["-c", &script]).timeout(Duration::from_millis(500)))
            .await
            .unwrap();
        let grandchild = read_pid_file(&pid_file);
        let status = p.wait().await.unwrap();
        assert!(status.timed_out);
        assert_eq!(status.exit_code(), 124);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(wait_gone(grandchild), "the timed-out tree's child {grandchild} survived");
    })
    .await
}

#[tokio::test]
async fn sixty_four_processes_at_once_on_one_runner() {
    bounded("test", async {
        let sandbox = launch().await;
        let mut processes = Vec::new();
        for i in 0..64 {
            let script = format!("echo start-{i}; read x; echo end-{i}-$x >&2");
            processes
                .push(sandbox.spawn(Command::new("sh").args(["-c", &script]).stdin(true)).await.unwrap());
        }
        let listed = sandbox.list().await.unwrap();
        assert_eq!(listed.len(), 64, "all 64 are live at once");
        assert!(listed.iter().all(|p| p.running));
        for (i, p) in processes.iter().enumerate() {
            p.write_stdin(format!("{}\n", i * 2)).await.unwrap();
        }
        let results = futures_util::future::join_all(processes.into_iter().map(|p| p.output())).await;
        for (i, out) in results.into_iter().enumerate() {
            let out = out.unwrap();
            assert!(out.status.success());
            assert_eq!(out.stdout, format!("start-{i}\n").as_bytes());
            assert_eq!(out.stderr, format!("end-{i}-{}\n", i * 2).as_bytes());
        }
        assert!(sandbox.list().await.unwrap().is_empty());
    })
    .await
}

const HUNDRED_MIB: usize = 100 << 20;

#[tokio::test]
async fn hundred_mib_of_pipe_output_is_byte_exact() {
    bounded("test", async {
        let (_dir, path, digest) = data_file(&pseudo_random(HUNDRED_MIB, 1));
        let sandbox = launch().await;
        let out = sandbox
            .spawn(Command::new("cat").arg(path.to_str().unwrap()))
            .await
            .unwrap()
            .output_within(u64::MAX)
            .await
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), HUNDRED_MIB);
        assert_eq!(sha256(&out.stdout), digest);
    })
    .await
}

#[tokio::test]
async fn hundred_mib_of_pty_output_is_byte_exact() {
    bounded("test", async {
        let (_dir, path, digest) = data_file(&pseudo_random(HUNDRED_MIB, 2));
        let sandbox = launch().await;
        // Raw mode: the line discipline passes bytes through untouched.
        let script = format!("stty raw -echo; cat {}", path.display());
        let out = sandbox
            .spawn(Command::new("sh").args(["-c", &script]).tty(Size::default()))
            .await
            .unwrap()
            .output_within(u64::MAX)
            .await
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), HUNDRED_MIB);
        assert_eq!(sha256(&out.stdout), digest);
    })
    .await
}

#[tokio::test]
async fn run_keeps_the_head_and_tail_of_endless_output_and_counts_the_rest() {
    bounded("test", async {
        let sandbox = launch().await;
        // 48 MiB of numbered lines on stdout, a little on stderr.
        let script = "seq 1 8000000 | head -c 50331648; echo done >&2";
        let out = sandbox.run(Command::new("sh").args(["-c", script])).await.unwrap();
        assert!(out.status.success(), "{:?}", out.status);
        let limit = cordon::DEFAULT_OUTPUT_LIMIT as usize;
        assert_eq!(out.stdout.len(), limit, "bytes kept");
        assert_eq!(out.stdout_dropped, (48usize << 20) as u64 - limit as u64, "bytes dropped");
        assert!(out.stdout.starts_with(b"1\n2\n3\n"), "the head is the start");
        let all: Vec<u8> =
            (1..=8_000_000u32).flat_map(|n| format!("{n}\n").into_bytes()).take(48 << 20).collect();
        assert_eq!(out.stdout[limit / 2..], all[all.len() - limit / 2..], "the tail is the end");
        assert_eq!((out.stderr.as_slice(), out.stderr_dropped), (&b"done\n"[..], 0));
        // A limit of the caller's own.
        let process = sandbox.spawn(Command::new("sh").args(["-c", "printf 0123456789"])).await.unwrap();
        let out = process.output_within(4).await.unwrap();
        assert_eq!((out.stdout.as_slice(), out.stdout_dropped), (&b"0189"[..], 6));
        sandbox.shutdown().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn binary_output_is_byte_exact() {
    bounded("test", async {
        let data: Vec<u8> = (0..=255u8).cycle().take(256 * 64).collect();
        let (_dir, path, _) = data_file(&data);
        let sandbox = launch().await;
        let out = sandbox
            .spawn(Command::new("cat").arg(path.to_str().unwrap()))
            .await
            .unwrap()
            .output_within(u64::MAX)
            .await
            .unwrap();
        assert_eq!(out.stdout, data);
        let script = format!("cat {} >&2", path.display());
        let out = sandbox.run(Command::new("sh").args(["-c", &script])).await.unwrap();
        assert_eq!(out.stderr, data);
    })
    .await
}

#[tokio::test]
async fn a_consumer_that_stops_reading_one_process_does_not_stall_another() {
    bounded("test", async {
        let data = pseudo_random(8 << 20, 3);
        let (_dir, path, digest) = data_file(&data);
        let sandbox = launch().await;
        let mut stalled = sandbox.spawn(Command::new("cat").arg(path.to_str().unwrap())).await.unwrap();
        // Nobody reads `stalled` while another process runs to its end.
        let out = sandbox.run(Command::new("seq").args(["1", "100000"])).await.unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), (1..=100000).map(|i: u32| i.to_string().len() + 1).sum::<usize>());
        // The stalled process is bounded by its window, not buffered: wait
        // for the window to fill, then check it holds there.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match stalled.status().await.unwrap() {
                ProcessState::Running(s) if s.unacked_bytes < cordon::WINDOW as u64 => {}
                _ => break,
            }
            assert!(std::time::Instant::now() < deadline, "the window never filled");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        match stalled.status().await.unwrap() {
            ProcessState::Running(status) => {
                assert!(status.running);
                assert_eq!(status.unacked_bytes, cordon::WINDOW as u64, "window full, no more");
            }
            other => panic!("the unread process cannot have finished: {other:?}"),
        }
        // Reading resumes it, and nothing was lost.
        let mut received = Vec::new();
        loop {
            match stalled.next_event().await.unwrap() {
                Some(Event::Output { data, .. }) => received.extend_from_slice(&data),
                Some(Event::Exited(status)) => {
                    assert!(status.success());
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(sha256(&received), digest);
    })
    .await
}

#[tokio::test]
async fn spawn_failures_are_structured() {
    bounded("test", async {
        let sandbox = launch().await;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.txt");
        std::fs::write(&plain, "not a program").unwrap();
        let cases = [
            (Command::new("no-such-command-anywhere"), SpawnErrorKind::NotFound),
            (Command::new("/no/such/path"), SpawnErrorKind::NotFound),
            (Command::new(plain.to_str().unwrap()), SpawnErrorKind::NotExecutable),
            (Command::new(dir.path().to_str().unwrap()), SpawnErrorKind::NotExecutable),
            (Command::new("true").cwd("/no/such/dir"), SpawnErrorKind::BadCwd),
            (Command::new("true").cwd(plain.clone()), SpawnErrorKind::BadCwd),
            (Command::new("true").env("BAD\0NAME", "x"), SpawnErrorKind::InvalidRequest),
        ];
        for (command, expected) in cases {
            let what = format!("{command:?}");
            match sandbox.spawn(command).await {
                Err(Error::Spawn { kind, message, .. }) => {
                    assert_eq!(kind, expected, "{what}: {message}");
                    assert!(!message.is_empty());
                }
                other => panic!("{what}: expected a spawn failure, got {other:?}"),
            }
        }
        // A path too long to look up says so, rather than "not found".
        let long = format!("/tmp/{}", "a".repeat(5000));
        match sandbox.spawn(Command::new(long.as_str())).await {
            Err(Error::Spawn { kind, message, os_code }) => {
                // ENAMETOOLONG
                assert_eq!((kind, os_code), (SpawnErrorKind::NotExecutable, Some(36)), "{message}");
                assert!(message.contains("File name too long"), "{message}");
            }
            other => panic!("a 5,000-character path: expected a spawn failure, got {other:?}"),
        }
        // The runner is still fine afterwards.
        assert!(sandbox.run(Command::new("true")).await.unwrap().status.success());
    })
    .await
}

#[tokio::test]
async fn children_get_only_fds_0_1_2() {
    bounded("test", async {
        let sandbox = launch().await;
        for tty in [None, Some(Size::default())] {
            let mut command = Command::new("sh").args(["-c", "ls /proc/$$/fd"]);
            if let Some(size) = tty {
                command = command.tty(size);
            }
            let out = sandbox.run(command).await.unwrap();
            let fds: Vec<String> =
                String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect();
            assert_eq!(fds, ["0", "1", "2"], "tty={tty:?}");
        }
    })
    .await
}

#[tokio::test]
async fn the_handshake_token_is_invisible_to_children() {
    bounded("test", async {
        let sandbox = launch().await;
        let runner_pid = sandbox.info().pid;
        // The child's own environment, and the runner's as /proc shows it.
        let script = format!("env; tr '\\0' '\\n' < /proc/{runner_pid}/environ");
        let out = sandbox.run(Command::new("sh").args(["-c", &script])).await.unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for line in text.lines() {
            if let Some(value) = line.strip_prefix("CORDON_RUNNER_TOKEN=") {
                assert!(value.bytes().all(|b| b == b'0'), "token visible to a child: {line}");
            }
        }
    })
    .await
}

#[tokio::test]
async fn status_and_list_report_live_processes() {
    bounded("test", async {
        let sandbox = launch().await;
        let mut p = sandbox.spawn(Command::new("sleep").arg("30")).await.unwrap();
        match p.status().await.unwrap() {
            ProcessState::Running(s) => {
                assert_eq!(s.pid, p.pid());
                assert_eq!(s.argv, ["sleep", "30"]);
                assert!(!s.tty);
            }
            other => panic!("{other:?}"),
        }
        let list = sandbox.list().await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, p.id());
        p.terminate().await.unwrap();
        let status = p.wait().await.unwrap();
        assert_eq!(p.status().await.unwrap(), ProcessState::Exited(status));
        assert!(matches!(p.write_stdin("x").await, Err(Error::Exited)));
        assert!(sandbox.list().await.unwrap().is_empty());
    })
    .await
}

#[tokio::test]
async fn dropping_a_process_kills_its_tree() {
    bounded("test", async {
        let sandbox = launch().await;
        let p = sandbox.spawn(Command::new("sleep").arg("30")).await.unwrap();
        let pid = p.pid();
        drop(p);
        assert!(tokio::task::spawn_blocking(move || wait_gone(pid)).await.unwrap());
    })
    .await
}

#[tokio::test]
async fn a_pty_process_reports_exited_while_a_descendant_keeps_writing() {
    bounded("test", async {
        let sandbox = launch().await;
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("chatty.pid");
        // The descendant keeps the terminal open and writes more often than
        // the quiet period.
        let script = format!(
            "setsid sh -c 'echo $$ > {}; while :; do echo x; sleep 0.02; done' & sleep 0.2; exit 3",
            pid_file.display()
        );
        let started = std::time::Instant::now();
        let mut p =
            sandbox.spawn(Command::new("sh").args(["-c", &script]).tty(Size::default())).await.unwrap();
        let status = p.wait().await.unwrap();
        assert_eq!(status.code, Some(3));
        assert!(started.elapsed() < Duration::from_secs(5), "Exited took {:?}", started.elapsed());
        let chatty = read_pid_file(&pid_file);
        sandbox.shutdown().await.unwrap();
        assert!(wait_gone(chatty), "session end kills the leftover descendant");
    })
    .await
}

#[tokio::test]
async fn stdin_is_flow_controlled_and_loses_nothing() {
    bounded("test", async {
        let sandbox = launch().await;
        // The process reads nothing for a while: far more than the stdin
        // window must wait, not be dropped.
        let p = sandbox.spawn(Command::new("sh").args(["-c", "sleep 0.5; wc -c"]).stdin(true)).await.unwrap();
        let data = vec![b'x'; 20_000_000];
        p.write_stdin(&data).await.unwrap();
        p.close_stdin().await.unwrap();
        let out = p.output().await.unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "20000000");
    })
    .await
}

#[tokio::test]
async fn input_waits_for_a_slow_reader_while_output_flows() {
    bounded("test", async {
        let sandbox = launch().await;
        // cat echoes everything: input and output windows both fill.
        let mut cat = sandbox.spawn(Command::new("cat").stdin(true)).await.unwrap();
        let data = pseudo_random(30 << 20, 9);
        let writer = cat.stdin_writer();
        let expected = sha256(&data);
        let feeder = tokio::spawn(async move {
            writer.write(&data).await.unwrap();
            writer.close().await.unwrap();
        });
        let mut received = Vec::new();
        loop {
            match cat.next_event().await.unwrap() {
                Some(Event::Output { data, .. }) => received.extend_from_slice(&data),
                Some(Event::Exited(status)) => {
                    assert!(status.success());
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        feeder.await.unwrap();
        assert_eq!(sha256(&received), expected);
    })
    .await
}

#[tokio::test]
async fn dropping_an_unread_process_frees_it_in_the_runner() {
    bounded("test", async {
        let sandbox = launch().await;
        let yes = sandbox.spawn(Command::new("yes")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(yes);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !sandbox.list().await.unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "the dropped process never left the runner");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[tokio::test]
async fn a_cancelled_spawn_does_not_leave_a_process_behind() {
    bounded("test", async {
        let sandbox = launch().await;
        let cancelled =
            tokio::time::timeout(Duration::from_nanos(1), sandbox.spawn(Command::new("sleep").arg("100")));
        assert!(cancelled.await.is_err(), "the spawn was cancelled");
        // Let the Spawned arrive, then the runner must end it.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let list = sandbox.list().await.unwrap();
            if list.is_empty() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "orphaned spawn still runs: {list:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[tokio::test]
async fn shutdown_with_an_unread_process_is_prompt_and_reports_exited() {
    bounded("test", async {
        let sandbox = launch().await;
        let mut yes = sandbox.spawn(Command::new("yes")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        let reader = tokio::spawn(async move {
            // Start reading only after Shutdown went out.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            yes.wait().await
        });
        sandbox.shutdown().await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(4), "shutdown took {:?}", started.elapsed());
        let status = reader.await.unwrap().unwrap();
        assert_eq!(status.signal, Some(9), "Exited is reported for a killed, unread process");
    })
    .await
}

#[tokio::test]
async fn dropping_the_sandbox_ends_every_process_even_with_live_handles() {
    bounded("test", async {
        let sandbox = launch().await;
        let mut p = sandbox.spawn(Command::new("sleep").arg("300")).await.unwrap();
        let pid = p.pid();
        drop(sandbox);
        assert!(matches!(p.next_event().await, Err(Error::RunnerGone(_))));
        assert!(tokio::task::spawn_blocking(move || wait_gone(pid)).await.unwrap());
    })
    .await
}

#[tokio::test]
async fn a_relative_program_runs_in_a_relative_working_directory() {
    bounded("test", async {
        let sandbox = launch().await;
        let dir = tempfile::tempdir_in(".").unwrap();
        let name = dir.path().file_name().unwrap().to_str().unwrap().to_string();
        let script = dir.path().join("hello.sh");
        std::fs::write(&script, "#!/bin/sh\necho hello from $(basename $(pwd))\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let out = sandbox.run(Command::new("./hello.sh").cwd(&name)).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("hello from {name}\n"));
    })
    .await
}
