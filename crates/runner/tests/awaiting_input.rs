//! `ProcessStatus.awaiting_input`: the runner tells, from the kernel's view
//! of the processes, when a process is blocked reading its terminal or its
//! stdin pipe, through each way a program waits for input (`read`, `poll`,
//! `select`, `epoll`), and does not say so of a process that sleeps, waits
//! on something else, or is in the background of its terminal. Each case
//! runs with full access and inside the workspace-write sandbox (its own
//! PID namespace and /proc, Landlock, seccomp).
#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

use common::*;
use cordon::{
    Command, Event, LaunchOptions, Policy, PolicyBuilder, Preset, Process, ProcessState, Sandbox, Size,
};

/// How long a waiting reader may take to be seen.
const SEEN_WITHIN: Duration = Duration::from_secs(10);

/// How long a process that does not read is watched.
const WATCHED_FOR: Duration = Duration::from_millis(600);

/// The two sandboxes each case runs in: full access, and workspace-write
/// (whose directory must outlive the sandbox).
async fn sandboxes() -> Vec<(&'static str, Sandbox, Option<tempfile::TempDir>)> {
    let mut out = vec![("full access", launch().await, None)];
    let dir = tempfile::tempdir().unwrap();
    let policy: Policy = PolicyBuilder::new(Preset::WorkspaceWrite).cwd(dir.path()).build().unwrap();
    match Sandbox::launch(LaunchOptions::new(policy).runner(RUNNER)).await {
        Ok(sandbox) => out.push(("workspace-write", sandbox, Some(dir))),
        Err(err) => eprintln!("SKIPPED the workspace-write half: the sandbox does not launch here: {err}"),
    }
    out
}

fn python_available() -> bool {
    let found = std::process::Command::new("python3").arg("-c").arg("").status().is_ok_and(|s| s.success());
    if !found {
        eprintln!("SKIPPED: python3 is not on PATH; the poll/select/epoll cases need it");
    }
    found
}

async fn awaiting(process: &Process) -> bool {
    match process.status().await.unwrap() {
        ProcessState::Running(status) => status.awaiting_input,
        ProcessState::Exited(status) => panic!("exited while it should be waiting: {status:?}"),
    }
}

