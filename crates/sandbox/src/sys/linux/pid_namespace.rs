//! The PID namespace: the process that enforces the policy becomes the init
//! of a new PID namespace, so that its death — however it dies — makes the
//! kernel kill every process inside, daemons included.
//!
//! `unshare(CLONE_NEWPID)` only puts the caller's future children in the new
//! namespace, so the caller forks: the child carries on as the sandboxed
//! process (pid 1 inside) and the parent stays outside as its supervisor.
//! The supervisor keeps the pid the launcher knows, mirrors the child's exit
//! status, and dies with it; the child is killed when the supervisor dies.
//! Inside, a fresh `/proc` shows only the sandbox's processes. The host's
//! `/proc` stays reachable to the sandboxed process alone, through one kept
//! descriptor, to translate pids for reports to the outside.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cordon_ipc::oneshot::EXIT_CORDON_FAILED;
use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat};
use nix::libc;
use nix::mount::{MsFlags, mount};
use nix::sys::prctl;
use nix::sys::signal::{SigHandler, Signal, kill, signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};

/// The supervisor's pid, once the caller has moved into a PID namespace.
static SUPERVISOR: OnceLock<u32> = OnceLock::new();

/// The host's `/proc/self/fdinfo` of the process inside, opened before the
/// fresh `/proc` covered it.
static HOST_FDINFO: OnceLock<OwnedFd> = OnceLock::new();

/// Whether the caller is in a PID namespace of its own.
pub fn entered() -> bool {
    SUPERVISOR.get().is_some()
}

/// Whether a fresh `/proc` can be mounted for a new PID namespace. In a
/// user namespace the kernel allows it only while an existing `/proc` is
/// fully visible: nothing inherited may be mounted under it except on a
/// permanently empty directory, and under `/proc` that is
/// `sys/fs/binfmt_misc` alone. Container runtimes mount over `/proc/kcore`,
/// `/proc/sys` and others, which rules it out; tell before committing to a
/// namespace whose `/proc` could not be made to match.
pub fn fresh_proc_allowed(mount_points: &[PathBuf]) -> Result<(), String> {
    match covered_proc_entry(mount_points) {
        Some(point) => Err(format!("{} is mounted over (a container's masked /proc)", point.display())),
        None => Ok(()),
    }
}

/// The first of `mount_points` that covers part of `/proc`, if any.
fn covered_proc_entry(mount_points: &[PathBuf]) -> Option<&Path> {
    mount_points
        .iter()
        .map(PathBuf::as_path)
        .filter(|point| point.starts_with("/proc") && *point != Path::new("/proc"))
        .find(|point| *point != Path::new("/proc/sys/fs/binfmt_misc"))
}

/// Forks into the PID namespace the caller has just unshared. Returns in
/// the child, which is pid 1 there; the parent never returns: it supervises
/// the child until it exits, then exits the same way.
///
/// `death_signal` and `parent` are the caller's parent-death signal and
/// parent as they were before the namespace change cleared the signal: the
/// supervisor re-arms it, so that the launcher's death still ends the
/// sandbox. The supervisor closes every descriptor but those in `keep`,
/// and calls `at_exit` once the child is gone, before it exits. Call it
/// while single-threaded.
pub fn become_init(
    death_signal: Option<Signal>,
    parent: Pid,
    keep: &[RawFd],
    at_exit: impl FnOnce(),
) -> Result<(), String> {
    let (alive_read, alive_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
        .map_err(|e| format!("creating the supervisor pipe: {e}"))?;
    let supervisor = getpid();
    // SAFETY: the process is single-threaded (a documented requirement of
    // enforce), so the child may run arbitrary code.
    match unsafe { fork() }.map_err(|e| format!("forking into the PID namespace: {e}"))? {
        ForkResult::Parent { child } => {
            drop(alive_read);
            supervise(child, alive_write, death_signal, parent, keep, at_exit)
        }
        ForkResult::Child => {
            drop(alive_write);
            prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| format!("arming the death signal: {e}"))?;
            // The supervisor may have died before the line above: its end
            // of the pipe is then closed and the read sees end of file.
            let mut byte = [0u8];
            if nix::unistd::read(alive_read.as_fd(), &mut byte) != Err(Errno::EAGAIN) {
                // SAFETY: leaving at once, as the supervisor has.
                unsafe { libc::_exit(EXIT_CORDON_FAILED) };
            }
            let _ = SUPERVISOR.set(supervisor.as_raw() as u32);
            Ok(())
        }
    }
}

/// The supervisor's child, for [`kill_supervised`].
static SUPERVISED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// The supervisor's SIGTERM handler: kills the child outright (its PID
/// namespace with it).
extern "C" fn kill_supervised(_: libc::c_int) {
    let child = SUPERVISED.load(std::sync::atomic::Ordering::Relaxed);
    if child > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(child, libc::SIGKILL) };
    }
}

