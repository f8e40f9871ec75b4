//! `cordon run` and `cordon shell` over the IPC channel: launch a runner,
//! spawn the command, and pump between it and cordon's own stdio until it
//! exits.

use std::io::Write;

use anyhow::Context as _;
use cordon::oneshot::spawn_failure_exit_code;
use cordon::{Command, Event, HeadTail, Process, Sandbox, Signal, Stream};
use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::options::{Prepared, SandboxArgs};
use crate::sanitize::{OutputFilters, When};
use crate::sys::{self, RawMode, Request};

/// What `--json` keeps of each stream by default: 4 MiB, half of it head,
/// half tail.
pub const DEFAULT_JSON_LIMIT: u64 = 4 << 20;

/// Exit status when cordon's stdout closed under it (128 + SIGPIPE).
const EXIT_BROKEN_PIPE: i32 = 141;

/// What the pump does with the command's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Stream to cordon's stdout/stderr as it comes.
    Stream,
    /// Collect at most `max_output` bytes of each stream, print one JSON
    /// object at the end.
    Json {
        /// See [`cordon::HeadTail`].
        max_output: u64,
    },
    /// An interactive terminal session: raw mode, resize on `SIGWINCH`.
    Shell,
}

/// Runs `argv` under `args` and returns cordon's exit status.
pub async fn run(
    args: &SandboxArgs,
    prepared: &Prepared,
    argv: &[std::ffi::OsString],
    tty: bool,
    mode: Mode,
    sanitize: When,
) -> anyhow::Result<i32> {
    let mut options = crate::runner::launch_options(prepared.policy.clone())?;
    if let Some(mode) = args.windows_mode {
        options = options.windows_mode(mode.into());
    }
    let sandbox = Sandbox::launch(options).await?;
    if args.explain {
        explain(&prepared.policy, Some(&sandbox.info().sandbox));
    }
    let mut command = Command::new(&argv[0]).args(&argv[1..]).env_clear().stdin(true);
    for (key, value) in &prepared.env {
        command = command.env(key, value);
    }
    if let Some(cwd) = &args.cwd {
        command = command.cwd(cwd);
    }
    if let Some(timeout) = args.timeout {
        command = command.timeout(timeout);
    }
    if tty {
        command = command.tty(sys::current_size().unwrap_or_default());
    }
    let process = match sandbox.spawn(command).await {
        Ok(process) => process,
        Err(cordon::Error::Spawn { kind, message, .. }) => {
            let code = spawn_failure_exit_code(kind);
            if matches!(mode, Mode::Json { .. }) {
                let error = json!({ "kind": kind, "message": message });
                let nothing = HeadTail::new(0);
                print_json(code, None, None, false, 0, &nothing, &nothing, Some(error))?;
            } else {
                eprintln!("cordon: {message}");
            }
            return Ok(code);
        }
        Err(err) => return Err(err.into()),
    };
    // A command on a PTY of its own gets the user's keys as typed, and its
    // output (already `\r\n`) passes through untranslated: raw mode, or the
    // local terminal would echo twice and print `\r\r\n`.
    let mut raw = if mode == Mode::Shell || tty { RawMode::enable()? } else { None };
    let typeahead = raw.as_mut().map(RawMode::take_typeahead).unwrap_or_default();
    let filters = OutputFilters::new(sanitize, matches!(mode, Mode::Json { .. }));
    let code = pump(process, mode, filters, typeahead).await;
    drop(raw);
    let code = code?;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), sandbox.shutdown()).await;
    Ok(code)
}

