//! Killing whole process trees.
//!
//! Every spawned process is made a child subreaper (the attribute survives
//! `execve`), so a descendant that calls `setsid` and double-forks is
//! re-parented to that process, not to init: the tree stays a tree under the
//! spawned pid, and walking `/proc` parent links finds all of it. To kill it
//! without racing a process that forks while we look, the tree is first
//! stopped (`SIGSTOP`) top-down until a walk finds nothing new, then killed.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use std::io;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, tcgetpgrp};

use super::Terminal;

/// Enough walks for any tree that is not forking faster than we stop it.
const MAX_WALKS: usize = 64;

/// A spawned process and its descendants, signalled and killed as one.
#[derive(Debug, Clone, Copy)]
pub struct ProcessTree {
    pid: u32,
}

impl ProcessTree {
    pub(super) fn new(pid: u32) -> Self {
        ProcessTree { pid }
    }

    /// Kills the process and every descendant of it.
    pub fn kill(&self) {
        kill_tree(self.pid)
    }

    /// Delivers `signal` the way a terminal would: to the terminal's
    /// foreground process group, or to the process's own group.
    pub fn signal(&self, signal: cordon_ipc::Signal, terminal: Option<&Terminal>) -> io::Result<()> {
        use cordon_ipc::Signal as S;
        let sig = match signal {
            S::Interrupt => Signal::SIGINT,
            S::Terminate => Signal::SIGTERM,
            S::Kill => Signal::SIGKILL,
            S::Hangup => Signal::SIGHUP,
        };
        let group = terminal.and_then(|t| tcgetpgrp(t.fd()).ok()).unwrap_or(Pid::from_raw(self.pid as i32));
        killpg(group, sig).map_err(io::Error::from)
    }
}

/// Kills `root` and every descendant of it.
fn kill_tree(root: u32) {
    let _ = kill(Pid::from_raw(root as i32), Signal::SIGSTOP);
    let members = stop_descendants(root);
    for pid in members.iter().copied().chain([root]) {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
}

/// How long the last sweep waits for what it killed to be gone.
const SWEEP_LIMIT: Duration = Duration::from_secs(5);

/// Kills every descendant of the calling process (the runner itself
/// survives) and reaps them, so that once the runner has exited its trees
/// are gone too: a killed process is not gone until it has been waited
/// for, and one merely signalled may still be running when the runner's
/// exit is seen.
///
/// The runner is a child subreaper (or the init of the sandbox's PID
/// namespace), so every descendant whose parent dies becomes its child:
/// "no child left" (`ECHILD`) means no descendant left. Gives up after
/// [`SWEEP_LIMIT`] (a process stuck in the kernel), saying so.
pub fn kill_all_descendants() {
    let deadline = Instant::now() + SWEEP_LIMIT;
    loop {
        for pid in stop_descendants(std::process::id()) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(Errno::ECHILD) => return,
                Err(err) => {
                    tracing::warn!(%err, "waitpid failed; not waiting for the killed processes");
                    return;
                }
            }
        }
        if Instant::now() >= deadline {
            tracing::warn!(left = ?descendants(std::process::id()), "killed processes still not gone");
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Stops every descendant of `root`, walking again until nothing new turns
/// up; returns them.
fn stop_descendants(root: u32) -> HashSet<u32> {
    let mut stopped = HashSet::new();
    for _ in 0..MAX_WALKS {
        let fresh: Vec<u32> = descendants(root).into_iter().filter(|p| !stopped.contains(p)).collect();
        if fresh.is_empty() {
            break;
        }
        for pid in fresh {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGSTOP);
            stopped.insert(pid);
        }
    }
    stopped
}

/// Every live descendant of `root`: from the kernel's per-thread
/// `children` lists where it has them (a walk of the tree alone), else from
/// the parent links of every process in `/proc`.
pub(crate) fn descendants(root: u32) -> Vec<u32> {
    if let Some(found) = descendants_from_children_files(root) {
        return found;
    }
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if let Some(ppid) = parent_of(pid) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        if let Some(kids) = children.get(&pid) {
            for &kid in kids {
                found.push(kid);
                queue.push(kid);
            }
        }
    }
    found
}

/// The walk through `/proc/PID/task/TID/children` (`CONFIG_PROC_CHILDREN`);
/// `None` if the kernel does not provide those files.
fn descendants_from_children_files(root: u32) -> Option<Vec<u32>> {
    if !Path::new(&format!("/proc/{root}/task/{root}/children")).exists() {
        return None;
    }
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        // A process that just exited has no task directory: no children.
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else { continue };
        for task in tasks.flatten() {
            let Ok(list) = fs::read_to_string(task.path().join("children")) else { continue };
            for kid in list.split_whitespace().filter_map(|k| k.parse::<u32>().ok()) {
                found.push(kid);
                queue.push(kid);
            }
        }
    }
    Some(found)
}

/// The parent pid from `/proc/PID/stat`, whose second field (the command
/// name) may itself contain spaces and parentheses.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_self_is_our_parent() {
        let me = std::process::id();
        assert_eq!(parent_of(me), Some(nix::unistd::getppid().as_raw() as u32));
    }

    #[test]
    fn descendants_finds_a_grandchild() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
            .unwrap();
        let grandchild: u32 = line.trim().parse().unwrap();
        let found = descendants(child.id());
        kill_tree(child.id());
        child.wait().unwrap();
        assert!(found.contains(&grandchild), "{found:?} lacks {grandchild}");
    }
}
