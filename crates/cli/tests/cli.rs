//! End-to-end tests of the `cordon` binary, run as a user would run it.
//!
//! Every child is waited for with a deadline: a test that would hang kills
//! what it started and fails instead.
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::pty::{Winsize, openpty};
use nix::sys::termios::{LocalFlags, Termios, tcgetattr};

/// How long any one cordon invocation may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(30);

const FULL: &str = "--policy=full-access";

fn cordon_path() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cordon"))
}

fn runner_path() -> PathBuf {
    cordon_path().with_file_name("cordon-runner")
}

/// A scratch directory on the host that the sandbox sees as it is: not in
/// `/tmp`, `/var/tmp` or `/run`, of which it has empty ones of its own
/// (Cargo's target directory, or `$HOME`).
fn host_scratch() -> tempfile::TempDir {
    let private = ["/tmp", "/var/tmp", "/run", "/var/run"];
    let candidates =
        [Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR"))), std::env::var_os("HOME").map(PathBuf::from)];
    let parent = candidates
        .into_iter()
        .flatten()
        .find(|dir| {
            std::fs::create_dir_all(dir).is_ok()
                && dir.canonicalize().is_ok_and(|dir| !private.iter().any(|p| dir.starts_with(p)))
        })
        .expect("a scratch directory outside /tmp, /var/tmp and /run (Cargo's target dir or $HOME)");
    tempfile::tempdir_in(parent).unwrap()
}

/// `cordon ARGS...`, with the runner it embeds, as a user would have it.
fn cordon<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(cordon_path());
    cmd.args(args).env_remove("CORDON_RUNNER").env_remove("CORDON_LOG");
    cmd
}

/// `cordon run --policy full-access [EXTRA...] -- CMD...`
fn run_cmd(extra: &[&str], command: &[&str]) -> Command {
    let mut args = vec!["run", FULL];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(command);
    cordon(args)
}

#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    elapsed: Duration,
}

impl Finished {
    fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("cordon itself died: {:?}\n{}", self.status, self.describe()))
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    fn describe(&self) -> String {
        format!("status: {:?}\nstdout: {:?}\nstderr: {:?}", self.status, self.stdout(), self.stderr())
    }

    #[track_caller]
    fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(self.code(), expected, "unexpected exit code\n{}", self.describe());
        self
    }

    /// A failure message on stderr: one that starts with `prefix` and
    /// mentions each of `words`.
    #[track_caller]
    fn assert_message(&self, prefix: &str, words: &[&str]) -> &Self {
        let stderr = self.stderr();
        assert!(stderr.starts_with(prefix), "stderr should start with {prefix:?}\n{}", self.describe());
        for word in words {
            assert!(stderr.contains(word), "stderr should mention {word:?}\n{}", self.describe());
        }
        self
    }
}

/// Kills `child` and fails the test.
fn kill_and_fail(child: &mut Child, what: &str) -> ! {
    let _ = child.kill();
    let _ = child.wait();
    panic!("{what} did not finish within {DEADLINE:?}; killed it");
}

/// Waits for `child` until `deadline`; kills it and fails the test after.
fn wait_until(child: &mut Child, deadline: Instant, what: &str) -> ExitStatus {
    loop {
        match child.try_wait().expect("waiting for the child") {
            Some(status) => return status,
            None if Instant::now() >= deadline => kill_and_fail(child, what),
            None => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Reads `source` to the end on a thread.
fn collect(mut source: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut data = Vec::new();
        let _ = source.read_to_end(&mut data);
        let _ = tx.send(data);
    });
    rx
}

/// Runs `cmd` with `stdin` (or /dev/null) and captures its output, within
/// [`DEADLINE`].
fn run_with(mut cmd: Command, stdin: Option<Vec<u8>>) -> Finished {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let deadline = start + DEADLINE;
    let mut child = cmd.spawn().expect("starting cordon");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // Dropping the pipe at the end is the EOF.
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let status = wait_until(&mut child, deadline, "cordon");
    let elapsed = start.elapsed();
    let grace = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(5));
    let stdout = stdout.recv_timeout(grace).expect("cordon's stdout still open after it exited");
    let stderr = stderr.recv_timeout(grace).expect("cordon's stderr still open after it exited");
    Finished { status, stdout, stderr, elapsed }
}

fn run(cmd: Command) -> Finished {
    run_with(cmd, None)
}

fn json_of(finished: &Finished) -> serde_json::Value {
    let stdout = finished.stdout();
    assert_eq!(
        stdout.matches('\n').count(),
        1,
        "--json prints exactly one line, the JSON object\n{}",
        finished.describe()
    );
    let value: serde_json::Value = serde_json::from_str(stdout.trim_end())
        .unwrap_or_else(|e| panic!("stdout is not one JSON value: {e}\n{}", finished.describe()));
    assert!(value.is_object(), "not a JSON object: {value}");
    for key in ["exit_code", "signal", "timed_out", "duration_ms", "stdout", "stderr"] {
        assert!(value.get(key).is_some(), "missing {key:?} in {value}");
    }
    value
}

/// A regular file that is not executable (mode 0600).
fn non_executable_file() -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().prefix("cordon-noexec-").tempfile().unwrap();
    file.write_all(b"#!/bin/sh\necho should-not-run\n").unwrap();
    file.flush().unwrap();
    file
}

// ---------------------------------------------------------------------------
// Exit codes of `cordon run`
// ---------------------------------------------------------------------------

#[test]
fn run_exits_with_the_commands_exit_code() {
    run(run_cmd(&[], &["sh", "-c", "exit 3"])).assert_code(3);
    run(run_cmd(&[], &["true"])).assert_code(0);
}

#[test]
fn run_exits_128_plus_n_when_the_command_is_killed_by_signal_n() {
    run(run_cmd(&[], &["sh", "-c", "kill -9 $$"])).assert_code(137);
    run(run_cmd(&[], &["sh", "-c", "kill -TERM $$"])).assert_code(143);
}

#[test]
fn run_exits_124_on_timeout_and_returns_promptly() {
    let finished = run(run_cmd(&["--timeout", "300ms"], &["sleep", "10"]));
    finished.assert_code(124);
    assert!(finished.elapsed < Duration::from_secs(5), "took {:?} for a 300ms timeout", finished.elapsed);
}

#[test]
fn run_exits_126_for_a_file_that_is_not_executable() {
    let file = non_executable_file();
    let path = file.path().to_str().unwrap();
    let finished = run(run_cmd(&[], &[path]));
    finished.assert_code(126).assert_message("cordon:", &[path, "not executable"]);
    assert!(finished.stdout.is_empty(), "{}", finished.describe());
}

#[test]
fn run_exits_126_for_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    run(run_cmd(&[], &[path])).assert_code(126).assert_message("cordon:", &[path]);
}

#[test]
fn run_exits_127_for_a_command_not_on_path() {
    run(run_cmd(&[], &["cordon-no-such-command-xyz"]))
        .assert_code(127)
        .assert_message("cordon:", &["cordon-no-such-command-xyz", "not found"]);
}

#[test]
fn run_exits_127_for_a_nonexistent_absolute_path() {
    run(run_cmd(&[], &["/nonexistent/cordon-test/binary"]))
        .assert_code(127)
        .assert_message("cordon:", &["/nonexistent/cordon-test/binary"]);
}

#[test]
fn the_default_policy_confines_writes_to_the_workspace() {
    let workspace = tempfile::tempdir().unwrap();
    // Not in /tmp, of which the sandbox sees only its writable roots: a
    // directory it does see, and may not write.
    let outside = host_scratch();
    let script = format!(
        "echo ran; touch {}/inside && echo wrote-inside; touch {}/outside && echo wrote-outside; true",
        workspace.path().display(),
        outside.path().display()
    );
    let finished =
        run(cordon(["run", "--cwd", workspace.path().to_str().unwrap(), "--", "sh", "-c", &script]));
    finished.assert_code(0);
    let stdout = String::from_utf8_lossy(&finished.stdout);
    assert!(stdout.contains("ran") && stdout.contains("wrote-inside"), "{}", finished.describe());
    assert!(!stdout.contains("wrote-outside"), "{}", finished.describe());
    assert!(!outside.path().join("outside").exists());
}

