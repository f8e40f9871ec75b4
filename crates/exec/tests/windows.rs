//! The semantics of exec sessions on Windows, each a test, against the real
//! `cordon-runner`: `cmd.exe` sessions over pipes with a live stdin, end of
//! input, exit codes, interrupt, tree kill, and pseudoconsole sessions.
//! Run under Wine by `scripts/test-windows`; what Wine cannot do is ignored
//! with the reason, to be run on a real Windows with `--ignored`.
//!
//! The sandbox is full-access: under Wine a confining policy fails closed
//! (Wine drops a restricted token's SIDs, and the runner refuses to start
//! unconfined), and the session logic is the same under every policy.
//!
//! Commands use what both Wine and Windows ship: `cmd.exe`'s built-ins,
//! `more` (a `cat` that streams line by line), `ping -n N 127.0.0.1` (a
//! sleep of N - 1 seconds).

#![cfg(windows)]

use std::time::{Duration, Instant};

// The process helpers of the CLI's tests, which watch process trees too.
#[allow(dead_code)]
#[path = "../../cli/tests/support/processes.rs"]
mod processes;

use cordon::{LaunchOptions, Policy, Sandbox};
use cordon_exec::{
    ExecConfig, ExecError, ExecReply, ExecRequest, ExecSessions, ReturnedBecause, SessionState, Until,
    WriteRequest,
};
use processes::{alive, gone_within, named_descendants};

/// What a process ended by `kill_session` exits with (the runner's job
/// termination, as `taskkill /F` gives).
const KILLED_EXIT_CODE: i32 = 1;

struct Env {
    sessions: ExecSessions,
    workspace: tempfile::TempDir,
}

async fn sessions() -> Env {
    let runner = cordon::locate_runner(None).unwrap_or_else(|e| {
        panic!("{e}: build the workspace first (cargo build --target x86_64-pc-windows-gnu -p cordon-runner)")
    });
    let workspace = tempfile::tempdir().expect("workspace");
    let sandbox = tokio::time::timeout(
        Duration::from_secs(60),
        Sandbox::launch(LaunchOptions::new(Policy::full_access()).runner(runner)),
    )
    .await
    .expect("the launch took over a minute")
    .expect("launch");
    let config = ExecConfig { cwd: workspace.path().to_path_buf(), ..ExecConfig::default() };
    Env { sessions: ExecSessions::new(sandbox, config), workspace }
}

fn exec(cmd: &str) -> ExecRequest {
    ExecRequest { cmd: cmd.into(), ..Default::default() }
}

/// A request that returns soon, the command still running.
fn start(cmd: &str) -> ExecRequest {
    ExecRequest { yield_time_ms: Some(250), ..exec(cmd) }
}

fn write(id: u32, chars: &str) -> WriteRequest {
    WriteRequest { session_id: id, chars: chars.into(), ..Default::default() }
}

fn running(reply: &ExecReply) -> u32 {
    assert_eq!(reply.state, SessionState::Running, "{reply:?}");
    reply.session_id.expect("a running session has an id")
}

/// Output with Windows line ends as Unix ones.
fn lines(reply: &ExecReply) -> String {
    reply.output.replace("\r\n", "\n")
}

fn is_wine() -> bool {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
    // SAFETY: plain lookups of a loaded module's export.
    unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
    }
}

