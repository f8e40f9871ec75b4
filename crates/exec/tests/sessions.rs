//! The semantics of exec sessions, each a test, against the real
//! `cordon-runner` in a workspace-write sandbox around a temporary
//! workspace.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// The process helpers of the CLI's tests, which watch process trees too.
#[allow(dead_code)]
#[path = "../../cli/tests/support/processes.rs"]
mod processes;

use cordon::{LaunchOptions, PolicyBuilder, Preset, Sandbox};
use cordon_exec::{
    ExecConfig, ExecError, ExecReply, ExecRequest, ExecSessions, ReturnedBecause, SessionState, Until,
    WriteRequest,
};
use processes::{alive, gone_within};

fn runner() -> PathBuf {
    let path = cordon::locate_runner(None).expect("cordon-runner");
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (cargo build -p cordon-runner)",
        path.display()
    );
    path
}

struct Env {
    sessions: ExecSessions,
    workspace: tempfile::TempDir,
}

async fn sessions_with(config: impl FnOnce(&mut ExecConfig)) -> Env {
    let workspace = tempfile::tempdir().expect("workspace");
    let policy = PolicyBuilder::new(Preset::WorkspaceWrite)
        .cwd(workspace.path())
        .best_effort(true)
        .build()
        .expect("policy");
    let sandbox = Sandbox::launch(LaunchOptions::new(policy).runner(runner())).await.expect("launch");
    let mut cfg = ExecConfig { cwd: workspace.path().to_path_buf(), ..ExecConfig::default() };
    config(&mut cfg);
    Env { sessions: ExecSessions::new(sandbox, cfg), workspace }
}

async fn sessions() -> Env {
    sessions_with(|_| {}).await
}

/// A request for `cmd`, not as a login shell: the profiles of the machine
/// running the tests may print (and would then be in every output).
fn exec(cmd: &str) -> ExecRequest {
    ExecRequest { cmd: cmd.into(), login: Some(false), ..Default::default() }
}

fn write(id: u32, chars: &str) -> WriteRequest {
    WriteRequest { session_id: id, chars: chars.into(), ..Default::default() }
}

/// The id of a session still running (waiting for input or not).
fn running(reply: &ExecReply) -> u32 {
    assert!(matches!(reply.state, SessionState::Running | SessionState::AwaitingInput), "{reply:?}");
    reply.session_id.expect("a running session has an id")
}

#[tokio::test]
async fn exec_returns_at_exit_not_at_the_yield() {
    let env = sessions().await;
    let start = Instant::now();
    let reply =
        env.sessions.exec_command(ExecRequest { yield_time_ms: Some(10_000), ..exec("true") }).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
    assert_eq!(reply.exit_code, Some(0));
    assert_eq!(reply.state, SessionState::Exited);
    assert_eq!(reply.returned_because, ReturnedBecause::Exited);
    assert_eq!(reply.session_id, None);
    assert_eq!(reply.chunk_id.len(), 6);
    assert!(reply.chunk_id.chars().all(|c| c.is_ascii_hexdigit()));
}

#[tokio::test]
async fn a_fast_exit_loses_no_output() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest { max_output_tokens: Some(100_000), ..exec("seq 1 20000; exit 3") })
        .await
        .unwrap();
    let expected: String = (1..=20000).map(|n| format!("{n}\n")).collect::<String>();
    assert!(
        reply.output == expected,
        "{} bytes of {}, ends {:?}",
        reply.output.len(),
        expected.len(),
        &reply.output[reply.output.len().saturating_sub(40)..]
    );
    assert_eq!(reply.exit_code, Some(3));
    assert!(!reply.truncated);
}

#[tokio::test]
async fn stdout_and_stderr_keep_their_arrival_order() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(exec("echo out1; sleep 0.2; echo err >&2; sleep 0.2; echo out2"))
        .await
        .unwrap();
    assert_eq!(reply.output, "out1\nerr\nout2\n");
}