#[test]
fn read_only_refuses_writes_even_in_the_working_directory() {
    let workspace = tempfile::tempdir().unwrap();
    let finished = run(cordon([
        "run",
        "--policy",
        "read-only",
        "--cwd",
        workspace.path().to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "cat /etc/hostname >/dev/null && echo read-ok; touch here && echo wrote",
    ]));
    let stdout = String::from_utf8_lossy(&finished.stdout);
    assert!(stdout.contains("read-ok") && !stdout.contains("wrote"), "{}", finished.describe());
    assert!(!workspace.path().join("here").exists());
}

#[test]
fn an_unknown_policy_is_refused_with_125() {
    run(cordon(["run", "--policy", "everything", "--", "true"])).assert_code(125);
}

#[test]
fn run_exits_125_for_a_nonexistent_cwd() {
    run(run_cmd(&["--cwd", "/nonexistent/cordon-test-dir"], &["true"]))
        .assert_code(125)
        .assert_message("cordon:", &["/nonexistent/cordon-test-dir"]);
}

// Usage errors come from the argument parser, whose messages start with
// "error:" rather than "cordon:".
#[test]
fn run_exits_125_for_a_malformed_timeout() {
    let finished = run(run_cmd(&["--timeout", "2x"], &["true"]));
    finished.assert_code(125).assert_message("error:", &["--timeout", "2x"]);
}

#[test]
fn run_exits_125_for_a_malformed_env() {
    let finished = run(run_cmd(&["--env", "NOEQUALS"], &["true"]));
    finished.assert_code(125).assert_message("error:", &["--env", "NOEQUALS", "KEY=VALUE"]);
}

// ---------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------

#[test]
fn version_flags_print_the_program_name_and_version() {
    let version = env!("CARGO_PKG_VERSION");
    let finished = run(cordon(["--version"]));
    finished.assert_code(0);
    assert_eq!(finished.stdout().trim_end(), format!("cordon {version}"));

    let runner = runner_path();
    assert!(runner.is_file(), "{} is missing: build the workspace first", runner.display());
    let mut cmd = Command::new(runner);
    cmd.arg("--version");
    let finished = run(cmd);
    finished.assert_code(0);
    assert_eq!(finished.stdout().trim_end(), format!("cordon-runner {version}"));
}

// ---------------------------------------------------------------------------
// Streams, stdin, environment, working directory
// ---------------------------------------------------------------------------

#[test]
fn run_streams_stdout_and_stderr_separately() {
    let finished = run(run_cmd(&[], &["sh", "-c", "echo out; echo err >&2"]));
    finished.assert_code(0);
    assert_eq!(finished.stdout(), "out\n", "{}", finished.describe());
    assert_eq!(finished.stderr(), "err\n", "{}", finished.describe());
}

#[test]
fn run_forwards_stdin_to_the_command() {
    let finished = run_with(run_cmd(&[], &["cat"]), Some(b"line1\nline2\n".to_vec()));
    finished.assert_code(0);
    assert_eq!(finished.stdout(), "line1\nline2\n", "{}", finished.describe());
}

#[test]
fn run_forwards_large_stdin_and_its_eof() {
    let data: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let finished = run_with(run_cmd(&[], &["wc", "-c"]), Some(data));
    finished.assert_code(0);
    assert_eq!(finished.stdout().trim(), "100000", "{}", finished.describe());
}

#[test]
fn run_passes_env_options_to_the_command() {
    let finished =
        run(run_cmd(&["--env", "KEY=some value=with equals"], &["sh", "-c", "printf %s \"$KEY\""]));
    finished.assert_code(0);
    assert_eq!(finished.stdout(), "some value=with equals");
}

#[test]
fn run_inherits_cordons_environment() {
    let mut cmd = run_cmd(&[], &["sh", "-c", "printf %s \"$CORDON_TEST_INHERITED\""]);
    cmd.env("CORDON_TEST_INHERITED", "from-the-parent");
    let finished = run(cmd);
    finished.assert_code(0);
    assert_eq!(finished.stdout(), "from-the-parent");
}

#[test]
fn run_uses_cwd_as_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().canonicalize().unwrap();
    let finished = run(run_cmd(&["--cwd", dir.path().to_str().unwrap()], &["pwd"]));
    finished.assert_code(0);
    assert_eq!(PathBuf::from(finished.stdout().trim_end()), expected, "{}", finished.describe());
}

// ---------------------------------------------------------------------------
// --json
// ---------------------------------------------------------------------------

#[test]
fn json_reports_a_normal_exit_with_both_streams() {
    let finished = run(run_cmd(&["--json"], &["sh", "-c", "echo out; echo err >&2; exit 2"]));
    finished.assert_code(2);
    let v = json_of(&finished);
    assert_eq!(v["exit_code"], 2, "{v}");
    assert_eq!(v["signal"], serde_json::Value::Null, "{v}");
    assert_eq!(v["timed_out"], false, "{v}");
    assert!(v["duration_ms"].is_u64(), "{v}");
    assert_eq!(v["stdout"], "out\n", "{v}");
    assert_eq!(v["stderr"], "err\n", "{v}");
    assert_eq!((v["stdout_bytes"].as_u64(), v["stdout_truncated"].as_bool()), (Some(4), Some(false)), "{v}");
    assert!(v.get("error").is_none(), "{v}");
}

#[test]
fn json_keeps_the_head_and_tail_of_endless_output_and_says_what_it_dropped() {
    // 10 MB of output, of which 1 KiB is kept: the first 512 bytes and the
    // last 512.
    let script = "printf START; head -c 10000000 /dev/zero | tr '\\0' x; printf END; printf tiny >&2";
    let finished = run(run_cmd(&["--json", "--json-max-output", "1k"], &["sh", "-c", script]));
    finished.assert_code(0);
    let v = json_of(&finished);
    let stdout = v["stdout"].as_str().unwrap();
    assert_eq!(stdout.len(), 1024, "{v}");
    assert!(stdout.starts_with("STARTxxx") && stdout.ends_with("xxxEND"), "{stdout}");
    assert_eq!(v["stdout_bytes"], 10_000_008, "{v}");
    assert_eq!(v["stdout_truncated"], true, "{v}");
    assert_eq!((v["stderr"].as_str(), v["stderr_truncated"].as_bool()), (Some("tiny"), Some(false)), "{v}");
}

#[test]
fn json_reports_a_signal_death() {
    let finished = run(run_cmd(&["--json"], &["sh", "-c", "kill -9 $$"]));
    finished.assert_code(137);
    let v = json_of(&finished);
    assert_eq!(v["exit_code"], 137, "{v}");
    assert_eq!(v["signal"], 9, "{v}");
    assert_eq!(v["timed_out"], false, "{v}");
}

#[test]
fn json_reports_a_timeout() {
    let finished = run(run_cmd(&["--json", "--timeout", "300ms"], &["sleep", "10"]));
    finished.assert_code(124);
    assert!(finished.elapsed < Duration::from_secs(5), "took {:?}", finished.elapsed);
    let v = json_of(&finished);
    assert_eq!(v["exit_code"], 124, "{v}");
    assert_eq!(v["timed_out"], true, "{v}");
    let ms = v["duration_ms"].as_u64().unwrap();
    assert!((250..5000).contains(&ms), "duration_ms {ms} for a 300ms timeout");
}

#[test]
fn json_reports_a_command_not_found() {
    let finished = run(run_cmd(&["--json"], &["cordon-no-such-command-xyz"]));
    finished.assert_code(127);
    let v = json_of(&finished);
    assert_eq!(v["exit_code"], 127, "{v}");
    assert_eq!(v["error"]["kind"], "not_found", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("cordon-no-such-command-xyz"), "{v}");
}

// ---------------------------------------------------------------------------
// --tty
// ---------------------------------------------------------------------------

#[test]
fn tty_runs_the_command_on_a_terminal() {
    let finished = run(run_cmd(&["--tty"], &["sh", "-c", "test -t 0 && test -t 1 && echo tty"]));
    finished.assert_code(0);
    assert!(finished.stdout().contains("tty"), "{}", finished.describe());
}

