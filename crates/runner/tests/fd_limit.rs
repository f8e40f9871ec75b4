#![cfg(target_os = "linux")]
//! The runner's own open-file limit against its commands'. A test binary
//! of its own: it lowers the process's open-file limit, which every thread
//! of a test binary shares.

mod common;

use common::*;
use cordon::{Command, Limits, PolicyBuilder, Preset};
use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// How many processes run at once; with a soft limit of 1024 and a few
/// descriptors per process the runner could hold only a few hundred.
const PROCESSES: usize = 1000;

#[tokio::test]
async fn a_thousand_processes_run_at_once_under_an_open_file_limit_of_1024() {
    const TEST: &str = "a_thousand_processes_run_at_once_under_an_open_file_limit_of_1024";
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if hard < 8192 {
        eprintln!(
            "SKIPPED {TEST}: the hard open-file limit is {hard}; the runner can raise its own only to that"
        );
        return;
    }
    // What `ulimit -n 1024` gives the runner: its soft limit, not the hard.
    setrlimit(Resource::RLIMIT_NOFILE, 1024, hard).unwrap();
    bounded(TEST, async {
        let sandbox = launch().await;
        let mut running = Vec::with_capacity(PROCESSES);
        for i in 0..PROCESSES {
            let command = Command::new("sh").arg("-c").arg("ulimit -n; exec sleep 60").stdin(true);
            match sandbox.spawn(command).await {
                Ok(process) => running.push(process),
                Err(err) => panic!("process {i} of {PROCESSES} could not start: {err}"),
            }
        }
        // Every one is alive and got the limit the runner was started with.
        for process in running.iter_mut().take(10) {
            let said = read_until(process, "\n").await;
            assert_eq!(said.trim(), "1024", "the command's open-file limit");
        }
        let listed = sandbox.list().await.unwrap();
        assert_eq!(listed.len(), PROCESSES, "processes the runner holds");
        sandbox.shutdown().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn a_tight_open_file_limit_binds_the_commands_not_the_runner() {
    const TEST: &str = "a_tight_open_file_limit_binds_the_commands_not_the_runner";
    bounded(TEST, async {
        let limits = Limits { open_files: Some(8), ..Limits::default() };
        let policy = PolicyBuilder::new(Preset::ReadOnly).limits(limits).best_effort(true).build().unwrap();
        let sandbox = cordon::Sandbox::launch(cordon::LaunchOptions::new(policy).runner(RUNNER))
            .await
            .expect("a runner whose commands may have 8 open files starts");
        // More processes at once than 8 descriptors could hold in the runner.
        let mut running = Vec::new();
        for _ in 0..20 {
            let command = Command::new("sh").arg("-c").arg("ulimit -n; exec sleep 60").stdin(true);
            running.push(sandbox.spawn(command).await.unwrap());
        }
        for process in &mut running {
            assert_eq!(read_until(process, "\n").await.trim(), "8");
        }
        assert_eq!(sandbox.list().await.unwrap().len(), 20);
        sandbox.shutdown().await.unwrap();
    })
    .await
}