/// Waits until `pid` has a descendant named `name` (case-insensitive), and
/// returns it.
async fn descendant_named(pid: u32, name: &str) -> u32 {
    let start = Instant::now();
    loop {
        let found = named_descendants(pid);
        if let Some((child, _)) = found.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)) {
            return *child;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no {name} under {pid}: {found:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn cmd_is_the_default_shell_and_the_reply_comes_at_exit() {
    let env = sessions().await;
    let start = Instant::now();
    let reply = env
        .sessions
        .exec_command(ExecRequest { yield_time_ms: Some(10_000), ..exec("echo hi") })
        .await
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    assert_eq!(reply.output, "hi\r\n");
    assert_eq!(reply.exit_code, Some(0));
    assert_eq!(reply.state, SessionState::Exited);
    assert_eq!(reply.returned_because, ReturnedBecause::Exited);
    assert_eq!(reply.session_id, None);
}

#[tokio::test]
async fn exit_codes_are_reported_exactly() {
    let env = sessions().await;
    for code in [0, 3, 255, 9009] {
        let reply = env.sessions.exec_command(exec(&format!("exit /b {code}"))).await.unwrap();
        assert_eq!(reply.exit_code, Some(code), "{reply:?}");
        assert_eq!(reply.signal, None);
    }
}

#[tokio::test]
async fn quotes_in_cmd_reach_cmd_exe_as_written() {
    let env = sessions().await;
    let reply = env.sessions.exec_command(exec(r#"echo "a b"& if "x y"=="x y" echo same"#)).await.unwrap();
    assert_eq!(lines(&reply), "\"a b\"\nsame\n", "{reply:?}");
    assert_eq!(reply.exit_code, Some(0));
}

#[tokio::test]
async fn stdout_and_stderr_both_reach_the_reply_in_arrival_order() {
    let env = sessions().await;
    // A second between the two, for an order that is not a race; the
    // caller's own idle_ms keeps that second of quiet from returning as
    // idle, which it would by default here (no input detection).
    let request = ExecRequest {
        until: Some(Until { regex: None, idle_ms: Some(10_000) }),
        ..exec("echo out& ping -n 2 127.0.0.1 >nul& echo err>&2& exit /b 4")
    };
    let reply = env.sessions.exec_command(request).await.unwrap();
    assert_eq!(lines(&reply), "out\nerr\n");
    assert_eq!(reply.exit_code, Some(4));
}

#[tokio::test]
async fn a_pipe_session_forwards_stdin_as_it_is_written() {
    let env = sessions().await;
    let id = running(&env.sessions.exec_command(start("more")).await.unwrap());
    let until_line = |text: &str| Until { regex: Some(format!("{text}\r?\n")), idle_ms: None };
    for line in ["one", "two"] {
        let reply = env
            .sessions
            .write_stdin(WriteRequest {
                until: Some(until_line(line)),
                yield_time_ms: Some(5000),
                ..write(id, &format!("{line}\n"))
            })
            .await
            .unwrap();
        assert_eq!(reply.returned_because, ReturnedBecause::Matched, "{reply:?}");
        assert_eq!(lines(&reply), format!("{line}\n"));
        running(&reply);
    }
    let reply = env
        .sessions
        .write_stdin(WriteRequest { close_stdin: true, yield_time_ms: Some(5000), ..write(id, "three\n") })
        .await
        .unwrap();
    assert_eq!(lines(&reply), "three\n");
    assert_eq!(reply.state, SessionState::Exited, "end of input ends more: {reply:?}");
    assert_eq!(reply.exit_code, Some(0));
}

#[tokio::test]
async fn cmd_reads_a_line_typed_into_its_stdin() {
    let env = sessions().await;
    // `call` expands %x% again when the line runs, after `set /p` read it.
    let id = running(&env.sessions.exec_command(start("set /p x=& call echo got %x%")).await.unwrap());
    let reply = env
        .sessions
        .write_stdin(WriteRequest { yield_time_ms: Some(5000), ..write(id, "hello\r\n") })
        .await
        .unwrap();
    assert_eq!(lines(&reply), "got hello\n");
    assert_eq!(reply.exit_code, Some(0));
}

#[tokio::test]
async fn close_stdin_alone_is_end_of_input() {
    let env = sessions().await;
    let id = running(&env.sessions.exec_command(start("more& echo after-eof")).await.unwrap());
    let reply = env
        .sessions
        .write_stdin(WriteRequest { close_stdin: true, yield_time_ms: Some(5000), ..write(id, "") })
        .await
        .unwrap();
    assert_eq!(lines(&reply), "after-eof\n");
    assert_eq!(reply.exit_code, Some(0));
}

#[tokio::test]
async fn input_after_close_stdin_is_refused_with_a_reason() {
    let env = sessions().await;
    let id = running(&env.sessions.exec_command(start("more& ping -n 30 127.0.0.1 >nul")).await.unwrap());
    env.sessions.write_stdin(WriteRequest { close_stdin: true, ..write(id, "") }).await.unwrap();
    let err = env.sessions.write_stdin(write(id, "more\n")).await.unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
}

#[tokio::test]
async fn output_then_a_second_of_quiet_returns_as_idle_by_default() {
    let env = sessions().await;
    let start = Instant::now();
    let reply =
        env.sessions.exec_command(exec("echo first& ping -n 6 127.0.0.1 >nul& echo never")).await.unwrap();
    let took = start.elapsed();
    assert_eq!(reply.returned_because, ReturnedBecause::Idle, "{reply:?}");
    assert_eq!(lines(&reply), "first\n");
    // One second of quiet, not the yield of ten.
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(4), "took {took:?}");
    env.sessions.kill_session(running(&reply)).await.unwrap();
}

#[tokio::test]
async fn a_quiet_session_reports_idle_not_awaiting_input() {
    let env = sessions().await;
    let id = running(&env.sessions.exec_command(start("more")).await.unwrap());
    let start = Instant::now();
    let reply = env
        .sessions
        .write_stdin(WriteRequest {
            until: Some(Until { regex: None, idle_ms: Some(300) }),
            yield_time_ms: Some(10_000),
            ..write(id, "line\n")
        })
        .await
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    assert_eq!(reply.returned_because, ReturnedBecause::Idle, "{reply:?}");
    assert_eq!(reply.state, SessionState::Running);
    assert_eq!(lines(&reply), "line\n");
    // Blocked reading its input, but Windows has no view of that: it runs.
    let poll =
        env.sessions.write_stdin(WriteRequest { yield_time_ms: Some(500), ..write(id, "") }).await.unwrap();
    assert_eq!(poll.state, SessionState::Running, "{poll:?}");
    assert_ne!(poll.returned_because, ReturnedBecause::AwaitingInput);
    assert_eq!(env.sessions.list_sessions()[0].state, SessionState::Running);
}

#[tokio::test]
async fn kill_session_kills_the_whole_tree_and_reports_the_exit() {
    let env = sessions().await;
    let id = running(&env.sessions.exec_command(start("cmd /c ping -n 100 127.0.0.1")).await.unwrap());
    let shell = env.sessions.list_sessions()[0].pid;
    let ping = descendant_named(shell, "ping.exe").await;
    let inner =
        named_descendants(shell).iter().find(|(_, n)| n.eq_ignore_ascii_case("cmd.exe")).map(|(p, _)| *p);
    let reply = env.sessions.kill_session(id).await.unwrap();
    assert_eq!(reply.state, SessionState::Exited, "{reply:?}");
    assert_eq!(reply.exit_code, Some(KILLED_EXIT_CODE), "{reply:?}");
    for pid in [Some(shell), inner, Some(ping)].into_iter().flatten() {
        assert!(gone_within(pid, Duration::from_secs(5)).await, "process {pid} of the killed tree is alive");
    }
    assert!(env.sessions.list_sessions().is_empty());
    assert!(matches!(env.sessions.write_stdin(write(id, "")).await, Err(ExecError::UnknownSession { .. })));
}

#[tokio::test]
#[ignore = "needs a real Windows: under Wine 8 GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, group) succeeds \
            but no process's control handler runs, so nothing ends"]
async fn interrupt_ends_a_pipe_session_through_ctrl_break() {
    let env = sessions().await;
    let id = running(&env.sessions.exec_command(start("more")).await.unwrap());
    let start = Instant::now();
    let reply = env
        .sessions
        .write_stdin(WriteRequest { yield_time_ms: Some(5000), ..write(id, "\u{3}") })
        .await
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    assert_eq!(reply.state, SessionState::Exited, "{reply:?}");
    // `more` has no handler: the default one exits with
    // STATUS_CONTROL_C_EXIT, which cmd.exe passes on or replaces with its
    // own failure; either way not success.
    assert!(matches!(reply.exit_code, Some(code) if code != 0), "{reply:?}");
}

#[tokio::test]
async fn list_sessions_describes_a_pipe_session() {
    let env = sessions().await;
    let id = running(&env.sessions.exec_command(start("echo hi& more")).await.unwrap());
    let list = env.sessions.list_sessions();
    assert_eq!(list.len(), 1);
    let info = &list[0];
    assert_eq!((info.session_id, info.command.as_str(), info.tty), (id, "echo hi& more", false));
    assert_eq!(info.state, SessionState::Running);
    assert!(alive(info.pid), "{info:?}");
    assert_eq!(info.output_bytes, 4);
}

#[tokio::test]
async fn commands_get_the_non_interactive_environment_and_the_workdir() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(exec("echo %NO_COLOR% %TERM% %PAGER% %GIT_TERMINAL_PROMPT% %GCM_INTERACTIVE%"))
        .await
        .unwrap();
    assert_eq!(lines(&reply), "1 dumb cat 0 never\n");
    std::fs::create_dir(env.workspace.path().join("sub")).unwrap();
    let reply =
        env.sessions.exec_command(ExecRequest { workdir: Some("sub".into()), ..exec("cd") }).await.unwrap();
    assert!(lines(&reply).trim_end().to_ascii_lowercase().ends_with("\\sub"), "{reply:?}");
}

#[tokio::test]
async fn dropping_the_sessions_kills_every_tree_and_the_runner() {
    let env = sessions().await;
    for cmd in ["ping -n 100 127.0.0.1", "more"] {
        env.sessions.exec_command(start(cmd)).await.unwrap();
    }
    let list = env.sessions.list_sessions();
    assert_eq!(list.len(), 2);
    let pinging = list.iter().find(|s| s.command.starts_with("ping")).expect("the ping session").pid;
    let mut pids: Vec<u32> = list.iter().map(|s| s.pid).collect();
    pids.push(descendant_named(pinging, "ping.exe").await);
    pids.push(env.sessions.sandbox().runner_pid().expect("runner pid"));
    drop(env);
    for pid in pids {
        assert!(gone_within(pid, Duration::from_secs(5)).await, "process {pid} outlived its sessions");
    }
}

#[tokio::test]
#[ignore = "needs a real Windows: PowerShell (Wine 8's powershell.exe is a stub that runs nothing and \
            exits 0)"]
async fn powershell_runs_when_the_request_names_it() {
    let env = sessions().await;
    for shell in ["powershell", "powershell.exe"] {
        let reply = env
            .sessions
            .exec_command(ExecRequest {
                shell: Some(shell.into()),
                ..exec("Write-Output ('p' + 's'); exit 5")
            })
            .await
            .unwrap();
        assert_eq!(lines(&reply), "ps\n", "{shell}: {reply:?}");
        assert_eq!(reply.exit_code, Some(5), "{shell}");
    }
}

#[tokio::test]
async fn a_shell_that_is_missing_is_a_spawn_error() {
    let env = sessions().await;
    if !is_wine() {
        eprintln!("SKIPPED a_shell_that_is_missing_is_a_spawn_error: a real Windows may have any shell");
        return;
    }
    let err = env
        .sessions
        .exec_command(ExecRequest { shell: Some("pwsh".into()), ..exec("Write-Output hi") })
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::Spawn(_)), "{err:?}");
    assert!(env.sessions.list_sessions().is_empty());
}