// ---------------------------------------------------------------------------
// --bootstrap request-file
// ---------------------------------------------------------------------------

fn request_file(extra: &[&str], command: &[&str]) -> Command {
    let mut args = vec!["--bootstrap", "request-file"];
    args.extend_from_slice(extra);
    run_cmd(&args, command)
}

#[test]
fn request_file_exit_codes() {
    run(request_file(&[], &["sh", "-c", "exit 3"])).assert_code(3);
    run(request_file(&[], &["true"])).assert_code(0);
    run(request_file(&[], &["sh", "-c", "kill -9 $$"])).assert_code(137);

    let finished = run(request_file(&["--timeout", "300ms"], &["sleep", "10"]));
    finished.assert_code(124);
    assert!(finished.elapsed < Duration::from_secs(5), "took {:?}", finished.elapsed);

    run(request_file(&[], &["cordon-no-such-command-xyz"]))
        .assert_code(127)
        .assert_message("cordon", &["cordon-no-such-command-xyz", "not found"]);

    let file = non_executable_file();
    let path = file.path().to_str().unwrap();
    run(request_file(&[], &[path])).assert_code(126).assert_message("cordon", &[path, "not executable"]);
}

#[test]
fn request_file_passes_stdout_stderr_and_stdin_through() {
    let finished = run(request_file(&[], &["sh", "-c", "echo out; echo err >&2"]));
    finished.assert_code(0);
    assert_eq!(finished.stdout(), "out\n", "{}", finished.describe());
    assert_eq!(finished.stderr(), "err\n", "{}", finished.describe());

    let finished = run_with(request_file(&[], &["cat"]), Some(b"line1\nline2\n".to_vec()));
    finished.assert_code(0);
    assert_eq!(finished.stdout(), "line1\nline2\n", "{}", finished.describe());
}

#[test]
fn request_file_refuses_json_with_125() {
    let finished = run(request_file(&["--json"], &["sh", "-c", "echo ran"]));
    finished.assert_code(125).assert_message("cordon:", &["--json"]);
    assert!(finished.stdout.is_empty(), "the command must not run\n{}", finished.describe());
}

// ---------------------------------------------------------------------------
// cordon shell, on a pseudo-terminal the test owns
// ---------------------------------------------------------------------------

nix::ioctl_write_int_bad!(set_controlling_terminal, nix::libc::TIOCSCTTY);

/// A `cordon` on a fresh pseudo-terminal: the slave is its stdin, stdout,
/// stderr and controlling terminal.
struct PtySession {
    child: Child,
    master: std::fs::File,
    slave: Option<OwnedFd>,
    output: Arc<Mutex<Vec<u8>>>,
    reader: mpsc::Receiver<()>,
    deadline: Instant,
    /// The terminal's settings before cordon started.
    initial: Termios,
}

impl PtySession {
    fn start(mut cmd: Command, rows: u16, cols: u16) -> PtySession {
        let size = Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        let pty = openpty(Some(&size), None).expect("openpty");
        for fd in [&pty.master, &pty.slave] {
            fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).unwrap();
        }
        let initial = tcgetattr(&pty.slave).expect("tcgetattr before");
        cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
            .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
            .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
        // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork
        // and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()?;
                set_controlling_terminal(0, 0)?;
                Ok(())
            });
        }
        let child = cmd.spawn().expect("starting cordon on a pty");
        // Close our copies of the child's stdio.
        drop(cmd);

        let master = std::fs::File::from(pty.master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let (done, reader) = mpsc::channel();
        let mut source = master.try_clone().unwrap();
        let sink = Arc::clone(&output);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EOF, or EIO once every slave descriptor is closed.
            while let Ok(n) = source.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            let _ = done.send(());
        });
        PtySession {
            child,
            master,
            slave: Some(pty.slave),
            output,
            reader,
            deadline: Instant::now() + DEADLINE,
            initial,
        }
    }

    fn slave(&self) -> &OwnedFd {
        self.slave.as_ref().unwrap()
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits for cordon to exit; kills it and fails the test, showing the
    /// output so far, past the deadline.
    fn wait(&mut self) -> ExitStatus {
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for cordon") {
                return status;
            }
            if Instant::now() >= self.deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("cordon did not exit in time; killed it. Terminal output: {:?}", self.output());
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// After cordon exited: waits for the output to contain `expected` (it
    /// may still sit in the terminal), closes our slave and waits for the
    /// reader to see the end. Returns all the output.
    fn drain(&mut self, expected: &str) -> String {
        let settle = Instant::now() + Duration::from_secs(5);
        while !self.output().contains(expected) && Instant::now() < settle {
            thread::sleep(Duration::from_millis(10));
        }
        self.slave = None;
        let grace = self.deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(5));
        // A descendant still holding the slave open would keep it blocked.
        self.reader.recv_timeout(grace).expect("the terminal still open after cordon exited");
        self.output()
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn shell_runs_on_a_terminal_of_the_same_size_and_restores_its_settings() {
    let mut session =
        PtySession::start(cordon(["shell", FULL, "--", "sh", "-c", "stty size; exit 5"]), 33, 101);
    let before = session.initial.clone();
    assert!(before.local_flags.contains(LocalFlags::ICANON | LocalFlags::ECHO), "a cooked terminal to start");
    let status = session.wait();
    let after = tcgetattr(session.slave()).expect("tcgetattr after");
    let output = session.drain("33 101");
    assert!(output.contains("33 101"), "stty size should print the terminal's size; output: {output:?}");
    assert_eq!(status.code(), Some(5), "exit status {status:?}; output: {output:?}");
    assert_eq!(after.local_flags, before.local_flags, "local flags not restored");
    assert_eq!(after.input_flags, before.input_flags, "input flags not restored");
    assert_eq!(after.output_flags, before.output_flags, "output flags not restored");
}

#[test]
fn shell_without_a_command_runs_the_users_shell() {
    let mut cmd = cordon(["shell", FULL]);
    cmd.env("SHELL", "/bin/sh");
    let mut session = PtySession::start(cmd, 24, 80);
    session.master.write_all(b"echo marker-$((40+2)); exit 9\n").unwrap();
    let status = session.wait();
    let output = session.drain("marker-42");
    assert!(output.contains("marker-42"), "the shell should run the input; output: {output:?}");
    assert_eq!(status.code(), Some(9), "exit status {status:?}; output: {output:?}");
}

#[test]
fn run_exits_when_its_stdin_is_an_idle_terminal() {
    let mut session = PtySession::start(cordon(["run", FULL, "--", "sh", "-c", "echo done; exit 4"]), 24, 80);
    session.deadline = Instant::now() + Duration::from_secs(10);
    let status = session.wait();
    let output = session.drain("done");
    assert!(output.contains("done"), "output: {output:?}");
    assert_eq!(status.code(), Some(4), "exit status {status:?}; output: {output:?}");
}

/// What `printf` in the sandbox writes: an OSC 52 clipboard write, a
/// title, an OSC 8 hyperlink, a DCS query, and colours around text.
const ESCAPES: &str = r"printf '\033]52;c;ZXZpbA==\007\033]0;owned\033\\\033]8;;https://example.com\033\\link\033]8;;\033\\ \033P$qm\033\\\033[1mbold\033[0m end\n'";

#[test]
fn run_strips_terminal_control_strings_from_output_to_a_terminal() {
    for (extra, stripped) in [(&[][..], true), (&["--sanitize-output=never"][..], false)] {
        let mut args = vec!["run", FULL];
        args.extend_from_slice(extra);
        args.extend(["--", "sh", "-c", ESCAPES]);
        let mut session = PtySession::start(cordon(args), 24, 80);
        let status = session.wait();
        let output = session.drain(" end");
        assert_eq!(status.code(), Some(0), "{extra:?}: {output:?}");
        assert!(
            output.contains("link") && output.contains("\x1b[1mbold\x1b[0m end"),
            "{extra:?}: colours and text stay: {output:?}"
        );
        for sequence in ["\x1b]52;", "\x1b]0;", "\x1b]8;", "\x1bP"] {
            assert_eq!(!output.contains(sequence), stripped, "{extra:?}: {sequence:?} in {output:?}");
        }
    }
}

#[test]
fn run_passes_output_to_a_pipe_unchanged_unless_asked_to_sanitize_it() {
    let finished = run(run_cmd(&[], &["sh", "-c", ESCAPES]));
    finished.assert_code(0);
    assert!(finished.stdout().starts_with("\x1b]52;c;ZXZpbA==\x07"), "{}", finished.describe());
    let finished = run(run_cmd(&["--sanitize-output"], &["sh", "-c", &format!("{ESCAPES}; {ESCAPES} >&2")]));
    finished.assert_code(0);
    for out in [finished.stdout(), finished.stderr()] {
        assert_eq!(out, "link \x1b[1mbold\x1b[0m end\n", "{}", finished.describe());
    }
}

#[test]
fn a_non_utf8_environment_variable_is_skipped_not_fatal() {
    use std::os::unix::ffi::OsStrExt;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["run", "--policy", "full-access", "--", "sh", "-c", "echo ok"])
        .env(std::ffi::OsStr::from_bytes(b"CORDON_TEST_BAD"), std::ffi::OsStr::from_bytes(b"\xff\xfe"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"ok\n");
}

#[test]
fn run_passes_arguments_that_are_not_utf8_as_the_bytes_they_are() {
    use std::os::unix::ffi::OsStrExt;
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9");
    let mut cmd = cordon(["run", FULL, "--", "printf", "%s|%s"]);
    cmd.arg(std::ffi::OsStr::from_bytes(b"\xff")).arg(latin1);
    let out = run(cmd);
    out.assert_code(0);
    assert_eq!(out.stdout, b"\xff|caf\xe9", "{}", out.describe());

    // The request file is JSON text: such an argument is refused, and says why.
    let mut cmd = cordon(["run", FULL, "--bootstrap", "request-file", "--", "printf", "%s"]);
    cmd.arg(latin1);
    run(cmd).assert_code(125).assert_message("cordon: ", &["not valid UTF-8", "IPC"]);
}

#[test]
fn run_accepts_as_many_arguments_as_execve_does() {
    let args: Vec<String> = (0..20_000).map(|i| format!("{i:060}")).collect();
    let script = r#"echo "$#" "${20000}""#;
    for bootstrap in ["ipc", "request-file"] {
        let mut cmd = cordon(["run", FULL, "--bootstrap", bootstrap, "--", "sh", "-c", script, "sh"]);
        cmd.args(&args);
        let out = run(cmd);
        out.assert_code(0);
        assert_eq!(out.stdout(), format!("20000 {}\n", args[19_999]), "{bootstrap}: {}", out.describe());
    }
}

#[test]
fn cordon_alone_in_a_directory_is_a_complete_install() {
    // What `cargo install --path crates/cli` leaves: `cordon`, and no
    // `cordon-runner` beside it.
    let bin = host_scratch();
    let alone = bin.path().join("cordon");
    if std::fs::hard_link(cordon_path(), &alone).is_err() {
        std::fs::copy(cordon_path(), &alone).unwrap();
    }
    assert!(!bin.path().join("cordon-runner").exists());
    let workspace = host_scratch();
    let mut cmd = Command::new(&alone);
    cmd.args([
        "run",
        "--",
        "sh",
        "-c",
        "echo inside > made; cat made; touch /etc/cordon-probe || echo refused",
    ])
    .current_dir(workspace.path())
    .env_remove("CORDON_RUNNER");
    let finished = run(cmd);
    finished.assert_code(0);
    assert_eq!(finished.stdout(), "inside\nrefused\n", "{}", finished.describe());
    assert!(!Path::new("/etc/cordon-probe").exists());

    let mut cmd = Command::new(&alone);
    cmd.args(["__runner", "--version"]);
    let finished = run(cmd);
    finished.assert_code(0);
    assert_eq!(finished.stdout().trim_end(), format!("cordon-runner {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_missing_runner_is_reported_with_where_cordon_looked() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["run", "--policy", "full-access", "--", "true"])
        .env("CORDON_RUNNER", "/nonexistent/cordon-runner")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot find cordon-runner") && stderr.contains("/nonexistent/cordon-runner"),
        "{stderr}"
    );
}

#[test]
fn the_runner_is_found_through_cordon_runner() {
    let runner = std::path::Path::new(env!("CARGO_BIN_EXE_cordon")).with_file_name("cordon-runner");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["run", "--policy", "full-access", "--", "sh", "-c", "echo found"])
        .env("CORDON_RUNNER", &runner)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"found\n");
}

