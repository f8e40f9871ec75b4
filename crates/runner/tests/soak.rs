//! Many spawns on one runner: what the runner and the client hold must not
//! grow with the number of processes they have run. Bounds, not timings.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use cordon::Command;

/// Processes run one after another.
const SPAWNS: usize = 10_000;

/// Spawns before the first measurement: allocators and caches settle.
const WARM_UP: usize = 500;

/// Open descriptors and resident memory (KiB) of `pid`.
fn held(pid: &str) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0);
    (fds, rss)
}

#[tokio::test]
async fn ten_thousand_sequential_spawns_leave_descriptors_and_memory_flat() {
    // Its own bound: thousands of fork-execs take a while on a loaded machine.
    let soak = async {
        let sandbox = launch().await;
        let runner = sandbox.info().pid.to_string();
        let run_one = |i: usize| {
            let sandbox = &sandbox;
            async move {
                let out =
                    sandbox.run(Command::new("sh").args(["-c", "echo $0", &i.to_string()])).await.unwrap();
                assert_eq!(out.stdout, format!("{i}\n").into_bytes(), "process {i}");
            }
        };
        for i in 0..WARM_UP {
            run_one(i).await;
        }
        let (runner_before, client_before) = (held(&runner), held("self"));
        for i in WARM_UP..SPAWNS {
            run_one(i).await;
        }
        let (runner_after, client_after) = (held(&runner), held("self"));
        eprintln!(
            "after {WARM_UP} and {SPAWNS} spawns: runner fds {} -> {}, RSS {} -> {} KiB; \
             client fds {} -> {}, RSS {} -> {} KiB",
            runner_before.0,
            runner_after.0,
            runner_before.1,
            runner_after.1,
            client_before.0,
            client_after.0,
            client_before.1,
            client_after.1
        );
        assert!(
            runner_after.0 <= runner_before.0 + 2,
            "runner descriptors grew: {runner_before:?} -> {runner_after:?}"
        );
        assert!(
            client_after.0 <= client_before.0 + 2,
            "client descriptors grew: {client_before:?} -> {client_after:?}"
        );
        // 9,500 processes: even 1 KiB each kept would be 9 MiB.
        assert!(
            runner_after.1 <= runner_before.1 + 4096,
            "runner memory grew: {runner_before:?} -> {runner_after:?}"
        );
        assert!(
            client_after.1 <= client_before.1 + 4096,
            "client memory grew: {client_before:?} -> {client_after:?}"
        );
        assert!(sandbox.list().await.unwrap().is_empty(), "the runner still holds processes");
        sandbox.shutdown().await.unwrap();
    };
    tokio::time::timeout(std::time::Duration::from_secs(600), soak)
        .await
        .expect("the soak did not finish in 10 min");
}
