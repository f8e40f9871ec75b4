//! `cordon-bench`: measures cordon against the baselines it names and prints
//! a table with the ratio.
//!
//! - Output throughput: `head -c N /dev/zero` read through a warm runner (IPC
//!   frames, flow control, acknowledgements) vs the same command's stdout
//!   pipe read directly by this process with `tokio::process`.
//! - Spawn-to-exit latency of `true`: through a warm runner vs
//!   `tokio::process` directly.
//! - Cold `cordon run -- true` (launch, sandbox, spawn, exit) under the
//!   default policy, against `bwrap --ro-bind / / --dev /dev --proc /proc
//!   --unshare-all --die-with-parent true` and `true` run directly.
//!
//! Run it on a release build: `cargo build --release --workspace &&
//! target/release/cordon-bench`.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use cordon::{Command, Event, LaunchOptions, Policy, Sandbox};
use tokio::io::AsyncReadExt;

/// The targets cordon holds itself to.
const THROUGHPUT_TARGET: f64 = 0.8;
const SPAWN_TARGET: f64 = 1.5;

#[derive(Debug, Parser)]
#[command(name = "cordon-bench", about = "cordon vs its baselines: throughput and warm spawn latency")]
struct Args {
    /// MiB of output per throughput run.
    #[arg(long, default_value_t = 512)]
    mib: u64,
    /// Throughput runs per side (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Spawns of `true` per side.
    #[arg(long, default_value_t = 500)]
    spawns: usize,
    /// Cold launches per side.
    #[arg(long, default_value_t = 100)]
    launches: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(bench(args))
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let sandbox = Sandbox::launch(LaunchOptions::new(Policy::full_access()))
        .await
        .context("launching the runner (build it first: cargo build --release --workspace)")?;
    let bytes = args.mib << 20;

    // Warm up both paths once.
    direct_throughput(bytes >> 4).await?;
    runner_throughput(&sandbox, bytes >> 4).await?;
    let mut direct = Vec::new();
    let mut through = Vec::new();
    for _ in 0..args.runs {
        direct.push(direct_throughput(bytes).await?);
        through.push(runner_throughput(&sandbox, bytes).await?);
    }
    let direct_mib = mib_per_s(bytes, median(&mut direct));
    let runner_mib = mib_per_s(bytes, median(&mut through));

    for _ in 0..20 {
        direct_spawn().await?;
        runner_spawn(&sandbox).await?;
    }
    let mut direct_lat = Vec::new();
    let mut runner_lat = Vec::new();
    for _ in 0..args.spawns {
        direct_lat.push(direct_spawn().await?);
        runner_lat.push(runner_spawn(&sandbox).await?);
    }
    let mut round_trips = Vec::new();
    for _ in 0..args.spawns {
        let started = Instant::now();
        sandbox.list().await?;
        round_trips.push(started.elapsed());
    }
    sandbox.shutdown().await?;

    let (d50, d90) = (percentile(&mut direct_lat, 50), percentile(&mut direct_lat, 90));
    let (r50, r90) = (percentile(&mut runner_lat, 50), percentile(&mut runner_lat, 90));
    let throughput_ratio = runner_mib / direct_mib;
    let spawn_ratio = r50.as_secs_f64() / d50.as_secs_f64();

    println!("cordon-bench: {} MiB x {} runs, {} spawns per side", args.mib, args.runs, args.spawns);
    println!();
    println!(
        "| measure                        | baseline                 | baseline     | cordon       | ratio | target  |"
    );
    println!(
        "|--------------------------------|--------------------------|--------------|--------------|-------|---------|"
    );
    println!(
        "| output throughput (median)     | pipe read directly       | {:>8.0} MiB/s | {:>8.0} MiB/s | {:.2}x | >= {:.1}x {} |",
        direct_mib,
        runner_mib,
        throughput_ratio,
        THROUGHPUT_TARGET,
        verdict(throughput_ratio >= THROUGHPUT_TARGET)
    );
    println!(
        "| spawn-to-exit of `true`, p50   | tokio::process directly  | {:>9.0} us | {:>9.0} us | {:.2}x | <= {:.1}x {} |",
        micros(d50),
        micros(r50),
        spawn_ratio,
        SPAWN_TARGET,
        verdict(spawn_ratio <= SPAWN_TARGET)
    );
    println!(
        "| spawn-to-exit of `true`, p90   | tokio::process directly  | {:>9.0} us | {:>9.0} us | {:.2}x |         |",
        micros(d90),
        micros(r90),
        r90.as_secs_f64() / d90.as_secs_f64()
    );
    println!(
        "| channel round trip (List), p50 | -                        |            - | {:>9.0} us |     - |         |",
        micros(percentile(&mut round_trips, 50))
    );
    cold_launches(args.launches)?;
    Ok(())
}