// ---------------------------------------------------------------------------
// The sandbox from the command line
// ---------------------------------------------------------------------------

#[test]
fn doctor_reports_every_policy_as_json() {
    let finished = run(cordon(["doctor", "--json"]));
    let report: serde_json::Value =
        serde_json::from_slice(&finished.stdout).expect("doctor --json prints JSON");
    let policies = report["policies"].as_array().unwrap();
    let names: Vec<&str> = policies.iter().map(|p| p["policy"].as_str().unwrap()).collect();
    assert_eq!(names, ["read-only", "workspace-write", "full-access"]);
    assert!(report["probes"].as_array().unwrap().iter().any(|p| p["name"] == "landlock"));
    // The exit status says whether everything can be enforced.
    let all = policies.iter().all(|p| p["fully_enforced"] == true);
    finished.assert_code(if all { 0 } else { 1 });
}

#[test]
fn explain_prints_the_policy_and_each_enforced_layer() {
    let workspace = tempfile::tempdir().unwrap();
    let finished =
        run(cordon(["run", "--explain", "--cwd", workspace.path().to_str().unwrap(), "--", "true"]));
    finished.assert_code(0);
    let stderr = finished.stderr();
    for word in ["\"preset\": \"workspace-write\"", "landlock", "seccomp", "namespaces", "no_new_privs"] {
        assert!(stderr.contains(word), "--explain lacks {word}\n{}", finished.describe());
    }
}

#[test]
fn a_config_file_sets_the_policy_and_flags_override_it() {
    let workspace = tempfile::tempdir().unwrap();
    let secret = workspace.path().join("secret");
    std::fs::create_dir(&secret).unwrap();
    std::fs::write(secret.join("key"), "hidden").unwrap();
    // Beside a denied path, only existing directories take new entries (see
    // docs/sandbox.md): write into one.
    std::fs::create_dir(workspace.path().join("work")).unwrap();
    std::fs::write(
        workspace.path().join("cordon.toml"),
        format!("policy = \"read-only\"\ndeny = [\"{}\"]\n", secret.display()),
    )
    .unwrap();
    let cwd = workspace.path().to_str().unwrap();
    let script = "cat secret/key; touch work/new && echo wrote";
    let finished = run(cordon(["run", "--cwd", cwd, "--", "sh", "-c", script]));
    assert!(!finished.stdout().contains("hidden"), "the denied path was read\n{}", finished.describe());
    assert!(
        !finished.stdout().contains("wrote"),
        "read-only from the config was not applied\n{}",
        finished.describe()
    );
    // A flag overrides the file's policy.
    let finished =
        run(cordon(["run", "--policy", "workspace-write", "--cwd", cwd, "--", "sh", "-c", script]));
    assert!(finished.stdout().contains("wrote"), "{}", finished.describe());
    assert!(!finished.stdout().contains("hidden"), "{}", finished.describe());
}

#[test]
fn a_malformed_config_file_is_refused_with_125() {
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("cordon.toml"), "polcy = \"read-only\"\n").unwrap();
    run(cordon(["run", "--cwd", workspace.path().to_str().unwrap(), "--", "true"]))
        .assert_code(125)
        .assert_message("cordon:", &["cordon.toml"]);
}

