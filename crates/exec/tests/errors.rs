//! How a call fails, against the real `cordon-runner`: a command that
//! cannot start is `ExecError::Spawn` and later calls still work; a dead
//! runner is `ExecError::SandboxGone` for every later call.

#![cfg(unix)]

use std::time::Duration;

use cordon::{LaunchOptions, Policy, Sandbox, SpawnErrorKind};
use cordon_exec::{ExecConfig, ExecError, ExecRequest, ExecSessions, SessionState};

async fn sessions(workspace: &tempfile::TempDir) -> ExecSessions {
    let runner = cordon::locate_runner(None).expect("cordon-runner (cargo build -p cordon-runner)");
    let sandbox =
        Sandbox::launch(LaunchOptions::new(Policy::full_access()).runner(runner)).await.expect("launch");
    ExecSessions::new(sandbox, ExecConfig { cwd: workspace.path().to_path_buf(), ..ExecConfig::default() })
}

fn exec(cmd: &str) -> ExecRequest {
    ExecRequest { cmd: cmd.into(), login: Some(false), ..Default::default() }
}

async fn within<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), fut).await.expect("did not finish within 20 s")
}

#[tokio::test]
async fn a_missing_shell_is_a_refused_spawn_and_the_sandbox_goes_on() {
    let workspace = tempfile::tempdir().expect("workspace");
    let sessions = sessions(&workspace).await;
    let request = ExecRequest { shell: Some("/nonexistent/cordon-test-shell".into()), ..exec("true") };
    match within(sessions.exec_command(request)).await {
        Err(ExecError::Spawn(err)) => {
            assert!(matches!(err, cordon::Error::Spawn { kind: SpawnErrorKind::NotFound, .. }), "{err:?}");
            assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound), "{err:?}");
        }
        other => panic!("expected a refused spawn, got {other:?}"),
    }
    let reply = within(sessions.exec_command(exec("true"))).await.expect("a command after the refusal");
    assert_eq!(reply.exit_code, Some(0), "{reply:?}");
}

#[tokio::test]
async fn a_killed_runner_is_the_sandbox_gone_not_a_failed_command() {
    let workspace = tempfile::tempdir().expect("workspace");
    let sessions = sessions(&workspace).await;
    let reply = within(sessions.exec_command(ExecRequest { yield_time_ms: Some(100), ..exec("sleep 30") }))
        .await
        .expect("start a session");
    assert!(matches!(reply.state, SessionState::Running | SessionState::AwaitingInput), "{reply:?}");
    let pid = sessions.sandbox().info().pid;
    let killed = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("kill");
    assert!(killed.success());
    within(sessions.sandbox().closed()).await;

    match within(sessions.exec_command(exec("true"))).await {
        Err(ExecError::SandboxGone(err)) => assert!(err.is_runner_gone(), "{err:?}"),
        other => panic!("expected the sandbox to be gone, got {other:?}"),
    }
}