#[tokio::test]
async fn a_running_command_returns_at_the_deadline_and_a_poll_gets_only_new_output() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest {
            yield_time_ms: Some(300),
            ..exec("echo first; sleep 0.6; echo second; sleep 30")
        })
        .await
        .unwrap();
    assert_eq!(reply.returned_because, ReturnedBecause::Deadline);
    assert_eq!(reply.output, "first\n");
    let id = running(&reply);
    let poll = env
        .sessions
        .write_stdin(WriteRequest {
            until: Some(Until { regex: Some("second".into()), idle_ms: None }),
            ..write(id, "")
        })
        .await
        .unwrap();
    assert_eq!(poll.returned_because, ReturnedBecause::Matched);
    assert_eq!(poll.output, "second\n");
    let empty =
        env.sessions.write_stdin(WriteRequest { yield_time_ms: Some(250), ..write(id, "") }).await.unwrap();
    assert_eq!(empty.output, "");
    assert_eq!(empty.returned_because, ReturnedBecause::Deadline);
}

#[tokio::test]
async fn until_regex_returns_on_the_match() {
    let env = sessions().await;
    let start = Instant::now();
    let reply = env
        .sessions
        .exec_command(ExecRequest {
            until: Some(Until { regex: Some(r"listening on \d+".into()), idle_ms: None }),
            ..exec("echo starting; sleep 0.3; echo listening on 8080; sleep 30")
        })
        .await
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
    assert_eq!(reply.returned_because, ReturnedBecause::Matched);
    assert_eq!(reply.output, "starting\nlistening on 8080\n");
    running(&reply);
}

#[tokio::test]
async fn until_idle_returns_once_output_went_quiet() {
    let env = sessions().await;
    let start = Instant::now();
    let reply = env
        .sessions
        .exec_command(ExecRequest {
            until: Some(Until { regex: None, idle_ms: Some(300) }),
            ..exec("sleep 0.2; echo one; echo two; sleep 30")
        })
        .await
        .unwrap();
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(450) && took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(reply.returned_because, ReturnedBecause::Idle);
    assert_eq!(reply.output, "one\ntwo\n");
}

#[tokio::test]
async fn a_bad_regex_is_a_clear_error() {
    let env = sessions().await;
    let err = env
        .sessions
        .exec_command(ExecRequest {
            until: Some(Until { regex: Some("(".into()), idle_ms: None }),
            ..exec("true")
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::InvalidRequest(_)));
    assert!(err.to_string().contains("until.regex"), "{err}");
}

#[tokio::test]
async fn interrupt_ends_a_pipe_session_with_its_real_status() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest { yield_time_ms: Some(250), ..exec("sleep 100") })
        .await
        .unwrap();
    let id = running(&reply);
    let start = Instant::now();
    let reply = env
        .sessions
        .write_stdin(WriteRequest { yield_time_ms: Some(5000), ..write(id, "\u{3}") })
        .await
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(reply.state, SessionState::Exited);
    assert_eq!(reply.signal, Some(2), "{reply:?}");
    assert_eq!(reply.exit_code, Some(130));
}

#[tokio::test]
async fn interrupt_ends_a_tty_session_through_the_line_discipline() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest { tty: Some(true), yield_time_ms: Some(300), ..exec("sleep 100") })
        .await
        .unwrap();
    let id = running(&reply);
    let reply = env
        .sessions
        .write_stdin(WriteRequest { yield_time_ms: Some(5000), ..write(id, "\u{3}") })
        .await
        .unwrap();
    assert_eq!(reply.state, SessionState::Exited, "{reply:?}");
    assert_eq!(reply.exit_code, Some(130), "{reply:?}");
}