#[test]
fn a_config_file_past_64_kib_is_refused_unread() {
    let workspace = tempfile::tempdir().unwrap();
    // Valid TOML, comments past the bound: refused for its size alone.
    let text = format!("policy = \"read-only\"\n{}", "# padding\n".repeat(7000));
    std::fs::write(workspace.path().join("cordon.toml"), text).unwrap();
    run(cordon(["run", "--cwd", workspace.path().to_str().unwrap(), "--", "true"]))
        .assert_code(125)
        .assert_message("cordon:", &["cordon.toml", "at most 65536 bytes"]);
}

#[test]
fn secrets_stay_out_unless_passed_explicitly_and_clear_env_keeps_little() {
    let workspace = tempfile::tempdir().unwrap();
    let cwd = workspace.path().to_str().unwrap();
    let script = "echo \"token=$CORDON_CLI_TEST_TOKEN key=$MY_API_KEY editor=$CORDON_CLI_TEST_EDITOR\"";
    let mut cmd = cordon(["run", "--cwd", cwd, "--env", "MY_API_KEY=given", "--", "sh", "-c", script]);
    cmd.env("CORDON_CLI_TEST_TOKEN", "leak").env("CORDON_CLI_TEST_EDITOR", "vi");
    let finished = run(cmd);
    assert!(finished.stdout().contains("token= key=given editor=vi"), "{}", finished.describe());
    // Names in lower case are secrets too, and so is a value shaped like a
    // token whatever its name.
    let lower = "echo \"gh=$github_token pw=$my_password note=$note\"";
    let mut cmd = cordon(["run", "--cwd", cwd, "--", "sh", "-c", lower]);
    cmd.env("github_token", "leak")
        .env("my_password", "leak")
        .env("note", "ghp_abcdefabcdefabcdefabcdefabcdefabcdef");
    let finished = run(cmd);
    assert_eq!(finished.stdout(), "gh= pw= note=\n", "{}", finished.describe());
    let mut cmd = cordon(["run", "--clear-env", "--cwd", cwd, "--", "sh", "-c", script]);
    cmd.env("CORDON_CLI_TEST_EDITOR", "vi");
    let finished = run(cmd);
    assert!(
        finished.stdout().contains("editor=\n") || finished.stdout().ends_with("editor=\n"),
        "{}",
        finished.describe()
    );
}

#[test]
fn the_network_is_off_by_default_and_on_with_network() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let workspace = tempfile::tempdir().unwrap();
    let cwd = workspace.path().to_str().unwrap();
    let script = format!(
        "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2); print(\"connected\")'"
    );
    let finished = run(cordon(["run", "--cwd", cwd, "--", "sh", "-c", &script]));
    assert!(!finished.stdout().contains("connected"), "{}", finished.describe());
    let finished = run(cordon(["run", "--network", "--cwd", cwd, "--", "sh", "-c", &script]));
    assert!(finished.stdout().contains("connected"), "{}", finished.describe());
}

/// The policy `--explain` prints, as JSON.
fn explained_policy(finished: &Finished) -> serde_json::Value {
    let stderr = finished.stderr();
    let start = stderr.find("cordon: effective policy:\n").map(|i| i + "cordon: effective policy:\n".len());
    let text = start.and_then(|start| {
        let rest = &stderr[start..];
        rest.find("\ncordon: enforcement").map(|end| &rest[..end])
    });
    let text = text.unwrap_or_else(|| panic!("no policy in --explain's output\n{}", finished.describe()));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("--explain's policy is not JSON: {e}\n{text}"))
}

#[test]
fn default_limits_apply_until_lifted_and_explicit_limits_replace_them() {
    let workspace = tempfile::tempdir().unwrap();
    let cwd = workspace.path().to_str().unwrap();
    let explain = |extra: &[&str]| {
        let mut args = vec!["run", "--explain", "--cwd", cwd];
        args.extend_from_slice(extra);
        args.extend(["--", "true"]);
        let finished = run(cordon(&args));
        finished.assert_code(0);
        let policy = explained_policy(&finished);
        (policy["limits"].clone(), policy["default_limits"].clone(), finished.stderr())
    };
    let (limits, defaults, stderr) = explain(&[]);
    assert_eq!(defaults["processes"], 4096, "{defaults}");
    assert_eq!(defaults["file_size"], 64u64 << 30, "{defaults}");
    assert_eq!(defaults["memory"], serde_json::Value::Null, "never an address-space limit by default");
    assert!(limits.as_object().unwrap().values().all(|v| v.is_null()), "{limits}");
    // The layer says what it did with each default.
    let layer = stderr.lines().find(|line| line.trim_start().starts_with("limits ")).unwrap_or_default();
    assert!(layer.contains("file size=68719476736 (default)"), "{stderr}");
    assert!(layer.contains("sandbox processes=4096"), "applied or named as not applied: {stderr}");
    // `unlimited` lifts a default; a value is a limit asked for instead.
    let (limits, defaults, stderr) = explain(&["--max-procs", "unlimited", "--file-size", "unlimited"]);
    assert_eq!(defaults["processes"], serde_json::Value::Null, "{defaults}");
    assert_eq!(defaults["file_size"], serde_json::Value::Null, "{defaults}");
    assert_eq!(limits["processes"], serde_json::Value::Null, "{limits}");
    assert!(!stderr.contains("sandbox processes="), "{stderr}");
    let (limits, defaults, _) = explain(&["--max-procs", "100", "--memory", "unlimited"]);
    assert_eq!(limits["processes"], 100);
    assert_eq!(defaults["processes"], serde_json::Value::Null, "replaced by the limit asked for");
    assert_eq!(defaults["sandbox_memory"], serde_json::Value::Null, "{defaults}");
    // full-access has none.
    let (_, defaults, _) = explain(&["--policy", "full-access"]);
    assert!(defaults.as_object().unwrap().values().all(|v| v.is_null()), "{defaults}");
    run(cordon(["run", "--max-procs", "many", "--", "true"]))
        .assert_code(125)
        .assert_message("error:", &["many", "unlimited"]);
}

#[test]
fn a_workspace_cordon_toml_may_not_raise_or_lift_a_default_limit() {
    let (_base, workspace, _outside) = workspace_and_outside();
    let cwd = path(&workspace);
    for (config, key) in [
        ("[limits]\nmax_procs = \"unlimited\"\n", "max_procs"),
        ("[limits]\nmax_procs = 100000\n", "max_procs"),
        ("[limits]\nfile_size = \"unlimited\"\n", "file_size"),
        ("[limits]\nmemory = \"unlimited\"\n", "memory"),
    ] {
        std::fs::write(workspace.join("cordon.toml"), config).unwrap();
        run(cordon(["run", "--cwd", cwd, "--", "true"]))
            .assert_code(125)
            .assert_message("cordon:", &["cordon.toml", "widen", key, "the default is", "only narrow"]);
        // The flag decides, not the file.
        let flag = format!("--{}", key.replace('_', "-"));
        run(cordon(["run", "--cwd", cwd, &flag, "unlimited", "--", "true"])).assert_code(0);
    }
    // Narrowing is the config's to do.
    std::fs::write(workspace.join("cordon.toml"), "[limits]\nmax_procs = 64\nfile_size = \"1G\"\n").unwrap();
    let finished = run(cordon(["run", "--explain", "--cwd", cwd, "--", "true"]));
    finished.assert_code(0);
    let policy = explained_policy(&finished);
    assert_eq!(policy["limits"]["processes"], 64);
    assert_eq!(policy["limits"]["file_size"], 1u64 << 30);
}

#[test]
fn the_tmpdir_a_command_sees_is_its_own_and_kept_nowhere() {
    // Outside /tmp: a read-only working directory there would keep the
    // sandbox's /tmp read-only.
    let workspace = host_scratch();
    let cwd = workspace.path().to_str().unwrap();
    let name = format!("cordon-cli-tmp-{}", std::process::id());
    let script = format!("echo \"$TMPDIR\" && echo kept > \"$TMPDIR/{name}\" && cat \"$TMPDIR/{name}\"");
    for policy in ["workspace-write", "read-only"] {
        let finished = run(cordon(["run", "--policy", policy, "--cwd", cwd, "--", "sh", "-c", &script]));
        finished.assert_code(0);
        assert_eq!(finished.stdout(), "/tmp\nkept\n", "{policy}: {}", finished.describe());
        assert!(
            !Path::new("/tmp").join(&name).exists(),
            "{policy}: the sandbox's file is in the host's /tmp"
        );
    }
}

