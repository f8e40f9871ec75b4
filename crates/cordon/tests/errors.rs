//! Which error a caller gets, against the real `cordon-runner`: a dead
//! runner is `RunnerGone` for every call, a refused spawn is `Spawn` and
//! leaves the sandbox working, and the operating system's error kind
//! survives wherever there is one.

#![cfg(unix)]

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use cordon::{Command, Error, Event, LaunchOptions, Policy, Sandbox, SpawnErrorKind};

fn runner() -> PathBuf {
    let path = cordon::locate_runner(None).expect("cordon-runner");
    assert!(path.is_file(), "{} is missing: build it first (cargo build -p cordon-runner)", path.display());
    path
}

async fn launch() -> Sandbox {
    Sandbox::launch(LaunchOptions::new(Policy::full_access()).runner(runner())).await.expect("launch")
}

/// No call may hang: a dead runner must fail calls promptly.
async fn within<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), fut).await.expect("did not finish within 20 s")
}

#[tokio::test]
async fn a_killed_runner_is_runner_gone_for_every_call() {
    let sandbox = launch().await;
    let mut cat = sandbox.spawn(Command::new("cat").stdin(true)).await.expect("spawn cat");
    let pid = nix::unistd::Pid::from_raw(sandbox.info().pid as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("kill the runner");

    let err = within(async {
        loop {
            match cat.next_event().await {
                Ok(Some(Event::Output { .. })) => continue,
                Ok(other) => panic!("expected the runner to be gone, got {other:?}"),
                Err(err) => break err,
            }
        }
    })
    .await;
    assert!(err.is_runner_gone(), "{err:?}");
    let Error::RunnerGone(gone) = &err else { panic!("expected RunnerGone, got {err:?}") };
    assert!(!gone.reason().is_empty());

    within(sandbox.closed()).await;
    let spawn = within(sandbox.spawn(Command::new("true"))).await.expect_err("spawn after the runner died");
    assert!(spawn.is_runner_gone(), "a dead runner is not a refused spawn: {spawn:?}");
    assert!(!matches!(spawn, Error::Spawn { .. }), "{spawn:?}");
    let write = within(cat.write_stdin("x")).await.expect_err("input after the runner died");
    assert!(write.is_runner_gone(), "{write:?}");
    let list = within(sandbox.list()).await.expect_err("list after the runner died");
    assert!(list.is_runner_gone(), "{list:?}");
}

#[tokio::test]
async fn a_missing_program_is_a_refused_spawn_with_its_os_error() {
    let sandbox = launch().await;
    for program in ["/nonexistent/cordon-test-program", "cordon-test-program-on-no-path"] {
        let err = within(sandbox.spawn(Command::new(program))).await.expect_err("spawn of a missing program");
        match &err {
            Error::Spawn { kind, os_code, .. } => {
                assert_eq!(*kind, SpawnErrorKind::NotFound, "{err}");
                assert_eq!(*os_code, Some(nix::libc::ENOENT), "{err}");
            }
            other => panic!("{program}: expected a refused spawn, got {other:?}"),
        }
        assert!(!err.is_runner_gone(), "{err:?}");
        assert_eq!(err.io_kind(), Some(io::ErrorKind::NotFound), "{err:?}");
    }
    // Only that spawn failed: the runner goes on.
    let out = within(sandbox.run(Command::new("true"))).await.expect("run after a refused spawn");
    assert!(out.status.success(), "{out:?}");
    within(sandbox.shutdown()).await.expect("shutdown");
}

#[tokio::test]
async fn a_program_without_execute_permission_is_refused_as_permission_denied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("script");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").expect("write script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let sandbox = launch().await;
    let err = within(sandbox.spawn(Command::new(&script))).await.expect_err("spawn of a non-executable file");
    assert!(matches!(err, Error::Spawn { kind: SpawnErrorKind::NotExecutable, .. }), "{err:?}");
    assert_eq!(err.io_kind(), Some(io::ErrorKind::PermissionDenied), "{err:?}");
    assert!(!err.is_runner_gone());
}

#[tokio::test]
async fn a_runner_that_cannot_be_started_keeps_the_os_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_a_runner = dir.path().join("cordon-runner");
    std::fs::write(&not_a_runner, "not a program").expect("write");
    std::fs::set_permissions(&not_a_runner, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = within(Sandbox::launch(LaunchOptions::new(Policy::full_access()).runner(&not_a_runner)))
        .await
        .expect_err("launch of a file that is not executable");
    match &err {
        Error::Io { source, .. } => assert_eq!(source.kind(), io::ErrorKind::PermissionDenied, "{err}"),
        other => panic!("expected the OS error of the start, got {other:?}"),
    }
    assert_eq!(err.io_kind(), Some(io::ErrorKind::PermissionDenied));
    assert!(err.to_string().contains(&not_a_runner.display().to_string()), "{err}");
    assert!(!err.is_runner_gone());
}

#[tokio::test]
async fn a_runner_that_exits_before_the_handshake_is_a_typed_handshake_failure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let quitter = dir.path().join("cordon-runner");
    std::fs::write(&quitter, "#!/bin/sh\nexit 7\n").expect("write");
    std::fs::set_permissions(&quitter, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let err = within(Sandbox::launch(LaunchOptions::new(Policy::full_access()).runner(&quitter)))
        .await
        .expect_err("launch of a runner that exits at once");
    match &err {
        Error::Handshake { failure, runner_status } => {
            assert!(
                matches!(failure, cordon::HandshakeError::Closed | cordon::HandshakeError::Channel(_)),
                "{failure:?}"
            );
            assert_eq!(runner_status.and_then(|s| s.code()), Some(7), "{err}");
        }
        other => panic!("expected a handshake failure, got {other:?}"),
    }
    assert!(err.to_string().contains("exit status: 7"), "{err}");
    assert!(!err.is_runner_gone());
}

#[tokio::test]
async fn a_runner_that_never_answers_times_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let silent = dir.path().join("cordon-runner");
    std::fs::write(&silent, "#!/bin/sh\nexec sleep 30\n").expect("write");
    std::fs::set_permissions(&silent, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let options = LaunchOptions::new(Policy::full_access())
        .runner(&silent)
        .handshake_timeout(Duration::from_millis(300));
    let err = within(Sandbox::launch(options)).await.expect_err("launch of a runner that never answers");
    let Error::Handshake { failure, .. } = &err else { panic!("expected a handshake failure, got {err:?}") };
    assert!(
        matches!(failure, cordon::HandshakeError::TimedOut(t) if *t == Duration::from_millis(300)),
        "{failure:?}"
    );
}