#[tokio::test]
async fn pipe_sessions_have_a_live_stdin_and_close_it_on_request() {
    let env = sessions().await;
    let reply =
        env.sessions.exec_command(ExecRequest { yield_time_ms: Some(250), ..exec("cat") }).await.unwrap();
    let id = running(&reply);
    let echoed = env.sessions.write_stdin(write(id, "hello\n")).await.unwrap();
    assert_eq!(echoed.output, "hello\n");
    running(&echoed);

    let sort =
        env.sessions.exec_command(ExecRequest { yield_time_ms: Some(250), ..exec("sort") }).await.unwrap();
    let id = running(&sort);
    let reply = env
        .sessions
        .write_stdin(WriteRequest {
            close_stdin: true,
            yield_time_ms: Some(5000),
            ..write(id, "pear\napple\n")
        })
        .await
        .unwrap();
    assert_eq!(reply.output, "apple\npear\n");
    assert_eq!(reply.exit_code, Some(0));
}

#[tokio::test]
async fn input_after_close_stdin_is_refused_with_a_reason() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest { yield_time_ms: Some(250), ..exec("cat; sleep 30") })
        .await
        .unwrap();
    let id = running(&reply);
    env.sessions.write_stdin(WriteRequest { close_stdin: true, ..write(id, "") }).await.unwrap();
    let err = env.sessions.write_stdin(write(id, "more\n")).await.unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
}

#[tokio::test]
async fn tty_output_is_rendered_progress_bars_collapsed_and_ansi_removed() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest {
            tty: Some(true),
            ..exec(r"printf '\033[1;32mbuild\033[0m\n 10%%\r 55%%\r100%%\n\033]0;title\007done\033[K\n'")
        })
        .await
        .unwrap();
    assert_eq!(reply.output, "build\n100%\ndone\n");
    assert_eq!(reply.exit_code, Some(0));
}

#[tokio::test]
async fn screen_returns_the_terminal_as_drawn() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest {
            tty: Some(true),
            until: Some(Until { regex: Some("hello".into()), idle_ms: None }),
            ..exec(r"printf '\033[2J\033[3;5Hhello\033[1;1Htop'; sleep 30")
        })
        .await
        .unwrap();
    let id = running(&reply);
    let screen = env
        .sessions
        .write_stdin(WriteRequest { screen: true, yield_time_ms: Some(250), ..write(id, "") })
        .await
        .unwrap();
    let rows: Vec<&str> = screen.output.split('\n').collect();
    assert_eq!(rows.len(), 24, "{:?}", screen.output);
    assert_eq!(rows[0], "top");
    assert_eq!(rows[2], "    hello");
    let pipe = env
        .sessions
        .exec_command(ExecRequest { yield_time_ms: Some(250), ..exec("sleep 30") })
        .await
        .unwrap();
    let err = env
        .sessions
        .write_stdin(WriteRequest { screen: true, ..write(running(&pipe), "") })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no screen"), "{err}");
}

#[tokio::test]
async fn resize_changes_the_terminal_size() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest { tty: Some(true), yield_time_ms: Some(250), ..exec("read x; stty size") })
        .await
        .unwrap();
    let id = running(&reply);
    env.sessions.resize(id, 30, 100).await.unwrap();
    let reply = env
        .sessions
        .write_stdin(WriteRequest { yield_time_ms: Some(5000), ..write(id, "\n") })
        .await
        .unwrap();
    assert!(reply.output.contains("30 100"), "{reply:?}");
    let pipe = env
        .sessions
        .exec_command(ExecRequest { yield_time_ms: Some(250), ..exec("sleep 30") })
        .await
        .unwrap();
    assert!(env.sessions.resize(running(&pipe), 30, 100).await.is_err());
}

#[tokio::test]
async fn python_on_a_tty_answers_what_it_is_typed() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest {
            tty: Some(true),
            until: Some(Until { regex: Some(">>> $".into()), idle_ms: None }),
            ..exec("python3 -i -q")
        })
        .await
        .unwrap();
    let id = running(&reply);
    let reply = env
        .sessions
        .write_stdin(WriteRequest {
            until: Some(Until { regex: Some(r"(?m)^2$".into()), idle_ms: None }),
            yield_time_ms: Some(5000),
            ..write(id, "1+1\n")
        })
        .await
        .unwrap();
    assert_eq!(reply.returned_because, ReturnedBecause::Matched, "{reply:?}");
    assert!(reply.output.contains(">>> 1+1\n2\n"), "{reply:?}");
}