/// Every process below `pid`, by `/proc/PID/task/*/children`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(next) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{next}/task")) else { continue };
        for task in tasks.flatten() {
            let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
}

/// The cgroup directories `pid` is in, for the v1 pids and memory
/// hierarchies and the unified one, below the mount points.
fn cgroup_dirs(pid: u32) -> Vec<PathBuf> {
    let table = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    table
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            let mount = match controllers {
                "" => "/sys/fs/cgroup".to_string(),
                "pids" | "memory" => format!("/sys/fs/cgroup/{controllers}"),
                _ => return None,
            };
            Some(Path::new(&mount).join(path.trim_start_matches('/')))
        })
        .filter(|dir| dir.is_dir())
        .collect()
}

fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie is gone but for its parent's wait.
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn killing_cordon_leaves_nothing_on_the_host() {
    for bootstrap in ["ipc", "request-file"] {
        let temp = host_scratch();
        let workspace = tempfile::tempdir().unwrap();
        let cwd = workspace.path().to_str().unwrap();
        let mut command = cordon([
            "run",
            "--bootstrap",
            bootstrap,
            "--cwd",
            cwd,
            "--",
            "sh",
            "-c",
            "echo started; exec sleep 100",
        ]);
        command.env("TMPDIR", temp.path()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = command.spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut started = [0u8; 8];
        if stdout.read_exact(&mut started).is_err() {
            kill_and_fail(&mut child, "the command never started");
        }
        let tree = descendants(child.id());
        let runner =
            tree.first().copied().unwrap_or_else(|| kill_and_fail(&mut child, "cordon has no runner"));
        let cgroups: Vec<PathBuf> = cgroup_dirs(runner)
            .into_iter()
            .filter(|dir| dir.to_string_lossy().contains("/cordon/runner-"))
            .collect();
        child.kill().unwrap();
        child.wait().unwrap();
        let deadline = Instant::now() + DEADLINE;
        while !tree.iter().all(|&pid| is_gone(pid)) {
            assert!(
                Instant::now() < deadline,
                "{bootstrap}: processes of cordon's tree outlive it: {tree:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        for dir in &cgroups {
            assert!(!dir.exists(), "{bootstrap}: {} is left behind", dir.display());
        }
        // A request file's directory, which only the killed cordon could
        // remove, is removed by the next.
        let left: Vec<_> = std::fs::read_dir(temp.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        if bootstrap == "ipc" {
            assert!(left.is_empty(), "{bootstrap}: left in TMPDIR: {left:?}");
        } else {
            let mut next = cordon(["run", "--bootstrap", bootstrap, "--cwd", cwd, "--", "true"]);
            next.env("TMPDIR", temp.path());
            run(next).assert_code(0);
            let left: Vec<_> =
                std::fs::read_dir(temp.path()).unwrap().flatten().map(|e| e.file_name()).collect();
            assert!(left.is_empty(), "{bootstrap}: left in TMPDIR after the next run: {left:?}");
        }
    }
}

/// A stand-in for `cordon-runner` that, before it runs the real one,
/// writes the modes of its request file's directory and of the file (from
/// outside any sandbox) to `ctl/modes`, the file's path to `ctl/path`, and
/// waits (at most 30 s) for `ctl/go` to exist.
fn holding_runner(ctl: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = ctl.join("runner");
    let text = format!(
        "#!/bin/sh\n\
         PATH=/usr/bin:/bin:$PATH\n\
         for arg; do [ \"$prev\" = --request-file ] && request=$arg; prev=$arg; done\n\
         stat -c %a \"$(dirname \"$request\")\" \"$request\" > {ctl}/modes\n\
         echo \"$request\" > {ctl}/path.new && mv {ctl}/path.new {ctl}/path\n\
         i=0; while [ ! -e {ctl}/go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done\n\
         exec {runner} \"$@\"\n",
        ctl = ctl.display(),
        runner = runner_path().display()
    );
    std::fs::write(&script, text).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn another_sandboxs_request_file_is_unreadable() {
    let ctl = tempfile::tempdir().unwrap();
    let workspace = tempfile::tempdir().unwrap();
    let cwd = workspace.path().to_str().unwrap();
    // A run whose request file, with a secret given by --env, waits in the
    // host's /tmp for its runner.
    let mut first = cordon([
        "run",
        "--bootstrap",
        "request-file",
        "--cwd",
        cwd,
        "--env",
        "CORDON_CLI_TEST_TOKEN=hunter2-request",
        "--",
        "echo",
        "first ran",
    ]);
    first.env("CORDON_RUNNER", holding_runner(ctl.path())).env("TMPDIR", "/tmp");
    first.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    /// Lets the run finish (so that it removes its directories) however
    /// the test ends; kills it if it does not.
    struct Finish(Child, PathBuf);
    impl Drop for Finish {
        fn drop(&mut self) {
            let _ = std::fs::write(&self.1, "");
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let go = ctl.path().join("go");
    let mut first = Finish(first.spawn().unwrap(), go.clone());
    let deadline = Instant::now() + DEADLINE;
    let path_file = ctl.path().join("path");
    while !path_file.exists() {
        assert!(Instant::now() < deadline, "the request file never came");
        assert!(first.0.try_wait().unwrap().is_none(), "cordon exited before its runner started");
        thread::sleep(Duration::from_millis(10));
    }
    let request = PathBuf::from(std::fs::read_to_string(&path_file).unwrap().trim_end());
    assert_eq!(std::fs::read_to_string(ctl.path().join("modes")).unwrap(), "700\n600\n", "directory, file");
    assert!(request.starts_with("/tmp"), "{}", request.display());
    assert!(std::fs::read_to_string(&request).unwrap().contains("hunter2-request"));
    // Meanwhile, another sandbox of the same user looks for it.
    let other = tempfile::tempdir().unwrap();
    let script = "ls -A \"$(dirname \"$REQ\")\"; cat \"$REQ\"; ls -A /tmp";
    let req = format!("REQ={}", request.display());
    let finished = run(cordon([
        "run",
        "--cwd",
        other.path().to_str().unwrap(),
        "--env",
        &req,
        "--",
        "sh",
        "-c",
        script,
    ]));
    let seen = format!("{}{}", finished.stdout(), finished.stderr());
    let dir_name = request.parent().unwrap().file_name().unwrap().to_str().unwrap();
    assert!(!seen.contains("hunter2"), "the secret was read\n{}", finished.describe());
    assert!(!finished.stdout().contains(dir_name), "the directory is listed\n{}", finished.describe());
    assert_eq!(seen.matches("No such file or directory").count(), 2, "{}", finished.describe());
    // The first run goes on, and its command gets the secret.
    std::fs::write(&go, "").unwrap();
    let status = wait_until(&mut first.0, deadline, "the first cordon");
    let mut stdout = String::new();
    first.0.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    assert!(status.success(), "{status:?}: {stdout}");
    assert_eq!(stdout, "first ran\n");
    assert!(!request.exists(), "the runner deleted its request file");
}

#[test]
fn setup_says_it_changes_a_windows_machine() {
    for args in [vec!["setup", "--check"], vec!["setup"], vec!["setup", "--remove"]] {
        let finished = run(cordon(&args));
        assert_eq!(finished.code(), 201, "{args:?}: E201, not Windows");
        assert!(finished.stderr().contains("E201"), "{args:?}: {}", finished.stderr());
    }
}

// ---------------------------------------------------------------------------
// What one run leaves for the next: policies, links, repositories
// ---------------------------------------------------------------------------

/// A workspace and, beside it, a directory no run may write.
fn workspace_and_outside() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().canonicalize().unwrap();
    let (workspace, outside) = (root.join("workspace"), root.join("outside"));
    std::fs::create_dir(&workspace).unwrap();
    std::fs::create_dir(&outside).unwrap();
    (base, workspace, outside)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_run_cannot_write_a_cordon_toml_that_widens_the_next() {
    let (_base, workspace, outside) = workspace_and_outside();
    let cwd = path(&workspace);
    let plant = format!(
        "echo 'policy = \"full-access\"' > cordon.toml; echo 'allow_write = [\"{}\"]' > .cordon/x",
        path(&outside)
    );
    run(cordon(["run", "--cwd", cwd, "--", "sh", "-c", &plant]));
    let touch = format!("touch {}/pwned", path(&outside));
    run(cordon(["run", "--cwd", cwd, "--", "sh", "-c", &touch]));
    assert!(!outside.join("pwned").exists(), "the second run wrote outside");
    assert!(!workspace.join("cordon.toml").exists(), "the first run left a cordon.toml");
}

#[test]
fn a_workspace_cordon_toml_may_narrow_but_never_widen() {
    let (_base, workspace, outside) = workspace_and_outside();
    let cwd = path(&workspace);
    let touch = format!("touch {}/pwned", path(&outside));
    // As a run of an earlier version, or anything else with write access to
    // the workspace, could have left it.
    for widening in [
        "policy = \"full-access\"".to_string(),
        format!("allow_write = [\"{}\"]", path(&outside)),
        "network = true".to_string(),
        "best_effort = true".to_string(),
    ] {
        std::fs::write(workspace.join("cordon.toml"), &widening).unwrap();
        for policy in [&[][..], &["--policy", "workspace-write"][..]] {
            let mut args = vec!["run", "--cwd", cwd];
            args.extend_from_slice(policy);
            args.extend(["--", "sh", "-c", &touch]);
            let finished = run(cordon(&args));
            // A --policy flag makes the file's policy irrelevant.
            if !widening.starts_with("policy") || policy.is_empty() {
                finished.assert_code(125).assert_message("cordon:", &["cordon.toml", "widen", "only narrow"]);
            }
            assert!(!outside.join("pwned").exists(), "{widening}: wrote outside\n{}", finished.describe());
        }
    }
    // Narrowing is the config's to do: read-only refuses the workspace.
    std::fs::write(workspace.join("cordon.toml"), "policy = \"read-only\"\nclear_env = true\n").unwrap();
    let finished = run(cordon(["run", "--cwd", cwd, "--", "sh", "-c", "touch here && echo wrote"]));
    assert!(!finished.stdout().contains("wrote"), "{}", finished.describe());
}

#[test]
fn a_named_config_outside_the_workspace_may_widen_and_is_named_at_every_launch() {
    let (_base, workspace, outside) = workspace_and_outside();
    let config = outside.join("trusted.toml");
    std::fs::write(&config, "network = true\n").unwrap();
    for _ in 0..2 {
        let finished =
            run(cordon(["run", "--config", path(&config), "--cwd", path(&workspace), "--", "true"]));
        finished.assert_code(0);
        assert!(
            finished.stderr().contains(&format!("{} widens the sandbox: network = true", config.display())),
            "{}",
            finished.describe()
        );
    }
    // The same file inside the workspace may not.
    let inside = workspace.join("mine.toml");
    std::fs::write(&inside, "network = true\n").unwrap();
    run(cordon(["run", "--config", path(&inside), "--cwd", path(&workspace), "--", "true"]))
        .assert_code(125)
        .assert_message("cordon:", &["mine.toml", "writable root"]);
}

#[test]
fn a_planted_link_never_becomes_a_writable_root() {
    let (_base, workspace, outside) = workspace_and_outside();
    std::fs::write(outside.join("file"), "original\n").unwrap();
    let cwd = path(&workspace);
    // The first run plants the links: inside the workspace, which it may.
    let plant = format!("ln -s {} pkg && ln -s / root", path(&outside));
    run(cordon(["run", "--cwd", cwd, "--", "sh", "-c", &plant])).assert_code(0);
    let write = "echo pwn > file";
    for link in ["pkg", "root"] {
        let target = workspace.join(link);
        // --cwd through the link, relative or absolute.
        for given in [target.to_str().unwrap(), link] {
            let mut cmd = cordon(["run", "--cwd", given, "--", "sh", "-c", write]);
            cmd.current_dir(&workspace).env("PWD", &workspace);
            run(cmd).assert_code(125).assert_message("cordon:", &["symbolic link", link]);
        }
        // `cd pkg` first: the shell's $PWD keeps the link.
        let mut cmd = cordon(["run", "--", "sh", "-c", write]);
        cmd.current_dir(&target).env("PWD", &target);
        run(cmd).assert_code(125).assert_message("cordon:", &["symbolic link"]);
        // --allow-write of it.
        run(cordon(["run", "--cwd", cwd, "--allow-write", target.to_str().unwrap(), "--", "true"]))
            .assert_code(125)
            .assert_message("cordon:", &["symbolic link"]);
    }
    assert_eq!(std::fs::read_to_string(outside.join("file")).unwrap(), "original\n");
    // Named as what it is, the directory is fine.
    run(cordon(["run", "--cwd", path(&outside), "--", "sh", "-c", write])).assert_code(0);
}

#[test]
fn the_root_home_and_system_directories_are_writable_only_when_named() {
    let home = tempfile::tempdir().unwrap();
    let home_dir = home.path().canonicalize().unwrap();
    for dir in ["/", "/etc", "/usr/local", "/tmp"] {
        run(cordon(["run", "--cwd", dir, "--", "true"]))
            .assert_code(125)
            .assert_message("cordon:", &["is ", "--allow-write"]);
    }
    let mut cmd = cordon(["run", "--cwd", path(&home_dir), "--", "true"]);
    cmd.env("HOME", &home_dir);
    run(cmd).assert_code(125).assert_message("cordon:", &["your home directory"]);
    let mut cmd =
        cordon(["run", "--cwd", path(&home_dir), "--allow-write", path(&home_dir), "--", "touch", "x"]);
    cmd.env("HOME", &home_dir);
    run(cmd).assert_code(0);
    assert!(home_dir.join("x").exists());
    // Even then, what a shell runs at login stays read-only.
    let mut cmd = cordon([
        "run",
        "--cwd",
        path(&home_dir),
        "--allow-write",
        path(&home_dir),
        "--",
        "sh",
        "-c",
        "echo evil >> .bashrc",
    ]);
    cmd.env("HOME", &home_dir);
    assert_ne!(run(cmd).code(), 0);
    assert!(!home_dir.join(".bashrc").is_file());
}

#[test]
fn a_new_repository_whose_configuration_runs_commands_is_reported() {
    if Command::new("git").arg("--version").stdout(Stdio::null()).status().is_err() {
        eprintln!("SKIPPED a_new_repository_whose_configuration_runs_commands_is_reported: no git here");
        return;
    }
    let (_base, workspace, _outside) = workspace_and_outside();
    let cwd = path(&workspace);
    let script = "export HOME=$TMPDIR; git init -q sub && git -C sub config core.fsmonitor 'touch /tmp/pwned'; \
                  git init -q clean";
    let finished = run(cordon(["run", "--cwd", cwd, "--", "sh", "-c", script]));
    finished.assert_code(0);
    let stderr = finished.stderr();
    assert!(
        stderr.contains(&format!("{}", workspace.join("sub").display()))
            && stderr.contains("core.fsmonitor = touch /tmp/pwned"),
        "{}",
        finished.describe()
    );
    assert!(!stderr.contains(&format!("{} ", workspace.join("clean").display())), "{}", finished.describe());
}

// ---------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------

#[test]
fn credential_stores_are_denied_by_default_and_the_home_stays_listable() {
    // Outside /tmp, which the sandbox has a private one of.
    let home = host_scratch();
    let home_dir = home.path().canonicalize().unwrap();
    let (_base, workspace, _outside) = workspace_and_outside();
    for (file, secret) in [
        (".ssh/id_ed25519", "ssh-secret"),
        (".aws/credentials", "aws-secret"),
        (".config/gh/hosts.yml", "gh-secret"),
        (".docker/config.json", "docker-secret"),
        (".netrc", "netrc-secret"),
        (".npmrc", "npm-secret"),
    ] {
        let path = home_dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, secret).unwrap();
    }
    std::fs::write(home_dir.join("notes.txt"), "public").unwrap();
    let steal = "for f in .ssh/id_ed25519 .aws/credentials .config/gh/hosts.yml .docker/config.json .netrc \
                 .npmrc; do cat \"$HOME/$f\"; echo; done; ls \"$HOME/.ssh\"; echo x > \"$HOME/.netrc\"; \
                 ls -a \"$HOME\"; cat \"$HOME/notes.txt\"";
    let mut cmd = cordon(["run", "--cwd", path(&workspace), "--", "sh", "-c", steal]);
    cmd.env("HOME", &home_dir);
    let finished = run(cmd);
    let (stdout, stderr) = (finished.stdout(), finished.stderr());
    assert!(!stdout.contains("-secret"), "a credential was read\n{}", finished.describe());
    assert!(stderr.contains("Permission denied"), "{}", finished.describe());
    // The home directory itself lists, and what is not a credential reads.
    assert!(
        stdout.contains(".ssh") && stdout.contains("notes.txt") && stdout.ends_with("public"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(home_dir.join(".netrc")).unwrap(), "netrc-secret");
    // One store given back; the others stay denied.
    let mut cmd = cordon([
        "run",
        "--cwd",
        path(&workspace),
        "--allow-read",
        path(&home_dir.join(".aws")),
        "--",
        "sh",
        "-c",
        "cat \"$HOME/.aws/credentials\"; cat \"$HOME/.netrc\"",
    ]);
    cmd.env("HOME", &home_dir);
    let finished = run(cmd);
    assert!(finished.stdout().contains("aws-secret"), "{}", finished.describe());
    assert!(!finished.stdout().contains("netrc-secret"), "{}", finished.describe());
    // A workspace config may not give one back.
    std::fs::write(
        workspace.join("cordon.toml"),
        format!("allow_read = [\"{}\"]\n", home_dir.join(".aws").display()),
    )
    .unwrap();
    let mut cmd = cordon(["run", "--cwd", path(&workspace), "--", "true"]);
    cmd.env("HOME", &home_dir);
    run(cmd).assert_code(125).assert_message("cordon:", &["allow_read", "only narrow"]);
}

#[test]
fn secrets_known_by_word_or_by_value_stay_out_of_the_environment() {
    let workspace = tempfile::tempdir().unwrap();
    let script = "env";
    let mut cmd = cordon(["run", "--cwd", workspace.path().to_str().unwrap(), "--", "sh", "-c", script]);
    for (name, value) in [
        ("GITHUB_PAT", "pat-secret"),
        ("MYSQL_PWD", "pwd-secret"),
        ("NPM_AUTH", "npm-secret"),
        ("DOCKER_AUTH_CONFIG", "docker-secret"),
        ("SENTRY_DSN", "dsn-secret"),
        ("DATABASE_URL", "postgres://app:url-secret@db/app"),
        ("HTTPS_PROXY", "http://u:proxy-secret@proxy:3128"),
        ("CORDON_CLI_PLAIN", "plain-value"),
    ] {
        cmd.env(name, value);
    }
    let finished = run(cmd);
    finished.assert_code(0);
    assert!(!finished.stdout().contains("-secret"), "{}", finished.describe());
    assert!(finished.stdout().contains("CORDON_CLI_PLAIN=plain-value"), "{}", finished.describe());
}

#[test]
fn a_limit_no_command_could_run_under_is_refused_saying_the_least() {
    for (flag, value, words) in [
        ("--memory", "1", ["memory limit of 1 bytes", "the least is 32 MiB"]),
        ("--memory", "4M", ["memory limit of 4194304 bytes", "the least is 32 MiB"]),
        ("--sandbox-memory", "1M", ["sandbox memory limit of 1048576 bytes", "the least is 32 MiB"]),
        ("--max-procs", "0", ["process limit of 0", "the least is 1 process"]),
    ] {
        run(cordon(["run", flag, value, "--", "true"])).assert_code(125).assert_message("cordon: ", &words);
    }
}

#[test]
fn max_procs_counts_the_commands_alone() {
    const TEST: &str = "max_procs_counts_the_commands_alone";
    let root = nix::unistd::geteuid().is_root();
    let pids = ["/sys/fs/cgroup/pids/cgroup.procs", "/sys/fs/cgroup/cgroup.controllers"];
    if !root || !pids.iter().any(|path| Path::new(path).exists()) {
        eprintln!(
            "SKIPPED {TEST}: the process limit is a pids cgroup's only as root with one (else RLIMIT_NPROC, per user)"
        );
        return;
    }
    // Two: the shell and one child, beside the runner and its supervisor.
    let two = run(cordon(["run", "--max-procs", "2", "--", "sh", "-c", "sleep 0.1 & wait && echo two"]));
    two.assert_code(0);
    assert_eq!(two.stdout(), "two\n", "{}", two.describe());
    // A third is refused.
    let three =
        run(cordon(["run", "--max-procs", "2", "--", "sh", "-c", "sleep 1 & sleep 1 & wait; echo done"]));
    assert!(three.stderr().contains("fork"), "a third process started:\n{}", three.describe());
}

/// Runs `cordon shell --policy full-access -- sh -c SCRIPT` on a terminal
/// of `script(1)`'s, fed `input` and then end of file; what the terminal
/// showed. `None` without `script`.
fn shell_under_script(script: &str, input: &[u8]) -> Option<Vec<u8>> {
    let inner = format!(
        "stty rows 33 cols 101; {} shell --policy full-access -- sh -c '{script}'",
        cordon_path().display()
    );
    let mut command = Command::new("script");
    command
        .args(["-qec", &inner, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().ok()?;
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    Some(output.stdout)
}

#[test]
fn cordon_shell_passes_on_no_byte_nobody_typed() {
    const TEST: &str = "cordon_shell_passes_on_no_byte_nobody_typed";
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED {TEST}: no script(1) here (util-linux)");
        return;
    }
    // A busy machine widens the window between the terminal's end of file
    // and raw mode, in which the line discipline's NUL marker for it used to
    // slip through as a byte.
    let hog = Command::new("sh").args(["-c", "while :; do :; done"]).spawn().unwrap();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _hog = Kill(hog);
    for run in 0..20 {
        let shown = shell_under_script("stty size; sleep 0.2", b"").unwrap();
        let text = String::from_utf8_lossy(&shown);
        assert!(
            !shown.contains(&0) && !text.contains("^@"),
            "run {run}: a NUL reached the command: {text:?}"
        );
        assert!(text.contains("33 101"), "run {run}: {text:?}");
    }
    // What was typed ahead arrives, and the end of file after it ends the
    // command's read.
    let shown = shell_under_script("read x; echo got=$x; read y || echo eof", b"hello\n").unwrap();
    let text = String::from_utf8_lossy(&shown);
    assert!(text.contains("got=hello") && text.contains("eof"), "{text:?}");
}

#[test]
fn run_tty_on_a_terminal_prints_the_commands_line_endings_once() {
    const TEST: &str = "run_tty_on_a_terminal_prints_the_commands_line_endings_once";
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED {TEST}: no script(1) here (util-linux)");
        return;
    }
    let inner = format!("{} run --tty --policy full-access -- printf 'a\\nb\\n'", cordon_path().display());
    let output =
        Command::new("script").args(["-qec", &inner, "/dev/null"]).stdin(Stdio::null()).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "a\r\nb\r\n");
}

#[test]
fn a_system_directory_made_writable_is_named_at_every_launch() {
    let workspace = host_scratch();
    let cwd = workspace.path().to_str().unwrap();
    let finished = run(cordon(["run", "--cwd", cwd, "--allow-write", "/", "--", "true"]));
    finished.assert_code(0);
    let stderr = finished.stderr();
    assert!(
        stderr.contains("warning: / is writable inside the sandbox") && stderr.contains("/etc"),
        "{stderr}"
    );
    // The workspace alone says nothing.
    let quiet = run(cordon(["run", "--cwd", cwd, "--", "true"]));
    assert!(!quiet.stderr().contains("warning"), "{}", quiet.describe());
}
