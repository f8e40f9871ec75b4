//! The legacy one-shot bootstrap: read (and delete) a JSON request file, run
//! the one command on the runner's own stdio, exit with its status.

use std::path::Path;
use std::time::Duration;

use cordon_ipc::OsBytes;
use cordon_ipc::oneshot::{self, EXIT_CORDON_FAILED, OneShotRequest};
use cordon_sandbox::Policy;

use crate::sys::{self, Reaper, SpawnSpec, StdioMode};

/// Runs the request in `path` and returns the exit status for the runner.
/// Every failure of cordon's own is printed to stderr and gives 125.
/// `parent` is the pid that started the runner, if known.
pub fn run(path: &Path, parent: Option<u32>) -> i32 {
    match load(path) {
        Ok(request) => execute(request, parent),
        Err(message) => {
            eprintln!("cordon-runner: {message}");
            EXIT_CORDON_FAILED
        }
    }
}

fn load(path: &Path) -> Result<OneShotRequest<Policy>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read request file {}: {e}", path.display()))?;
    std::fs::remove_file(path).map_err(|e| format!("cannot delete request file {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("malformed request file {}: {e}", path.display()))
}

fn execute(request: OneShotRequest<Policy>, parent: Option<u32>) -> i32 {
    if let Err(err) = cordon_sandbox::enforce(&request.policy) {
        eprintln!("cordon-runner: {err}");
        return EXIT_CORDON_FAILED;
    }
    if let Err(err) = sys::startup(parent) {
        eprintln!("cordon-runner: {err}");
        return EXIT_CORDON_FAILED;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("cordon-runner: cannot start the runtime: {err}");
            return EXIT_CORDON_FAILED;
        }
    };
    runtime.block_on(async move {
        // The request file is JSON: its arguments are text.
        let argv: Vec<OsBytes> = request.argv.iter().map(OsBytes::from).collect();
        let env = request.env.iter().map(|(k, v)| (OsBytes::from(k), OsBytes::from(v))).collect();
        let spec = SpawnSpec {
            argv: &argv,
            cwd: request.cwd.as_deref().map(Path::new),
            env: &env,
            stdio: StdioMode::Inherit,
        };
        let (reaper, mut termination) = match (Reaper::start(), sys::Termination::foreground()) {
            (Ok(r), Ok(t)) => (r, t),
            _ => {
                eprintln!("cordon-runner: cannot install signal handlers");
                return EXIT_CORDON_FAILED;
            }
        };
        let child = match sys::spawn(&spec) {
            Ok(child) => child,
            Err(err) => {
                eprintln!("cordon-runner: {}", err.message);
                return oneshot::spawn_failure_exit_code(err.kind);
            }
        };
        let mut exit = reaper.watch(&child);
        let timeout = async {
            match request.timeout_ms {
                Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(timeout);
        let mut timed_out = false;
        loop {
            tokio::select! {
                status = &mut exit => {
                    let status = status.unwrap_or(sys::ExitStatus { code: None, signal: None });
                    sys::kill_all_descendants();
                    return oneshot::exit_code(status.code, status.signal, timed_out);
                }
                _ = &mut timeout, if !timed_out => {
                    timed_out = true;
                    child.tree.kill();
                }
                _ = termination.recv() => child.tree.kill(),
            }
        }
    })
}
