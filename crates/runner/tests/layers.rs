//! Each confining layer on its own. End to end the layers overlap: the
//! read-only remounts refuse the writes Landlock refuses, the PID namespace
//! hides the processes Landlock's signal scope and the seccomp ptrace rule
//! guard. So that each is shown to stop what it claims by itself, these
//! tests run the runner with one layer on and the others off
//! (`CORDON_TEST_ONLY_LAYER`, honoured only by builds with the
//! `layer-switch` feature: `cargo test -p cordon-runner --features
//! layer-switch --test layers`), and attack from inside as the escape
//! suite does.
#![cfg(target_os = "linux")]

mod common;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand};

use common::*;
use cordon::{Command, LaunchOptions, Output, PolicyBuilder, Preset, Sandbox};
use cordon_ipc::LayerState;

/// The layers that can be switched off.
const SWITCHABLE: [&str; 3] = ["namespaces", "landlock", "seccomp"];

/// A runner with only `layer` on; `None`, said on stderr, where this
/// machine lacks that layer.
struct OneLayer {
    sandbox: Sandbox,
    workspace: tempfile::TempDir,
    outside: tempfile::TempDir,
    _wrapper: tempfile::TempDir,
}

async fn only(test: &str, layer: &str) -> Option<OneLayer> {
    let wrapper = tempfile::tempdir().unwrap();
    let script = wrapper.path().join("runner");
    std::fs::write(&script, format!("#!/bin/sh\nCORDON_TEST_ONLY_LAYER={layer} exec {RUNNER} \"$@\"\n"))
        .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (workspace, outside) = (host_scratch(), host_scratch());
    std::fs::write(outside.path().join("keep.txt"), "original\n").unwrap();
    let policy = PolicyBuilder::new(Preset::WorkspaceWrite).cwd(workspace.path()).build().unwrap();
    let sandbox = Sandbox::launch(LaunchOptions::new(policy).runner(&script)).await.expect("launch");
    let layers = &sandbox.info().sandbox.layers;
    for name in SWITCHABLE {
        let state = layers.iter().find(|l| l.name == name).map(|l| (l.state, l.detail.clone()));
        match state {
            Some((LayerState::Active, _)) if name == layer => {}
            Some((state, detail)) if name == layer => {
                eprintln!("SKIPPED {test}: the {layer} layer is not in force here: {state:?} {detail}");
                return None;
            }
            Some((_, detail)) => assert!(detail.contains("off (CORDON_TEST_ONLY_LAYER"), "{name}: {detail}"),
            None => panic!("the report has no {name} layer: {layers:?}"),
        }
    }
    Some(OneLayer { sandbox, workspace, outside, _wrapper: wrapper })
}

impl OneLayer {
    async fn sh(&self, script: &str) -> Output {
        let command = Command::new("sh")
            .arg("-c")
            .arg(script)
            .cwd(self.workspace.path())
            .env("OUT", self.outside.path().to_str().unwrap())
            .timeout(std::time::Duration::from_secs(20));
        self.sandbox.run(command).await.unwrap()
    }

    fn keep(&self) -> PathBuf {
        self.outside.path().join("keep.txt")
    }
}

/// The attack failed, with one of `errors` in its output.
fn refused(out: &Output, errors: &[&str]) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "the attack succeeded:\n{text}");
    assert!(errors.iter().any(|e| text.contains(e)), "refused, but not with {errors:?}:\n{text}");
    text
}

/// A host process outside the sandbox, killed at the end.
struct Outside(Child);