/// Polls until the runner says `process` awaits input.
async fn seen_waiting(what: &str, process: &Process) {
    let start = Instant::now();
    while !awaiting(process).await {
        assert!(start.elapsed() < SEEN_WITHIN, "{what}: never seen awaiting input");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls for a while and expects the runner never to say it awaits input.
async fn never_seen_waiting(what: &str, process: &Process) {
    let start = Instant::now();
    while start.elapsed() < WATCHED_FOR {
        assert!(!awaiting(process).await, "{what}: reported awaiting input");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Feeds `line` and expects `expect` in the output, then the exit.
async fn answer(what: &str, mut process: Process, line: &str, expect: &str) {
    process.write_stdin(line.as_bytes()).await.unwrap();
    let mut output = Vec::new();
    loop {
        match process.next_event().await.unwrap() {
            Some(Event::Output { data, .. }) => output.extend(data),
            Some(Event::Exited(status)) => {
                let text = String::from_utf8_lossy(&output);
                assert!(text.contains(expect), "{what}: {expect:?} not in {text:?}");
                assert!(status.success(), "{what}: {status:?}");
                return;
            }
            Some(_) => {}
            None => panic!("{what}: no exit"),
        }
    }
}

fn shell(script: &str) -> Command {
    Command::new("sh").args(["-c", script])
}

/// `command` on a terminal, or with a stdin pipe.
fn wired(command: Command, tty: bool) -> Command {
    if tty { command.tty(Size::default()) } else { command.stdin(true) }
}

#[tokio::test]
async fn the_runner_announces_that_it_detects_waiting_readers() {
    bounded("test", async {
        let sandbox = launch().await;
        assert!(
            sandbox.info().features.iter().any(|f| f == "awaiting-input"),
            "{:?}",
            sandbox.info().features
        );
    })
    .await
}

#[tokio::test]
async fn a_read_of_the_terminal_or_the_stdin_pipe_is_seen_and_answered() {
    bounded("test", async {
        for (name, sandbox, _dir) in sandboxes().await {
            let tty = sandbox.spawn(shell("read x; echo got-$x").tty(Size::default())).await.unwrap();
            seen_waiting(&format!("{name}: read on a pty"), &tty).await;
            answer(name, tty, "one\n", "got-one").await;

            let pipe = sandbox.spawn(shell("read x; echo got-$x").stdin(true)).await.unwrap();
            seen_waiting(&format!("{name}: read on a pipe"), &pipe).await;
            answer(name, pipe, "two\n", "got-two").await;

            // A password prompt: the terminal's echo is off, the read is the same.
            let prompt = Command::new("bash").args(["-c", "read -s -p 'Password: ' pw; echo len-${#pw}"]);
            let secret = sandbox.spawn(wired(prompt, true)).await.unwrap();
            seen_waiting(&format!("{name}: read -s"), &secret).await;
            answer(name, secret, "hunter2\n", "len-7").await;
        }
    })
    .await
}

#[tokio::test]
async fn poll_select_and_epoll_on_the_input_are_seen() {
    bounded("test", async {
        if !python_available() {
            return;
        }
        let waits = [
            ("select", "import select, sys\nselect.select([sys.stdin], [], [])\nprint('ready', sys.stdin.readline().strip())"),
            ("poll", "import select, sys\np = select.poll()\np.register(sys.stdin, select.POLLIN)\np.poll()\nprint('ready', sys.stdin.readline().strip())"),
            ("epoll", "import select, sys\ne = select.epoll()\ne.register(sys.stdin.fileno(), select.EPOLLIN)\ne.poll()\nprint('ready', sys.stdin.readline().strip())"),
        ];
        for (name, sandbox, _dir) in sandboxes().await {
            for (how, code) in waits {
                for tty in [false, true] {
                    let command = wired(Command::new("python3").args(["-c", code]), tty);
                    let process = sandbox.spawn(command).await.unwrap();
                    let what = format!("{name}: {how} on a {}", if tty { "pty" } else { "pipe" });
                    seen_waiting(&what, &process).await;
                    answer(&what, process, "go\n", "ready go").await;
                }
            }
            // An interactive interpreter at its prompt (readline on a terminal).
            let repl = sandbox.spawn(Command::new("python3").arg("-i").tty(Size::default())).await.unwrap();
            seen_waiting(&format!("{name}: python3 -i"), &repl).await;
            answer(name, repl, "print(40 + 2); exit()\n", "42").await;
        }
    })
    .await
}

#[tokio::test]
async fn sleeping_waiting_on_something_else_or_reading_in_the_background_is_not_awaiting_input() {
    bounded("test", async {
        for (name, sandbox, _dir) in sandboxes().await {
            let asleep = sandbox.spawn(shell("sleep 30").tty(Size::default())).await.unwrap();
            never_seen_waiting(&format!("{name}: sleep on a pty"), &asleep).await;
            let asleep = sandbox.spawn(shell("sleep 30").stdin(true)).await.unwrap();
            never_seen_waiting(&format!("{name}: sleep with a stdin pipe"), &asleep).await;
            // Blocked reading another pipe, with the session's input open.
            let other = sandbox.spawn(shell("sleep 30 | read x").stdin(true)).await.unwrap();
            never_seen_waiting(&format!("{name}: read of another pipe"), &other).await;
            // A job in the background of the terminal: its read stops it
            // (SIGTTIN) rather than serving it; the foreground sleeps.
            let job_control = Command::new("bash").args(["-ic", "read x & sleep 30"]);
            let background = sandbox.spawn(wired(job_control, true)).await.unwrap();
            never_seen_waiting(&format!("{name}: background read"), &background).await;
        }
    })
    .await
}

#[tokio::test]
async fn a_process_that_exited_is_not_awaiting_input() {
    bounded("test", async {
        let sandbox = launch().await;
        let mut process = sandbox.spawn(shell("read x; exit 0").stdin(true)).await.unwrap();
        seen_waiting("read", &process).await;
        process.close_stdin().await.unwrap();
        while let Some(event) = process.next_event().await.unwrap() {
            if let Event::Exited(status) = event {
                assert!(status.success());
                break;
            }
        }
        assert!(matches!(process.status().await.unwrap(), ProcessState::Exited(_)));
    })
    .await
}