/// Pseudoconsole sessions. Wine starts them, kills their trees and reports
/// their exit, but gives their processes the runner's own standard handles
/// rather than the pseudoconsole (the runner's ConPTY code itself is tested
/// under Wine in cordon-runner's tests, on the test's own terminal).
mod tty {
    use super::*;

    fn tty(cmd: &str) -> ExecRequest {
        ExecRequest { tty: Some(true), ..exec(cmd) }
    }

    #[tokio::test]
    async fn a_tty_session_starts_is_listed_and_reports_its_exit_code() {
        let env = sessions().await;
        let reply = env.sessions.exec_command(tty("exit /b 6")).await.unwrap();
        assert_eq!(reply.state, SessionState::Exited, "{reply:?}");
        assert_eq!(reply.exit_code, Some(6));
        let id = running(
            &env.sessions
                .exec_command(ExecRequest { yield_time_ms: Some(250), ..tty("ping -n 30 127.0.0.1") })
                .await
                .unwrap(),
        );
        let list = env.sessions.list_sessions();
        assert_eq!((list[0].session_id, list[0].tty), (id, true));
        assert!(alive(list[0].pid));
    }

    #[tokio::test]
    async fn kill_session_ends_a_tty_session_and_its_tree() {
        let env = sessions().await;
        let id = running(
            &env.sessions
                .exec_command(ExecRequest { yield_time_ms: Some(250), ..tty("ping -n 100 127.0.0.1") })
                .await
                .unwrap(),
        );
        let shell = env.sessions.list_sessions()[0].pid;
        let ping = descendant_named(shell, "ping.exe").await;
        let reply = env.sessions.kill_session(id).await.unwrap();
        assert_eq!(reply.exit_code, Some(KILLED_EXIT_CODE), "{reply:?}");
        for pid in [shell, ping] {
            assert!(
                gone_within(pid, Duration::from_secs(5)).await,
                "process {pid} of the killed tree is alive"
            );
        }
    }