impl Outside {
    fn start() -> Outside {
        Outside(StdCommand::new("sleep").arg("60").spawn().unwrap())
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn unchanged(path: &Path) {
    assert_eq!(std::fs::read_to_string(path).unwrap(), "original\n", "{} changed", path.display());
}

#[tokio::test]
async fn landlock_alone_refuses_writes_outside_the_writable_roots() {
    const TEST: &str = "landlock_alone_refuses_writes_outside_the_writable_roots";
    bounded(TEST, async {
        let Some(one) = only(TEST, "landlock").await else { return };
        for script in
            ["echo pwned > \"$OUT/keep.txt\"", "echo pwned > \"$OUT/new.txt\"", "rm \"$OUT/keep.txt\""]
        {
            refused(&one.sh(script).await, &["Permission denied"]);
        }
        unchanged(&one.keep());
        assert!(!one.outside.path().join("new.txt").exists());
        // The workspace is still writable.
        assert!(one.sh("echo made > made.txt").await.status.success());
        one.sandbox.shutdown().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn landlock_alone_refuses_a_signal_to_a_process_outside() {
    const TEST: &str = "landlock_alone_refuses_a_signal_to_a_process_outside";
    bounded(TEST, async {
        let Some(one) = only(TEST, "landlock").await else { return };
        if !one
            .sandbox
            .info()
            .sandbox
            .layers
            .iter()
            .any(|l| l.name == "landlock" && l.detail.contains("signals scoped"))
        {
            eprintln!("SKIPPED {TEST}: this kernel's Landlock has no signal scope (ABI 6)");
            return;
        }
        let mut outside = Outside::start();
        // No PID namespace: the host's pid is the one to aim at.
        let out = one.sh(&format!("kill -TERM {}", outside.pid())).await;
        refused(&out, &["Operation not permitted"]);
        assert!(outside.alive(), "the process outside was killed");
        // Its own processes it may still signal.
        assert!(one.sh("sleep 30 & kill -TERM $! && wait $!; echo $?").await.stdout.ends_with(b"143\n"));
        one.sandbox.shutdown().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn landlock_alone_refuses_an_abstract_socket_outside() {
    const TEST: &str = "landlock_alone_refuses_an_abstract_socket_outside";
    bounded(TEST, async {
        let Some(one) = only(TEST, "landlock").await else { return };
        if !one.sandbox.info().sandbox.layers.iter().any(|l| l.name == "landlock" && l.detail.contains("abstract unix sockets and signals scoped")) {
            eprintln!("SKIPPED {TEST}: this kernel's Landlock has no abstract socket scope (ABI 6)");
            return;
        }
        let name = format!("cordon-layers-{}", std::process::id());
        let _listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        let code = format!(
            "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('\\0{name}')\nprint('ESCAPED: connected')"
        );
        let out = one.sh(&format!("python3 -c \"{code}\"")).await;
        refused(&out, &["Operation not permitted"]);
        one.sandbox.shutdown().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn seccomp_alone_refuses_ptrace_and_set_id_bits() {
    const TEST: &str = "seccomp_alone_refuses_ptrace_and_set_id_bits";
    bounded(TEST, async {
        let Some(one) = only(TEST, "seccomp").await else { return };
        let mut outside = Outside::start();
        let code = format!(
            "import ctypes, os\n\
             libc = ctypes.CDLL(None, use_errno=True)\n\
             if libc.ptrace(16, {pid}, 0, 0) == 0: print('ESCAPED: attached')\n\
             else: raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))",
            pid = outside.pid()
        );
        refused(&one.sh(&format!("python3 -c \"{code}\"")).await, &["Operation not permitted"]);
        assert!(outside.alive());
        // A setuid file left in the workspace for someone to run later.
        let out = one.sh("cp /bin/true ./t && chmod u+s ./t").await;
        refused(&out, &["Operation not permitted"]);
        let mode =
            std::fs::metadata(one.workspace.path().join("t")).map(|m| m.permissions().mode()).unwrap_or(0);
        assert_eq!(mode & 0o4000, 0, "the setuid bit is set: {mode:o}");
        one.sandbox.shutdown().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn namespaces_alone_hide_the_hosts_processes_and_keep_the_host_read_only() {
    const TEST: &str = "namespaces_alone_hide_the_hosts_processes_and_keep_the_host_read_only";
    bounded(TEST, async {
        let Some(one) = only(TEST, "namespaces").await else { return };
        let mut outside = Outside::start();
        refused(&one.sh(&format!("kill -TERM {}", outside.pid())).await, &["No such process"]);
        assert!(outside.alive());
        // The read-only remounts, without Landlock.
        refused(&one.sh("echo pwned > \"$OUT/keep.txt\"").await, &["Read-only file system"]);
        unchanged(&one.keep());
        assert!(one.sh("echo made > made.txt").await.status.success());
        one.sandbox.shutdown().await.unwrap();
    })
    .await
}