#[tokio::test]
async fn the_head_and_tail_of_a_flood_are_kept() {
    let env = sessions_with(|c| c.buffer_bytes = 1000).await;
    let reply = env.sessions.exec_command(exec("seq 1 10000")).await.unwrap();
    assert!(reply.output.starts_with("1\n2\n3\n"), "{}", &reply.output[..40]);
    assert!(reply.output.ends_with("9999\n10000\n"));
    assert!(reply.output.contains("tokens truncated…"));
    assert!(reply.truncated);
    // Every byte is counted, dropped or not.
    let total: usize = (1..=10000).map(|n: u32| n.to_string().len() + 1).sum();
    assert!(reply.original_token_count >= total / 4, "{} < {}", reply.original_token_count, total / 4);
}

#[tokio::test]
async fn output_over_the_token_budget_is_cut_in_the_middle() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest {
            max_output_tokens: Some(10),
            ..exec("printf 'head%.0s' $(seq 100); printf tail")
        })
        .await
        .unwrap();
    assert!(reply.truncated);
    assert_eq!(reply.original_token_count, 101);
    assert!(reply.output.starts_with("headhead"), "{}", reply.output);
    assert!(reply.output.ends_with("tail"), "{}", reply.output);
    assert!(reply.output.contains("…91 tokens truncated…"), "{}", reply.output);
}

#[tokio::test]
async fn an_unknown_id_says_which_exist() {
    let env = sessions().await;
    let err = env.sessions.write_stdin(write(4242, "")).await.unwrap_err();
    assert!(err.to_string().contains("no live sessions"), "{err}");
    let reply = env
        .sessions
        .exec_command(ExecRequest { yield_time_ms: Some(250), ..exec("sleep 30") })
        .await
        .unwrap();
    let id = running(&reply);
    let err = env.sessions.kill_session(4242).await.unwrap_err();
    match &err {
        ExecError::UnknownSession { id: 4242, live } => assert_eq!(live, &[id]),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains(&id.to_string()), "{err}");
}

#[tokio::test]
async fn an_exited_session_is_gone_once_its_exit_was_reported() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest { yield_time_ms: Some(250), ..exec("sleep 0.5") })
        .await
        .unwrap();
    let id = running(&reply);
    let reply =
        env.sessions.write_stdin(WriteRequest { yield_time_ms: Some(5000), ..write(id, "") }).await.unwrap();
    assert_eq!(reply.exit_code, Some(0));
    assert!(matches!(env.sessions.write_stdin(write(id, "")).await, Err(ExecError::UnknownSession { .. })));
}

#[tokio::test]
async fn kill_session_kills_the_tree_and_returns_the_final_reply() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest {
            until: Some(Until { regex: Some("ready".into()), idle_ms: None }),
            ..exec("sh -c 'sleep 100 & echo $! > child; wait' & echo ready; wait")
        })
        .await
        .unwrap();
    let id = running(&reply);
    let child_file = env.workspace.path().join("child");
    let start = Instant::now();
    while !child_file.exists() && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = env.sessions.list_sessions()[0].pid;
    let reply = env.sessions.kill_session(id).await.unwrap();
    assert_eq!(reply.state, SessionState::Exited);
    assert!(reply.exit_code.is_some());
    assert!(gone_within(pid, Duration::from_secs(5)).await, "the session's process {pid} is alive");
    assert!(env.sessions.list_sessions().is_empty());
}