/// The supervisor: waits for the child, calls `at_exit`, and leaves the way
/// the child did.
fn supervise(
    child: Pid,
    alive: OwnedFd,
    death_signal: Option<Signal>,
    parent: Pid,
    keep: &[RawFd],
    at_exit: impl FnOnce(),
) -> ! {
    // Only the child may hold the channel and whatever else was inherited:
    // the launcher must see them close the moment the child is gone. Kept:
    // the pipe, and what `at_exit` needs.
    let mut kept: Vec<u32> = keep.iter().chain([&alive.as_raw_fd()]).map(|&fd| fd as u32).collect();
    kept.sort_unstable();
    kept.dedup();
    let mut next = 3u32;
    for fd in kept.into_iter().filter(|&fd| fd >= 3) {
        if fd > next {
            // SAFETY: closes descriptors this process no longer uses;
            // nothing in it runs again that could own one of them.
            unsafe { libc::syscall(libc::SYS_close_range, next, fd - 1, 0u32) };
        }
        next = fd + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, next, u32::MAX, 0u32) };
    // A terminal sends these to its whole foreground group; the command
    // inside decides what they mean, not the supervisor.
    // SAFETY: installing SIG_IGN runs no code in the handler.
    unsafe {
        let _ = signal(Signal::SIGINT, SigHandler::SigIgn);
        let _ = signal(Signal::SIGQUIT, SigHandler::SigIgn);
    }
    // SIGTERM (what the launcher's death delivers) kills the child (as the
    // namespace's init it heeds no SIGTERM of its own) and the supervisor
    // lives on to clean up after it.
    SUPERVISED.store(child.as_raw(), std::sync::atomic::Ordering::Relaxed);
    // SAFETY: the handler only calls kill(2), which is async-signal-safe.
    unsafe {
        let _ = signal(Signal::SIGTERM, SigHandler::Handler(kill_supervised));
    }
    if let Some(sig) = death_signal
        && (prctl::set_pdeathsig(sig).is_err() || getppid() != parent)
    {
        let _ = kill(child, Signal::SIGKILL);
    }
    let status = loop {
        match waitpid(child, None) {
            Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => break Ok(status),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => break Err(e),
        }
    };
    at_exit();
    match status {
        Ok(WaitStatus::Signaled(_, sig, _)) => {
            // SAFETY: restores the default action of the signal that ended
            // the child and raises it, so the launcher sees the same death;
            // _exit if it is one that does not kill.
            unsafe {
                let _ = signal(sig, SigHandler::SigDfl);
                libc::raise(sig as libc::c_int);
                libc::_exit(128 + sig as libc::c_int)
            }
        }
        // SAFETY: nothing of this process is left to clean up.
        Ok(WaitStatus::Exited(_, code)) => unsafe { libc::_exit(code) },
        // SAFETY: as above.
        _ => unsafe { libc::_exit(EXIT_CORDON_FAILED) },
    }
}

/// Keeps the host's view of this process's descriptors, then mounts a
/// fresh `/proc` for the namespace (read-only, like every mount outside the
/// writable roots). Call it in the child, before Landlock forbids mounting.
pub fn mount_fresh_proc() -> Result<(), String> {
    let fdinfo =
        open("/proc/self/fdinfo", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| format!("opening the host's /proc/self/fdinfo: {e}"))?;
    let _ = HOST_FDINFO.set(fdinfo);
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .map_err(|e| format!("mounting a /proc for the PID namespace: {e}"))
}

/// The descriptor the Landlock layer must grant reading beneath, if any:
/// the host's `/proc` is covered, so no path rule reaches it.
pub fn host_fdinfo() -> Option<std::os::fd::BorrowedFd<'static>> {
    HOST_FDINFO.get().map(|fd| fd.as_fd())
}

/// The pid the launcher knows the caller of `enforce` by: the supervisor's
/// when there is one.
pub fn launched_pid() -> u32 {
    SUPERVISOR.get().copied().unwrap_or_else(std::process::id)
}

/// `pid`, a process in this one's PID namespace, as the host numbers it:
/// read from the `Pid:` line of a pidfd's fdinfo in the host's `/proc`,
/// which the kernel gives in the namespace of that `/proc`. Outside a PID
/// namespace, `pid` itself.
pub fn host_pid(pid: u32) -> Result<u32, String> {
    let Some(fdinfo) = HOST_FDINFO.get() else { return Ok(pid) };
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0u32) };
    if raw < 0 {
        return Err(format!("pidfd_open({pid}): {}", Errno::last()));
    }
    // SAFETY: a fresh fd from the kernel, owned by nobody else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    let name = pidfd.as_raw_fd().to_string();
    let info = openat(fdinfo, name.as_str(), OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| format!("opening the host's fdinfo of a pidfd: {e}"))?;
    let text = std::io::read_to_string(fs::File::from(info))
        .map_err(|e| format!("reading the host's fdinfo of a pidfd: {e}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("Pid:"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| format!("no Pid line in the fdinfo of a pidfd: {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(paths: &[&str]) -> Vec<PathBuf> {
        paths.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn a_host_proc_with_binfmt_misc_allows_a_fresh_one() {
        let host = points(&["/", "/proc", "/proc/sys/fs/binfmt_misc", "/sys"]);
        assert_eq!(covered_proc_entry(&host), None);
    }

    #[test]
    fn a_container_masked_proc_is_detected() {
        for masked in ["/proc/kcore", "/proc/sys"] {
            let docker = points(&["/", "/proc", "/proc/sys/fs/binfmt_misc", masked, "/sys"]);
            assert_eq!(covered_proc_entry(&docker), Some(Path::new(masked)));
        }
    }
}