    #[tokio::test]
    #[ignore = "needs a real Windows: Wine hands a pseudoconsole's child the runner's own standard handles, \
                so it neither writes to the pseudoconsole nor reads what is typed into it"]
    async fn tty_output_is_rendered_without_vt_sequences() {
        let env = sessions().await;
        let reply = env.sessions.exec_command(tty("echo hello-from-conpty")).await.unwrap();
        assert!(reply.output.contains("hello-from-conpty"), "{reply:?}");
        assert!(!reply.output.contains('\x1b'), "{reply:?}");
        assert_eq!(reply.exit_code, Some(0));
    }

    #[tokio::test]
    #[ignore = "needs a real Windows: Wine hands a pseudoconsole's child the runner's own standard handles, \
                so it neither writes to the pseudoconsole nor reads what is typed into it"]
    async fn typed_input_reaches_a_tty_session_with_newline_as_enter() {
        let env = sessions().await;
        let id = running(
            &env.sessions
                .exec_command(ExecRequest {
                    yield_time_ms: Some(250),
                    ..tty("set /p x=name? & call echo got %x%")
                })
                .await
                .unwrap(),
        );
        let reply = env
            .sessions
            .write_stdin(WriteRequest { yield_time_ms: Some(5000), ..write(id, "cordon\n") })
            .await
            .unwrap();
        assert!(reply.output.contains("got cordon"), "{reply:?}");
        assert_eq!(reply.exit_code, Some(0));
    }

