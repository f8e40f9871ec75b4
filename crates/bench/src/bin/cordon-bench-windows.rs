//! `cordon-bench-windows`: Windows benchmarks, run under Wine by hand:
//! named-pipe throughput through the runner against a raw tokio named-pipe
//! copy, and spawn-to-exit latency of `cmd /c exit` through a warm runner
//! against `std::process::Command`. Prints a table and the ratios. It
//! starts the `cordon-runner.exe` beside it and the runner's test fixture
//! (`examples/fixture.exe`, built by `cargo build -p cordon-runner
//! --examples`).

#[cfg(not(windows))]
fn main() {
    eprintln!("cordon-bench-windows: Windows only (run it under Wine)");
}

#[cfg(windows)]
fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(bench::run());
}

#[cfg(windows)]
mod bench {
    use std::time::{Duration, Instant};

    use cordon::{Command, Event, LaunchOptions, Policy, Sandbox};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::windows::named_pipe::{ClientOptions, ServerOptions};

    const MIB: usize = 1024 * 1024;
    const TOTAL_MIB: usize = 256;
    const SPAWNS: usize = 50;

    fn sibling(name: &str) -> std::path::PathBuf {
        let exe = std::env::current_exe().expect("current exe");
        exe.parent().expect("dir").join(name)
    }

    pub async fn run() {
        let raw = raw_pipe_copy().await;
        let runner_path = sibling("cordon-runner.exe");
        let sandbox = Sandbox::launch(LaunchOptions::new(Policy::full_access()).runner(runner_path))
            .await
            .expect("launch");
        let through = through_runner(&sandbox).await;
        let direct = median(spawn_direct().await);
        let warm = median(spawn_warm(&sandbox).await);
        println!("| measure | baseline | cordon | ratio |");
        println!("|---|---|---|---|");
        println!(
            "| output throughput, {TOTAL_MIB} MiB | raw tokio named pipe: {raw:.0} MiB/s | through the runner: {through:.0} MiB/s | {:.2}x |",
            through / raw
        );
        println!(
            "| `cmd /c exit`, p50 of {SPAWNS} | std::process::Command: {} us | warm runner: {} us | {:.2}x |",
            direct.as_micros(),
            warm.as_micros(),
            warm.as_secs_f64() / direct.as_secs_f64()
        );
        sandbox.shutdown().await.expect("shutdown");
    }

    async fn raw_pipe_copy() -> f64 {
        let name = format!(r"\\.\pipe\cordon-bench-{}", std::process::id());
        let mut server = ServerOptions::new().first_pipe_instance(true).create(&name).expect("server");
        let mut client = ClientOptions::new().open(&name).expect("client");
        server.connect().await.expect("connect");
        let start = Instant::now();
        let writer = tokio::spawn(async move {
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..TOTAL_MIB * 16 {
                server.write_all(&chunk).await.expect("write");
            }
        });
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0;
        while total < TOTAL_MIB * MIB {
            total += client.read(&mut buf).await.expect("read");
        }
        writer.await.expect("writer");
        TOTAL_MIB as f64 / start.elapsed().as_secs_f64()
    }

    async fn through_runner(sandbox: &Sandbox) -> f64 {
        let fixture = sibling("examples/fixture.exe").to_string_lossy().into_owned();
        let start = Instant::now();
        let mut process =
            sandbox.spawn(Command::new(fixture).args(["spew", &TOTAL_MIB.to_string()])).await.expect("spawn");
        let mut total = 0;
        while let Some(event) = process.next_event().await.expect("event") {
            if let Event::Output { data, .. } = event {
                total += data.len();
            }
        }
        assert_eq!(total, TOTAL_MIB * MIB, "every byte arrives");
        TOTAL_MIB as f64 / start.elapsed().as_secs_f64()
    }

    async fn spawn_direct() -> Vec<Duration> {
        tokio::task::spawn_blocking(|| {
            (0..SPAWNS)
                .map(|_| {
                    let start = Instant::now();
                    std::process::Command::new("cmd").args(["/c", "exit"]).status().expect("cmd");
                    start.elapsed()
                })
                .collect()
        })
        .await
        .expect("join")
    }

    async fn spawn_warm(sandbox: &Sandbox) -> Vec<Duration> {
        let mut times = Vec::new();
        for _ in 0..SPAWNS {
            let start = Instant::now();
            sandbox.run(Command::new("cmd").args(["/c", "exit"])).await.expect("run");
            times.push(start.elapsed());
        }
        times
    }

    fn median(mut times: Vec<Duration>) -> Duration {
        times.sort();
        times[times.len() / 2]
    }
}