/// `cordon run -- true` from cold, side by side with bwrap and `true`.
fn cold_launches(n: usize) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let cordon = exe.with_file_name("cordon");
    anyhow::ensure!(cordon.exists(), "{} not built (cargo build --release --workspace)", cordon.display());
    let time = |program: &std::path::Path, args: &[&str]| -> anyhow::Result<Duration> {
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            let status =
                std::process::Command::new(program).args(args).stdin(std::process::Stdio::null()).status()?;
            anyhow::ensure!(status.success(), "{} {:?} failed: {status}", program.display(), args);
            samples.push(started.elapsed());
        }
        Ok(percentile(&mut samples, 50))
    };
    let direct = time(std::path::Path::new("true"), &[])?;
    let ours = time(&cordon, &["run", "--", "true"])?;
    println!();
    println!("| cold launch, p50 ({n} runs)                          | time      | vs bwrap |");
    println!("|-----------------------------------------------------|-----------|----------|");
    let bwrap_args = [
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--unshare-all",
        "--die-with-parent",
        "true",
    ];
    let bwrap = match which("bwrap") {
        Some(path) => Some(time(&path, &bwrap_args)?),
        None => {
            println!("| bwrap: not installed (apt-get install bubblewrap)   |         - |        - |");
            None
        }
    };
    let vs = |d: Duration| {
        bwrap.map(|b| format!("{:.2}x", d.as_secs_f64() / b.as_secs_f64())).unwrap_or("-".into())
    };
    println!(
        "| `true` directly                                     | {:>6.2} ms | {:>8} |",
        millis(direct),
        vs(direct)
    );
    if let Some(b) = bwrap {
        println!(
            "| bwrap --unshare-all ... true                        | {:>6.2} ms |    1.00x |",
            millis(b)
        );
    }
    println!(
        "| cordon run -- true (workspace-write, IPC bootstrap) | {:>6.2} ms | {:>8} | target <= 1.0x {}",
        millis(ours),
        vs(ours),
        bwrap.map(|b| verdict(ours <= b)).unwrap_or("")
    );
    Ok(())
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| p.is_file())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

async fn direct_throughput(bytes: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut child = tokio::process::Command::new("head")
        .args(["-c", &bytes.to_string(), "/dev/zero"])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().context("stdout")?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = stdout.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    child.wait().await?;
    anyhow::ensure!(total == bytes, "direct read {total} of {bytes} bytes");
    Ok(started.elapsed())
}

async fn runner_throughput(sandbox: &Sandbox, bytes: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut process =
        sandbox.spawn(Command::new("head").args(["-c", &bytes.to_string(), "/dev/zero"])).await?;
    let mut total = 0u64;
    loop {
        match process.next_event().await? {
            Some(Event::Output { data, .. }) => total += data.len() as u64,
            Some(Event::Exited(_)) | None => break,
            Some(Event::Error { message, .. }) => anyhow::bail!("runner error: {message}"),
        }
    }
    anyhow::ensure!(total == bytes, "runner delivered {total} of {bytes} bytes");
    Ok(started.elapsed())
}

async fn direct_spawn() -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = tokio::process::Command::new("true").status().await?;
    anyhow::ensure!(status.success());
    Ok(started.elapsed())
}

async fn runner_spawn(sandbox: &Sandbox) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let out = sandbox.run(Command::new("true")).await?;
    anyhow::ensure!(out.status.success());
    Ok(started.elapsed())
}

fn median(samples: &mut [Duration]) -> Duration {
    percentile(samples, 50)
}

fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort();
    samples[(samples.len() - 1) * p / 100]
}

fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64()
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