#[tokio::test]
async fn list_sessions_describes_each_session() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(ExecRequest { tty: Some(true), yield_time_ms: Some(300), ..exec("echo hi; sleep 30") })
        .await
        .unwrap();
    let id = running(&reply);
    let list = env.sessions.list_sessions();
    assert_eq!(list.len(), 1);
    let info = &list[0];
    assert_eq!((info.session_id, info.command.as_str(), info.tty), (id, "echo hi; sleep 30", true));
    assert_eq!(info.state, SessionState::Running);
    assert!(alive(info.pid));
    assert!(info.output_bytes >= 3);
    assert!(info.started_unix_ms <= info.last_used_unix_ms);
}

#[tokio::test]
async fn pruning_takes_exited_sessions_first_then_the_least_recently_used() {
    let env = sessions_with(|c| {
        c.max_sessions = 4;
        c.keep_recent = 2;
    })
    .await;
    let start = |cmd: &'static str| {
        let sessions = &env.sessions;
        async move {
            running(
                &sessions.exec_command(ExecRequest { yield_time_ms: Some(250), ..exec(cmd) }).await.unwrap(),
            )
        }
    };
    let oldest = start("sleep 30").await;
    let _exits = start("sleep 0.4").await;
    let third = start("sleep 30").await;
    let fourth = start("sleep 30").await;
    // `exits` ends, unreported, while two are more recent than it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let pid_of = |id: u32| env.sessions.list_sessions().iter().find(|s| s.session_id == id).map(|s| s.pid);
    let oldest_pid = pid_of(oldest).unwrap();

    let fifth = start("sleep 30").await;
    let mut ids: Vec<u32> = env.sessions.list_sessions().iter().map(|s| s.session_id).collect();
    ids.sort();
    let mut expected = vec![oldest, third, fourth, fifth];
    expected.sort();
    assert_eq!(ids, expected, "the exited session goes first, though `oldest` is older");

    // Now none has exited: the least recently used goes, and its tree dies.
    env.sessions.write_stdin(WriteRequest { yield_time_ms: Some(250), ..write(oldest, "") }).await.unwrap();
    let sixth = start("sleep 30").await;
    let mut ids: Vec<u32> = env.sessions.list_sessions().iter().map(|s| s.session_id).collect();
    ids.sort();
    let mut expected = vec![oldest, fourth, fifth, sixth];
    expected.sort();
    assert_eq!(ids, expected, "`third` was the least recently used");
    assert!(alive(oldest_pid));
    let err = env.sessions.write_stdin(write(third, "")).await.unwrap_err();
    assert!(matches!(err, ExecError::UnknownSession { .. }));
}

#[tokio::test]
async fn pruned_sessions_are_killed() {
    let env = sessions_with(|c| {
        c.max_sessions = 2;
        c.keep_recent = 1;
    })
    .await;
    let first = env
        .sessions
        .exec_command(ExecRequest { yield_time_ms: Some(250), ..exec("sleep 30") })
        .await
        .unwrap();
    let first_pid = env.sessions.list_sessions()[0].pid;
    running(&first);
    for _ in 0..2 {
        env.sessions
            .exec_command(ExecRequest { yield_time_ms: Some(250), ..exec("sleep 30") })
            .await
            .unwrap();
    }
    assert!(gone_within(first_pid, Duration::from_secs(5)).await, "the pruned session's process is alive");
}

#[tokio::test]
async fn ids_are_random_in_range_and_never_reused() {
    let env = sessions().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..40 {
        let reply = env
            .sessions
            .exec_command(ExecRequest { yield_time_ms: Some(250), ..exec("sleep 5") })
            .await
            .unwrap();
        let id = running(&reply);
        assert!((1000..=99_999).contains(&id), "{id}");
        assert!(seen.insert(id), "id {id} was given twice");
        env.sessions.kill_session(id).await.unwrap();
    }
    let sorted: Vec<u32> = {
        let mut v: Vec<u32> = seen.iter().copied().collect();
        v.sort();
        v
    };
    assert!(sorted.windows(2).any(|w| w[1] - w[0] > 1), "ids look sequential: {sorted:?}");
}

