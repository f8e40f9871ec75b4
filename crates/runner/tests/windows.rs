//! The runner on Windows, end to end through the client library: the named
//! pipe transport, pipe- and ConPTY-backed processes, job-object tree kill,
//! timeouts, runner death and the request-file bootstrap. Run under Wine by
//! `scripts/test-windows`; the ConPTY tests need Wine on a terminal (the
//! script runs them under `script`).
#![cfg(windows)]

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cordon::{Command, Error, Event, LaunchOptions, Policy, Sandbox, Size, Stream};

const RUNNER: &str = env!("CARGO_BIN_EXE_cordon-runner");
const DEADLINE: Duration = Duration::from_secs(60);

fn fixture() -> String {
    let runner = PathBuf::from(RUNNER);
    runner.parent().expect("target dir").join("examples").join("fixture.exe").to_string_lossy().into_owned()
}

async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: did not finish within {DEADLINE:?}"),
    }
}

async fn launch() -> Sandbox {
    bounded("launch", Sandbox::launch(LaunchOptions::new(Policy::full_access()).runner(RUNNER)))
        .await
        .expect("launch")
}

fn fixture_command(args: &[&str]) -> Command {
    Command::new(fixture()).args(args.iter().copied())
}

/// Everything a process writes on its terminal until it exits.
async fn terminal_output(process: &mut cordon::Process) -> String {
    let mut out = Vec::new();
    while let Some(event) = bounded("terminal output", process.next_event()).await.expect("event") {
        if let Event::Output { data, .. } = event {
            out.extend_from_slice(&data);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn handshake_over_the_named_pipe_reports_the_runner() {
    let sandbox = launch().await;
    let info = sandbox.info();
    assert_eq!(info.platform, "windows");
    assert_eq!(Some(info.pid), sandbox.runner_pid(), "the pid the runner reports is the one we started");
    bounded("shutdown", sandbox.shutdown()).await.expect("shutdown");
}

#[tokio::test]
async fn cmd_echo_stdout_and_stderr_stay_separate_with_the_exit_code() {
    let sandbox = launch().await;
    let out =
        bounded("run", sandbox.run(Command::new("cmd").args(["/c", "echo out& echo err 1>&2& exit /b 3"])))
            .await
            .expect("run");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "out");
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end(), "err");
    assert_eq!(out.status.code, Some(3));
}

#[tokio::test]
async fn exit_codes_are_exact() {
    let sandbox = launch().await;
    for code in [0, 1, 42, 255, 1000] {
        let out =
            bounded("run", sandbox.run(fixture_command(&["exit", &code.to_string()]))).await.expect("run");
        assert_eq!(out.status.code, Some(code));
    }
}

#[tokio::test]
async fn stdin_over_time_then_eof() {
    let sandbox = launch().await;
    let mut cat =
        bounded("spawn", sandbox.spawn(fixture_command(&["cat"]).stdin(true))).await.expect("spawn");
    for word in ["one\n", "two\n", "three\n"] {
        cat.write_stdin(word).await.expect("write");
        match bounded("echo", cat.next_event()).await.expect("event") {
            Some(Event::Output { stream: Stream::Stdout, data }) => assert_eq!(data, word.as_bytes()),
            other => panic!("expected {word:?} back, got {other:?}"),
        }
    }
    cat.close_stdin().await.expect("close");
    let status = bounded("wait", cat.wait()).await.expect("wait");
    assert_eq!(status.code, Some(0), "cat ends at end of input");
}

#[tokio::test]
async fn a_missing_program_is_a_structured_spawn_failure() {
    let sandbox = launch().await;
    match bounded("spawn", sandbox.spawn(Command::new("no-such-program-here"))).await {
        Err(Error::Spawn { kind, .. }) => assert_eq!(kind, cordon::SpawnErrorKind::NotFound),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn many_processes_on_one_runner() {
    let sandbox = launch().await;
    let mut runs = Vec::new();
    for i in 0..12 {
        runs.push(sandbox.run(fixture_command(&["lines", &(i + 1).to_string()])));
    }
    let outs = bounded("runs", futures_util::future::join_all(runs)).await;
    for (i, out) in outs.into_iter().enumerate() {
        let out = match out {
            // Wine's CreateProcess now and then fails with
            // ERROR_INTERNAL_ERROR among a dozen at once (about one run
            // in ten): that one is started again, alone.
            Err(Error::Spawn { os_code: Some(1359), .. }) if is_wine() => {
                eprintln!("Wine: process {i} failed to start with ERROR_INTERNAL_ERROR; started again");
                bounded("run", sandbox.run(fixture_command(&["lines", &(i + 1).to_string()]))).await
            }
            other => other,
        };
        let out = out.expect("run");
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        assert_eq!(text.lines().count(), i + 1, "process {i}: {text:?}");
        assert!(out.status.success());
    }
}

#[tokio::test]
async fn large_output_arrives_whole_and_in_order() {
    let sandbox = launch().await;
    let out = bounded("run", sandbox.run(fixture_command(&["lines", "20000"]))).await.expect("run");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 20000);
    assert_eq!(lines[0], "line 1");
    assert_eq!(lines[19999], "line 20000");
}

#[tokio::test]
async fn terminate_kills_the_grandchild_through_the_job() {
    let sandbox = launch().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("grandchild.pid");
    let mut parent =
        bounded("spawn", sandbox.spawn(fixture_command(&["grandchild", pid_file.to_str().unwrap()])))
            .await
            .expect("spawn");
    let start = Instant::now();
    let grandchild = loop {
        if let Ok(text) = std::fs::read_to_string(&pid_file)
            && let Ok(pid) = text.trim().parse::<u32>()
        {
            break pid;
        }
        assert!(start.elapsed() < DEADLINE, "no grandchild pid");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let alive = |pid: u32| async move { sandbox_free_run(&["alive", &pid.to_string()]).await == Some(0) };
    assert!(alive(grandchild).await, "the grandchild runs before the kill");
    parent.terminate().await.expect("terminate");
    let status = bounded("wait", parent.wait()).await.expect("wait");
    assert!(!status.success());
    let start = Instant::now();
    while alive(grandchild).await {
        assert!(start.elapsed() < Duration::from_secs(10), "grandchild {grandchild} survived the job kill");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the fixture directly, outside any sandbox, for checks about
/// processes.
async fn sandbox_free_run(args: &[&str]) -> Option<i32> {
    let fixture = fixture();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || std::process::Command::new(fixture).args(args).status().ok()?.code())
        .await
        .expect("join")
}

#[tokio::test]
#[ignore = "needs real Windows: under Wine 8 GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, group) succeeds \
            but the process's handler never runs (measured: no exit within 60 s)"]
async fn interrupt_is_ctrl_break_for_a_pipe_process_group() {
    let sandbox = launch().await;
    let mut process = bounded("spawn", sandbox.spawn(fixture_command(&["wait-break"]))).await.expect("spawn");
    match bounded("ready", process.next_event()).await.expect("event") {
        Some(Event::Output { data, .. }) => assert!(String::from_utf8_lossy(&data).contains("ready")),
        other => panic!("expected ready, got {other:?}"),
    }
    process.signal(cordon::Signal::Interrupt).await.expect("signal");
    let status = bounded("wait", process.wait()).await.expect("wait");
    assert_eq!(status.code, Some(42), "the process's Ctrl-Break handler ran: {status:?}");
}

#[tokio::test]
async fn a_timeout_kills_the_tree_and_says_so() {
    let sandbox = launch().await;
    let start = Instant::now();
    let mut sleeper = bounded(
        "spawn",
        sandbox.spawn(fixture_command(&["sleep", "60"]).timeout(Duration::from_millis(500))),
    )
    .await
    .expect("spawn");
    let status = bounded("wait", sleeper.wait()).await.expect("wait");
    assert!(status.timed_out, "{status:?}");
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn runner_death_fails_pending_calls_promptly() {
    let sandbox = launch().await;
    let mut sleeper =
        bounded("spawn", sandbox.spawn(fixture_command(&["sleep", "60"]))).await.expect("spawn");
    let runner = sandbox.runner_pid().expect("runner pid");
    assert_eq!(sandbox_free_run(&["kill", &runner.to_string()]).await, Some(0));
    match bounded("event after runner death", sleeper.next_event()).await {
        Err(Error::RunnerGone(_)) => {}
        other => panic!("expected RunnerGone, got {other:?}"),
    }
    match bounded("spawn after runner death", sandbox.spawn(fixture_command(&["exit", "0"]))).await {
        Err(Error::RunnerGone(_)) => {}
        other => panic!("expected RunnerGone, got {other:?}"),
    }
}

/// What `fixture desktop` prints in a sandbox: the `lpDesktop` it was
/// started with and the desktop its thread is on.
async fn desktop_in(sandbox: &Sandbox) -> (String, String) {
    let output = bounded("desktop", sandbox.run(fixture_command(&["desktop"]))).await.expect("run");
    let text = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {text:?}"))
            .to_string()
    };
    (field("startup="), field("thread="))
}

#[tokio::test]
async fn a_sandboxed_process_is_on_the_launchs_private_desktop() {
    let sandbox = launch().await;
    let (startup, thread) = desktop_in(&sandbox).await;
    let (station, name) = startup.split_once('\\').unwrap_or_else(|| panic!("station\\desktop: {startup:?}"));
    assert!(station.eq_ignore_ascii_case("WinSta0"), "{startup}");
    assert!(
        name.starts_with("cordon-") && name.len() == "cordon-".len() + 32,
        "a private desktop: {startup}"
    );
    assert_eq!(thread, name, "the process runs on the desktop it was given");
    let other = launch().await;
    let (other_startup, _) = desktop_in(&other).await;
    assert_ne!(other_startup, startup, "each launch has its own desktop");
}

/// The workspace of the tests' policies: a directory of its own in the
/// temp directory (the temp directory itself is no writable root), left
/// for the temp directory's cleaning.
fn workspace() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir").keep()).clone()
}

/// A workspace-write policy on [`workspace`], with `network`, none of the
/// presets' default denies (on Windows they depend on `HOME`) and these
/// limits.
fn workspace_policy(network: bool, limits: cordon::Limits) -> Policy {
    let mut policy = cordon::PolicyBuilder::new(cordon::Preset::WorkspaceWrite)
        .cwd(workspace())
        .temp_dir(workspace())
        .network(network)
        .limits(limits)
        .build()
        .expect("policy");
    policy.filesystem.deny.clear();
    policy
}

fn restricted(policy: Policy) -> LaunchOptions {
    LaunchOptions::new(policy).runner(RUNNER).windows_mode(cordon::WindowsMode::RestrictedToken)
}

fn layer<'a>(sandbox: &'a Sandbox, name: &str) -> &'a cordon_ipc::SandboxLayer {
    let report = &sandbox.info().sandbox;
    report.layers.iter().find(|l| l.name == name).unwrap_or_else(|| panic!("no {name} layer: {report:?}"))
}

#[tokio::test]
async fn a_confining_policy_is_refused_without_a_restricted_token_context() {
    // Under Wine restricting SIDs are dropped (and TokenRestrictedSids is
    // not implemented), so the runner's check of its own token fails
    // closed; on Windows the restricted token passes it.
    let launched =
        bounded("launch", Sandbox::launch(restricted(workspace_policy(true, Default::default())))).await;
    if is_wine() {
        match launched {
            Err(Error::Launch(message)) => {
                assert!(message.contains("refused to run"), "the runner refused, not a timeout: {message}")
            }
            other => panic!("expected the runner to refuse, got {other:?}"),
        }
    } else {
        let sandbox = launched.expect("launch under a restricted token");
        assert!(sandbox.info().sandbox.summary.contains("sandbox context"), "{:?}", sandbox.info().sandbox);
        assert_eq!(layer(&sandbox, "restricted-token").state, cordon_ipc::LayerState::Active);
        assert_eq!(layer(&sandbox, "job").state, cordon_ipc::LayerState::Active);
    }
}

#[tokio::test]
async fn a_policy_without_network_is_refused_in_restricted_token_mode() {
    // Refused before anything starts: no firewall rule can name a token.
    match bounded("launch", Sandbox::launch(restricted(workspace_policy(false, Default::default())))).await {
        Err(Error::Launch(message)) => {
            assert!(message.contains("restricted-token mode") && message.contains("network"), "{message}");
            assert!(message.contains("cordon setup"), "says what to do: {message}");
        }
        other => panic!("expected a refusal naming the network, got {other:?}"),
    }
    // With best effort it runs, and says the network is not blocked.
    let mut policy = workspace_policy(false, Default::default());
    policy.best_effort = true;
    let sandbox = bounded("launch", Sandbox::launch(restricted(policy))).await.expect("best effort runs");
    let network = layer(&sandbox, "network");
    assert_eq!(network.state, cordon_ipc::LayerState::Unavailable, "{network:?}");
    assert!(sandbox.info().sandbox.summary.contains("network"), "{:?}", sandbox.info().sandbox);
    bounded("shutdown", sandbox.shutdown()).await.expect("shutdown");
}

#[tokio::test]
async fn a_file_size_limit_is_refused_as_windows_has_none() {
    let limits = cordon::Limits { file_size: Some(1 << 20), ..Default::default() };
    match bounded("launch", Sandbox::launch(restricted(workspace_policy(true, limits)))).await {
        Err(Error::Launch(message)) => assert!(message.contains("file_size"), "{message}"),
        other => panic!("expected a refusal naming file_size, got {other:?}"),
    }
}

#[test]
fn a_sandbox_user_name_in_the_environment_does_not_make_a_sandbox_user() {
    // The runner once took USERNAME for its identity. Started by hand, as
    // the caller, with the offline sandbox user's name in USERNAME and no
    // restricted token, it must refuse a confining policy.
    let policy = serde_json::to_string(&workspace_policy(false, Default::default())).expect("json");
    let out = std::process::Command::new(RUNNER)
        .args(["--ipc-stdio", "--policy-json", &policy])
        .env("USERNAME", "CordonSandboxOffline")
        .env("USERDOMAIN", ".")
        .env(cordon_ipc::TOKEN_ENV, "0123456789abcdef")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the runner");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(cordon_ipc::oneshot::EXIT_CORDON_FAILED), "{stderr}");
    assert!(stderr.contains("restricted-token layer"), "refused for its token: {stderr}");
    assert!(out.stdout.is_empty(), "no handshake: {:?}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test]
#[ignore = "needs real Windows: Wine 8 accepts JOB_OBJECT_LIMIT_ACTIVE_PROCESS but does not enforce it \
            (measured: ten processes started in a job limited to three)"]
async fn a_process_limit_stops_a_spawn_loop() {
    let limits = cordon::Limits { processes: Some(4), ..Default::default() };
    let sandbox =
        bounded("launch", Sandbox::launch(restricted(workspace_policy(true, limits)))).await.expect("launch");
    let detail = &layer(&sandbox, "limits").detail;
    assert!(detail.contains("sandbox processes=4"), "{detail}");
    let out = bounded("spawn loop", sandbox.run(fixture_command(&["spawn-many", "50"]))).await.expect("run");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let spawned: usize = text
        .lines()
        .find_map(|line| line.strip_prefix("spawned "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {text:?}"));
    // Four processes for the commands: the fixture and three children.
    assert!(spawned <= 3, "{spawned} children started under a limit of 4: {text}");
    assert!(text.contains("failed:"), "the next spawn failed: {text}");
}

#[tokio::test]
#[ignore = "needs real Windows: Wine 8 accepts JOB_OBJECT_LIMIT_JOB_TIME but does not enforce it \
            (measured: 8 s of CPU used under a limit of 2 s)"]
async fn a_cpu_time_limit_ends_a_busy_command() {
    let limits = cordon::Limits { cpu_time: Some(2), ..Default::default() };
    let sandbox =
        bounded("launch", Sandbox::launch(restricted(workspace_policy(true, limits)))).await.expect("launch");
    let started = Instant::now();
    let out = bounded("burn", sandbox.run(fixture_command(&["burn", "20"]))).await.expect("run");
    assert!(started.elapsed() < Duration::from_secs(15), "ended by the limit, after {:?}", started.elapsed());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("burned"), "the command did not finish");
    assert_ne!(out.status.code, Some(0), "{:?}", out.status);
    // The runner lives on: the limit is the command's job's.
    let again = bounded("again", sandbox.run(fixture_command(&["exit", "3"]))).await.expect("run");
    assert_eq!(again.status.code, Some(3));
}

/// Runs `script` (a batch file written to a new directory) with `args`
/// in a sandbox and returns what it printed.
async fn batch_output(script: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("args.bat");
    std::fs::write(&path, script).expect("write the batch file");
    let sandbox = launch().await;
    let command = Command::new(path.to_string_lossy().into_owned()).args(args.iter().copied());
    let out = bounded("batch file", sandbox.run(command)).await.expect("run");
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

#[tokio::test]
async fn a_batch_file_argument_cannot_inject_a_command() {
    let text = batch_output("@echo off\r\necho ARG=%1\r\n", &["a\"&echo INJECTED"]).await;
    assert!(text.starts_with("ARG="), "the batch file ran: {text:?}");
    // Quoted by the C runtime's rules, cmd.exe ran `echo INJECTED"`.
    let injected = text.lines().any(|line| line.trim_start().starts_with("INJECTED"));
    assert!(!injected, "a command was injected: {text:?}");
    assert_eq!(text.lines().count(), 1, "{text:?}");
}

#[tokio::test]
#[ignore = "needs real Windows: Wine's cmd expands %NAME% through the %%cd:~,% guard that Windows' \
            cmd.exe (and Rust's std, whose quoting this is) relies on (measured: %OS% printed as \
            Windows_NT)"]
async fn a_batch_file_argument_expands_no_variable() {
    let text = batch_output("@echo off\r\necho ARG=%1\r\n", &["%OS%|%PATH%^"]).await;
    assert!(text.starts_with("ARG="), "the batch file ran: {text:?}");
    assert!(
        !text.contains("Windows_NT") && !text.contains(r"C:\windows"),
        "a variable was expanded: {text:?}"
    );
}

#[tokio::test]
async fn a_batch_argument_with_a_line_break_is_refused() {
    let sandbox = launch().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.cmd");
    std::fs::write(&path, "@echo off\r\necho ran\r\n").expect("write");
    let command = Command::new(path.to_string_lossy().into_owned()).arg("a\r\necho INJECTED");
    match bounded("spawn", sandbox.run(command)).await {
        Err(Error::Spawn { kind, message, .. }) => {
            assert_eq!(kind, cordon_ipc::SpawnErrorKind::InvalidRequest, "{message}");
            assert!(message.contains("line break"), "{message}");
        }
        other => panic!("expected a refused spawn, got {other:?}"),
    }
}

fn is_wine() -> bool {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
    // SAFETY: plain lookups of a loaded module's export.
    unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
    }
}

#[tokio::test]
#[ignore = "needs real Windows: Wine hands a pseudoconsole's child the runner's standard handles, which \
            reach the pseudoconsole only when the runner sits on a terminal (the sys-level ConPTY tests \
            below run under Wine)"]
async fn conpty_output_with_vt_sequences_then_eof_after_exit() {
    let sandbox = launch().await;
    let mut process = bounded(
        "spawn",
        sandbox.spawn(
            Command::new("cmd").args(["/c", "echo hello-from-conpty"]).tty(Size { rows: 24, cols: 80 }),
        ),
    )
    .await
    .expect("spawn");
    let text = terminal_output(&mut process).await;
    assert!(text.contains("hello-from-conpty"), "{text:?}");
    assert!(text.contains('\x1b'), "a pseudoconsole speaks VT: {text:?}");
}

#[tokio::test]
#[ignore = "needs real Windows: as conpty_output_with_vt_sequences_then_eof_after_exit"]
async fn conpty_input_reaches_the_program_with_newline_as_enter() {
    let sandbox = launch().await;
    let mut process =
        bounded("spawn", sandbox.spawn(fixture_command(&["cat"]).tty(Size { rows: 24, cols: 80 })))
            .await
            .expect("spawn");
    process.write_stdin("typed-line\n").await.expect("write");
    let mut seen = String::new();
    while !seen.contains("typed-line") {
        match bounded("echo", process.next_event()).await.expect("event") {
            Some(Event::Output { data, .. }) => seen.push_str(&String::from_utf8_lossy(&data)),
            other => panic!("ended before the echo: {other:?}; saw {seen:?}"),
        }
    }
    process.terminate().await.expect("terminate");
    bounded("wait", process.wait()).await.expect("wait");
}

#[tokio::test]
async fn the_request_file_bootstrap_runs_one_command_on_the_runners_stdio() {
    let dir = tempfile::tempdir().expect("tempdir");
    let request = dir.path().join("request.json");
    let body = serde_json::json!({
        "argv": ["cmd", "/c", "echo from-request& exit /b 5"],
        "env": std::env::vars().collect::<std::collections::BTreeMap<_, _>>(),
        "policy": "full-access",
    });
    std::fs::write(&request, body.to_string()).expect("write request");
    let runner = RUNNER.to_string();
    let request_arg = request.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(runner).arg("--request-file").arg(request_arg).output()
    })
    .await
    .expect("join")
    .expect("run the runner");
    assert_eq!(output.status.code(), Some(5), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim_end(), "from-request");
    assert!(!request.exists(), "the runner deletes the request file");
}

/// The runner's ConPTY code itself, in this (terminal-backed) process: a
/// pseudoconsole, its attribute, the reader thread, input normalisation,
/// and the end of output after exit.
mod conpty {
    use std::collections::BTreeMap;

    use cordon_runner::sys::{self, SpawnSpec, StdioMode};

    use super::*;

    fn spawn(argv: &[&str]) -> sys::Child {
        let argv: Vec<cordon_ipc::OsBytes> = argv.iter().map(|s| (*s).into()).collect();
        let env: BTreeMap<cordon_ipc::OsBytes, cordon_ipc::OsBytes> =
            std::env::vars().map(|(k, v)| (k.into(), v.into())).collect();
        let spec = SpawnSpec {
            argv: &argv,
            cwd: None,
            env: &env,
            stdio: StdioMode::Pty(Size { rows: 24, cols: 80 }),
        };
        sys::spawn(&spec).expect("spawn on a pseudoconsole")
    }

    async fn read_until(terminal: &sys::Terminal, needle: &str) -> String {
        let mut seen = String::new();
        while !seen.contains(needle) {
            let data = bounded("terminal read", terminal.read(4096)).await.expect("read");
            assert!(!data.is_empty(), "end of output before {needle:?}; saw {seen:?}");
            seen.push_str(&String::from_utf8_lossy(&data));
        }
        seen
    }

    #[tokio::test]
    async fn output_carries_vt_sequences_and_ends_after_exit() {
        let child = spawn(&["cmd", "/c", "echo hello-from-conpty"]);
        let exit = sys::Reaper::start().expect("reaper").watch(&child);
        let terminal = child.pty.as_ref().expect("terminal");
        let seen = read_until(terminal, "hello-from-conpty").await;
        assert!(seen.contains('\x1b'), "a pseudoconsole speaks VT: {seen:?}");
        let status = bounded("exit", exit).await.expect("status");
        assert_eq!(status.code, Some(0));
        // After the exit the console is closed and its output ends.
        loop {
            if bounded("end of output", terminal.read(4096)).await.expect("read").is_empty() {
                break;
            }
        }
    }

    #[tokio::test]
    async fn input_with_newline_as_enter_reaches_the_program() {
        let child = spawn(&[&fixture(), "cat"]);
        let exit = sys::Reaper::start().expect("reaper").watch(&child);
        let terminal = child.pty.as_ref().expect("terminal");
        let written = bounded("write", terminal.write(b"typed-line\n")).await.expect("write");
        assert_eq!(written, b"typed-line\n".len(), "the whole input is consumed");
        read_until(terminal, "typed-line").await;
        child.tree.kill();
        let status = bounded("exit", exit).await.expect("status");
        assert_eq!(status.code, Some(sys::KILLED_EXIT_CODE as i32));
    }
}

#[tokio::test]
async fn elevated_mode_without_setup_says_to_run_cordon_setup() {
    let policy = cordon::PolicyBuilder::new(cordon::Preset::WorkspaceWrite)
        .cwd(std::env::temp_dir())
        .temp_dir(std::env::temp_dir())
        .build()
        .expect("policy");
    let options = LaunchOptions::new(policy).runner(RUNNER).windows_mode(cordon::WindowsMode::Elevated);
    match bounded("launch", Sandbox::launch(options)).await {
        Err(Error::Launch(message)) => assert!(message.contains("cordon setup"), "{message}"),
        other => panic!("expected a launch error naming cordon setup, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs real Windows: `cordon setup` run as administrator, and a logon (Wine's \
            CreateProcessWithLogonW is a stub)"]
async fn elevated_mode_runs_the_runner_as_the_offline_sandbox_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = cordon::PolicyBuilder::new(cordon::Preset::WorkspaceWrite)
        .cwd(dir.path())
        .temp_dir(dir.path())
        .build()
        .expect("policy");
    let options = LaunchOptions::new(policy).runner(RUNNER).windows_mode(cordon::WindowsMode::Elevated);
    let sandbox = bounded("launch", Sandbox::launch(options)).await.expect("launch as the sandbox user");
    let out = bounded("whoami", sandbox.run(Command::new("whoami"))).await.expect("run");
    let who = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(who.contains("cordonsandboxoffline"), "{who}");
}