async fn pump(
    mut process: Process,
    mode: Mode,
    mut filters: OutputFilters,
    typeahead: Vec<u8>,
) -> anyhow::Result<i32> {
    // Input goes in its own task: it waits for the stdin window while this
    // loop keeps draining output, so neither side can block the other.
    let stdin = process.stdin_writer();
    let forward = tokio::spawn(async move {
        if !typeahead.is_empty() && stdin.write(&typeahead).await.is_err() {
            return;
        }
        let mut input = tokio::io::stdin();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match input.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if stdin.write(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = stdin.close().await;
    });
    let mut requests = sys::Interrupts::new()?;
    let limit = match mode {
        Mode::Json { max_output } => max_output,
        _ => 0,
    };
    let (mut stdout_buf, mut stderr_buf) = (HeadTail::new(limit), HeadTail::new(limit));
    let mut filtered = Vec::new();
    let status = loop {
        tokio::select! {
            event = process.next_event() => match event? {
                Some(Event::Output { stream, data }) => {
                    let data = filters.apply(stream == Stream::Stderr, &data, &mut filtered);
                    if matches!(mode, Mode::Json { .. }) {
                        match stream {
                            Stream::Stderr => stderr_buf.push(data),
                            _ => stdout_buf.push(data),
                        }
                    } else if let Err(err) = write_out(stream, data) {
                        process.terminate().await.ok();
                        if err.kind() == std::io::ErrorKind::BrokenPipe {
                            return Ok(EXIT_BROKEN_PIPE);
                        }
                        return Err(err).context("writing the command's output");
                    }
                }
                Some(Event::Error { message, .. }) => tracing::debug!(%message, "runner"),
                Some(Event::Exited(status)) => break status,
                None => anyhow::bail!("the process ended without an exit status"),
            },
            request = requests.next() => match request {
                Request::Interrupt => { let _ = process.signal(Signal::Interrupt).await; }
                Request::Terminate => { let _ = process.signal(Signal::Terminate).await; }
                Request::Hangup => { let _ = process.signal(Signal::Hangup).await; }
                Request::Resize => {
                    if mode == Mode::Shell && let Some(size) = sys::current_size() {
                        let _ = process.resize(size).await;
                    }
                }
            },
        }
    };
    forward.abort();
    if matches!(mode, Mode::Json { .. }) {
        print_json(
            status.exit_code(),
            status.code,
            status.signal,
            status.timed_out,
            status.duration.as_millis() as u64,
            &stdout_buf,
            &stderr_buf,
            None,
        )?;
    }
    Ok(status.exit_code())
}

/// `--explain`: the effective policy and what the runner enforces, on
/// stderr.
pub fn explain(policy: &cordon::Policy, report: Option<&cordon::SandboxReport>) {
    let policy = serde_json::to_string_pretty(policy).unwrap_or_default();
    eprintln!("cordon: effective policy:\n{policy}");
    match report {
        Some(report) => {
            eprintln!("cordon: enforcement ({}):", report.summary);
            for layer in &report.layers {
                let state = serde_json::to_value(layer.state).ok().and_then(|v| v.as_str().map(String::from));
                eprintln!("  {:<14} {:<13} {}", layer.name, state.unwrap_or_default(), layer.detail);
            }
        }
        None => eprintln!("cordon: enforcement: reported by the runner only over the IPC bootstrap"),
    }
}

fn write_out(stream: Stream, data: &[u8]) -> std::io::Result<()> {
    match stream {
        Stream::Stderr => {
            let mut err = std::io::stderr().lock();
            err.write_all(data)?;
            err.flush()
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(data)?;
            out.flush()
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn print_json(
    exit_code: i32,
    code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    duration_ms: u64,
    stdout: &HeadTail,
    stderr: &HeadTail,
    error: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    let mut report = json!({
        "exit_code": exit_code,
        "code": code,
        "signal": signal,
        "timed_out": timed_out,
        "duration_ms": duration_ms,
        "stdout": String::from_utf8_lossy(&stdout.kept()),
        "stderr": String::from_utf8_lossy(&stderr.kept()),
        "stdout_bytes": stdout.total(),
        "stderr_bytes": stderr.total(),
        "stdout_truncated": stdout.dropped() > 0,
        "stderr_truncated": stderr.dropped() > 0,
    });
    if let Some(error) = error {
        report["error"] = error;
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &report)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