#[tokio::test]
async fn commands_get_a_non_interactive_environment() {
    let env = sessions().await;
    let reply = env
        .sessions
        .exec_command(exec(
            "echo $NO_COLOR $TERM $PAGER $GIT_PAGER $MANPAGER $GIT_EDITOR $EDITOR $GIT_TERMINAL_PROMPT \
             $GCM_INTERACTIVE $DEBIAN_FRONTEND $LANG $LC_ALL",
        ))
        .await
        .unwrap();
    assert_eq!(reply.output, "1 dumb cat cat cat true true 0 never noninteractive C.UTF-8 C.UTF-8\n");
    let tty = env.sessions.exec_command(ExecRequest { tty: Some(true), ..exec("echo $TERM") }).await.unwrap();
    assert_eq!(tty.output, "xterm-256color\n");
}

#[tokio::test]
async fn configured_variables_override_the_defaults() {
    let env = sessions_with(|c| {
        c.env.insert("PAGER".into(), "less".into());
    })
    .await;
    let reply = env.sessions.exec_command(exec("echo $PAGER")).await.unwrap();
    assert_eq!(reply.output, "less\n");
}

#[tokio::test]
async fn a_write_outside_the_workspace_is_the_commands_own_failure() {
    let env = sessions().await;
    let outside =
        tempfile::tempdir_in(std::env::var("HOME").map(PathBuf::from).unwrap_or_else(|_| "/var/tmp".into()))
            .expect("outside dir");
    let target = outside.path().join("escaped");
    let reply = env.sessions.exec_command(exec(&format!("echo x > {}", target.display()))).await.unwrap();
    assert_ne!(reply.exit_code, Some(0), "{reply:?}");
    assert!(
        reply.output.contains("Permission denied") || reply.output.contains("Read-only file system"),
        "{reply:?}"
    );
    assert!(!target.exists());
}

#[tokio::test]
async fn workdir_must_exist_and_be_readable() {
    let env = sessions().await;
    std::fs::create_dir(env.workspace.path().join("sub")).unwrap();
    let reply =
        env.sessions.exec_command(ExecRequest { workdir: Some("sub".into()), ..exec("pwd") }).await.unwrap();
    assert!(reply.output.trim_end().ends_with("/sub"), "{reply:?}");
    let err = env
        .sessions
        .exec_command(ExecRequest { workdir: Some(Path::new("missing").into()), ..exec("pwd") })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    let err = env.sessions.exec_command(exec("  ")).await.unwrap_err();
    assert!(err.to_string().contains("cmd is empty"), "{err}");
}

#[tokio::test]
async fn dropping_the_sessions_kills_every_tree() {
    let env = sessions().await;
    let mut pids = Vec::new();
    for tty in [false, true] {
        env.sessions
            .exec_command(ExecRequest { tty: Some(tty), yield_time_ms: Some(250), ..exec("sleep 100") })
            .await
            .unwrap();
    }
    pids.extend(env.sessions.list_sessions().iter().map(|s| s.pid));
    let runner = env.sessions.sandbox().runner_pid().expect("runner pid");
    assert_eq!(pids.len(), 2);
    drop(env);
    for pid in pids {
        assert!(
            gone_within(pid, Duration::from_secs(5)).await,
            "session process {pid} outlived its sessions"
        );
    }
    assert!(gone_within(runner, Duration::from_secs(5)).await, "the runner outlived its sessions");
}

#[tokio::test]
async fn shutdown_waits_for_every_tree() {
    let env = sessions().await;
    env.sessions.exec_command(ExecRequest { yield_time_ms: Some(250), ..exec("sleep 100") }).await.unwrap();
    let pid = env.sessions.list_sessions()[0].pid;
    env.sessions.shutdown().await;
    assert!(gone_within(pid, Duration::from_millis(500)).await);
    assert!(env.sessions.list_sessions().is_empty());
}