    #[tokio::test]
    #[ignore = "needs a real Windows: Wine hands a pseudoconsole's child the runner's own standard handles, \
                so it neither writes to the pseudoconsole nor reads what is typed into it"]
    async fn interrupt_ends_a_tty_session_through_ctrl_c() {
        let env = sessions().await;
        let id = running(
            &env.sessions
                .exec_command(ExecRequest {
                    until: Some(Until { regex: Some("Pinging".into()), idle_ms: None }),
                    ..tty("ping -n 100 127.0.0.1")
                })
                .await
                .unwrap(),
        );
        let reply = env
            .sessions
            .write_stdin(WriteRequest { yield_time_ms: Some(5000), ..write(id, "\u{3}") })
            .await
            .unwrap();
        assert_eq!(reply.state, SessionState::Exited, "Ctrl-C ends ping: {reply:?}");
    }

    #[tokio::test]
    #[ignore = "needs a real Windows: ResizePseudoConsole is not implemented in Wine 8 (E_NOTIMPL), and \
                Wine's pseudoconsole carries neither input nor output of a launched runner's child"]
    async fn resize_changes_the_console_size() {
        let env = sessions().await;
        let id = running(
            &env.sessions
                .exec_command(ExecRequest { yield_time_ms: Some(250), ..tty("set /p x=& mode con") })
                .await
                .unwrap(),
        );
        env.sessions.resize(id, 30, 100).await.unwrap();
        let reply = env
            .sessions
            .write_stdin(WriteRequest { yield_time_ms: Some(5000), ..write(id, "\n") })
            .await
            .unwrap();
        let text = lines(&reply);
        assert!(text.contains("30") && text.contains("100"), "{reply:?}");
    }
}
