//! `cordon-bench-mcp`: `cordon mcp` measured from a client process, over
//! its stdio, as an agent drives it.
//!
//! Prints the round trip of `exec_command` of `true` (median and p99 of
//! `--calls` sequential calls, after a warm-up) against its baseline, the
//! same shell command started directly (`sh -c true` by
//! `std::process::Command`, no sandbox, no server), with the ratio and the
//! targets (median 5 ms, p99 15 ms); then the resident memory
//! and open descriptors of the server and of every process under it at the
//! start, after the sequential calls, with `--sessions` sessions live at
//! once, and after they were killed: flat figures mean nothing leaks per
//! call or per session.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(name = "cordon-bench-mcp", about = "Round trips and resources of cordon mcp over stdio")]
struct Args {
    /// The cordon executable (default: next to this one).
    #[arg(long)]
    cordon: Option<PathBuf>,
    /// Sequential exec_command calls.
    #[arg(long, default_value_t = 1000)]
    calls: usize,
    /// Sessions live at once.
    #[arg(long, default_value_t = 64)]
    sessions: usize,
}

/// A JSON-RPC peer on the server's stdio (newline-delimited messages).
struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Client {
    fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        writeln!(self.stdin, "{message}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line)? == 0 {
                bail!("the server closed its output");
            }
            let reply: Value = serde_json::from_str(&line).context("a reply that is not JSON")?;
            if reply.get("id") == Some(&json!(id)) {
                if let Some(error) = reply.get("error") {
                    bail!("{method} failed: {error}");
                }
                return Ok(reply["result"].clone());
            }
        }
    }

    fn notify(&mut self, method: &str) -> anyhow::Result<()> {
        writeln!(self.stdin, "{}", json!({ "jsonrpc": "2.0", "method": method }))?;
        Ok(self.stdin.flush()?)
    }

    fn exec(&mut self, args: Value) -> anyhow::Result<Value> {
        let result = self.request("tools/call", json!({ "name": "exec_command", "arguments": args }))?;
        if result["isError"] == json!(true) {
            bail!("exec_command failed: {result}");
        }
        Ok(result["structuredContent"].clone())
    }
}

/// Resident memory (KiB) and open descriptors of a process.
fn usage(pid: u32) -> Option<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    Some((rss, fds))
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The process and everything under it, in tree order.
fn tree(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let ppid: Option<u32> =
            stat.rsplit(')').next().and_then(|s| s.split_whitespace().nth(1)).and_then(|p| p.parse().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(parents.iter().filter(|(_, p)| *p == parent).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// One row per process of the server's tree other than the sessions'
/// commands (the server, the runner and what lies between).
fn resources(server: u32, label: &str) {
    for pid in tree(server) {
        let name = comm(pid);
        if !name.starts_with("cordon") {
            continue;
        }
        if let Some((rss, fds)) = usage(pid) {
            println!("| {label} | {name} ({pid}) | {rss} KiB | {fds} |");
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cordon = match args.cordon {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name(format!("cordon{}", std::env::consts::EXE_SUFFIX)),
    };
    let workspace = std::env::temp_dir().join(format!("cordon-bench-mcp-{}", std::process::id()));
    std::fs::create_dir_all(&workspace)?;
    let mut child = Command::new(&cordon)
        .arg("mcp")
        .current_dir(&workspace)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} mcp", cordon.display()))?;
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let server = child.id();
    let mut client = Client { child, stdin, stdout, next_id: 0 };
    client.request(
        "initialize",
        json!({ "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "cordon-bench-mcp", "version": "0" } }),
    )?;
    client.notify("notifications/initialized")?;

    // The same shell as the baseline.
    let call = json!({ "cmd": "true", "login": false, "shell": "/bin/sh" });
    for _ in 0..20 {
        client.exec(call.clone())?;
    }
    println!("| when | process | RSS | open fds |\n|---|---|---|---|");
    resources(server, "start");
    let mut times = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let start = Instant::now();
        let reply = client.exec(call.clone())?;
        times.push(start.elapsed());
        if reply["exit_code"] != json!(0) {
            bail!("true failed: {reply}");
        }
    }
    resources(server, &format!("after {} calls", args.calls));
    let mut ids = Vec::new();
    for _ in 0..args.sessions {
        let reply = client.exec(json!({ "cmd": "sleep 300", "login": false, "yield_time_ms": 250 }))?;
        ids.push(reply["session_id"].clone());
    }
    resources(server, &format!("{} sessions live", args.sessions));
    for id in ids {
        client.request("tools/call", json!({ "name": "kill_session", "arguments": { "session_id": id } }))?;
    }
    resources(server, "sessions killed");

    times.sort();
    let mut direct = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let start = Instant::now();
        let status = Command::new("/bin/sh").args(["-c", "true"]).status().context("sh -c true")?;
        direct.push(start.elapsed());
        if !status.success() {
            bail!("sh -c true failed: {status}");
        }
    }
    direct.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!();
    println!("| {} sequential runs of `true` | median | p99 | max |", args.calls);
    println!("|---|---|---|---|");
    println!(
        "| baseline: `sh -c true` by std::process::Command | {:.2} ms | {:.2} ms | {:.2} ms |",
        ms(percentile(&direct, 0.5)),
        ms(percentile(&direct, 0.99)),
        ms(direct.last().copied().unwrap_or_default())
    );
    println!(
        "| exec_command over MCP stdio, in the sandbox | {:.2} ms | {:.2} ms | {:.2} ms |",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(times.last().copied().unwrap_or_default())
    );
    println!(
        "| ratio | {:.2}x | {:.2}x | |",
        ms(percentile(&times, 0.5)) / ms(percentile(&direct, 0.5)),
        ms(percentile(&times, 0.99)) / ms(percentile(&direct, 0.99))
    );
    println!("| target | 5 ms | 15 ms | |");
    drop(client.stdin);
    let _ = client.child.wait();
    let _ = std::fs::remove_dir_all(&workspace);
    Ok(())
}