/// `cmd` on a tty (or pipes), its first reply with the default yield of 10 s.
async fn start(env: &Env, cmd: &str, tty: bool) -> (ExecReply, Duration) {
    let begun = Instant::now();
    let reply = env.sessions.exec_command(ExecRequest { tty: Some(tty), ..exec(cmd) }).await.unwrap();
    (reply, begun.elapsed())
}

#[track_caller]
fn awaiting(reply: &ExecReply, took: Duration) -> u32 {
    assert_eq!(reply.returned_because, ReturnedBecause::AwaitingInput, "{reply:?}");
    assert_eq!(reply.state, SessionState::AwaitingInput, "{reply:?}");
    assert!(took < Duration::from_secs(5), "awaiting input seen only after {took:?}: {reply:?}");
    reply.session_id.expect("a session awaiting input runs")
}

#[tokio::test]
async fn a_read_on_a_tty_returns_as_awaiting_input_long_before_the_yield() {
    let env = sessions().await;
    let (reply, took) = start(&env, "printf 'name? '; read x; echo hello-$x", true).await;
    let id = awaiting(&reply, took);
    assert!(reply.output.contains("name?"), "{reply:?}");
    assert_eq!(env.sessions.list_sessions()[0].state, SessionState::AwaitingInput);
    let reply = env.sessions.write_stdin(write(id, "ann\n")).await.unwrap();
    assert_eq!(reply.exit_code, Some(0), "{reply:?}");
    assert!(reply.output.contains("hello-ann"), "{reply:?}");
}

#[tokio::test]
async fn a_read_on_a_pipe_session_returns_as_awaiting_input() {
    let env = sessions().await;
    let (reply, took) = start(&env, "read x; echo got-$x", false).await;
    let id = awaiting(&reply, took);
    let reply = env.sessions.write_stdin(write(id, "it\n")).await.unwrap();
    assert!(reply.output.contains("got-it"), "{reply:?}");
}

#[tokio::test]
async fn python_interactive_returns_at_each_prompt() {
    let env = sessions().await;
    let (reply, took) = start(&env, "python3 -i -q", true).await;
    let id = awaiting(&reply, took);
    let begun = Instant::now();
    let reply = env
        .sessions
        .write_stdin(WriteRequest { yield_time_ms: Some(10_000), ..write(id, "1+1\n") })
        .await
        .unwrap();
    awaiting(&reply, begun.elapsed());
    assert!(reply.output.contains("2\n>>>"), "{reply:?}");
}

#[tokio::test]
async fn a_password_prompt_returns_as_awaiting_input_and_the_secret_is_not_echoed() {
    let env = sessions().await;
    let (reply, took) = start(&env, "read -s -p 'Password: ' pw; echo; echo length-${#pw}", true).await;
    let id = awaiting(&reply, took);
    assert!(reply.output.contains("Password:"), "{reply:?}");
    let reply = env.sessions.write_stdin(write(id, "hunter2\n")).await.unwrap();
    assert!(reply.output.contains("length-7"), "{reply:?}");
    assert!(!reply.output.contains("hunter2"), "the secret was echoed: {reply:?}");
}

#[tokio::test]
async fn a_busy_or_sleeping_command_is_not_awaiting_input() {
    let env = sessions().await;
    for tty in [false, true] {
        let begun = Instant::now();
        let reply = env
            .sessions
            .exec_command(ExecRequest {
                tty: Some(tty),
                yield_time_ms: Some(1500),
                ..exec("echo start; sleep 30")
            })
            .await
            .unwrap();
        assert_eq!(reply.returned_because, ReturnedBecause::Deadline, "{reply:?}");
        assert_eq!(reply.state, SessionState::Running, "{reply:?}");
        assert!(begun.elapsed() >= Duration::from_millis(1400), "{:?}", begun.elapsed());
    }
}
