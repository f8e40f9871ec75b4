//! Namespaces: a new user namespace (mapping the runner's own uid and gid,
//! so files keep their owners), a mount namespace in which protected paths
//! are bind-mounted read-only over themselves, an IPC namespace, a PID
//! namespace with the caller as its init (see [`super::pid_namespace`]),
//! and — with the network off — a network namespace with only loopback.
//! Where the kernel refuses them (inside some containers, or an AppArmor
//! user namespace restriction), the other layers still apply.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use cordon_ipc::{LayerState, SandboxLayer};
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::prctl;
use nix::sys::statvfs::{FsFlags, statvfs};

use super::{active, pid_namespace};
use crate::{Policy, Probe};

/// Enters the namespaces and protects the protected paths. Forks: see
/// [`pid_namespace::become_init`].
pub fn apply(policy: &Policy) -> Result<SandboxLayer, String> {
    let uid = nix::unistd::geteuid();
    let gid = nix::unistd::getegid();
    // Entering a user namespace clears the parent-death signal; the
    // supervisor outside the PID namespace re-arms it.
    let death_signal = prctl::get_pdeathsig().ok().flatten();
    let parent = nix::unistd::getppid();
    // Read while this is still the host's network namespace: its sockets.
    let host_sockets = host_unix_sockets();
    let mut flags = CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC;
    if !policy.network {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    let mut entered = Vec::new();
    match unshare(flags) {
        Ok(()) => {
            map_own_ids(uid.as_raw(), gid.as_raw())?;
            entered.push(format!("user (uid {uid} and gid {gid} mapped to themselves)"));
        }
        // Root may create the others without a user namespace.
        Err(err) if uid.is_root() => {
            unshare(flags - CloneFlags::CLONE_NEWUSER)
                .map_err(|e| format!("unshare refused ({err}; without a user namespace: {e})"))?;
            entered.push(format!("no user namespace ({err})"));
        }
        Err(err) => return Err(format!("unshare(CLONE_NEWUSER|CLONE_NEWNS|…) refused: {err}")),
    }
    // Nothing mounted here may propagate back to the host.
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| format!("making / private: {e}"))?;
    let mount_points = mount_points()?;
    // Before the fork, so that the supervisor knows what to remove.
    let protection = protection_points(&policy.filesystem.protected)?;
    let pid_namespace = pid_namespace::fresh_proc_allowed(&mount_points)
        .and_then(|()| unshare(CloneFlags::CLONE_NEWPID).map_err(|e| format!("unshare(CLONE_NEWPID): {e}")));
    if pid_namespace.is_ok() {
        let placeholders = protection.placeholders.clone();
        pid_namespace::become_init(death_signal, parent, move || remove_placeholders(&placeholders))?;
    }
    let read_only = read_only_except(&policy.filesystem.write, &mount_points)?;
    // The working directory still points into the mount it was entered
    // through; enter it again by path, through the new mounts.
    if let Ok(cwd) = std::env::current_dir() {
        std::env::set_current_dir(&cwd).map_err(|e| format!("re-entering {}: {e}", cwd.display()))?;
    }
    for path in &protection.points {
        read_only_bind(path)?;
    }
    private_devpts()?;
    let shm = private_shm(policy.total_memory());
    let hidden = hide_sockets(&host_sockets, &policy.filesystem.write);
    if pid_namespace.is_ok() {
        pid_namespace::mount_fresh_proc()?;
    }
    let placeholders = match (protection.placeholders.len(), pid_namespace.is_ok()) {
        (0, _) => String::new(),
        (n, true) => format!(" ({n} of them absent, held by empty placeholders removed at exit)"),
        (n, false) => {
            format!(" ({n} of them absent, held by empty placeholders left in place: no supervisor)")
        }
    };
    entered.push(format!(
        "mount ({read_only} mounts read-only outside the writable roots, {} protected path(s) \
         read-only{placeholders}, private /dev/pts, {shm}, {hidden} host UNIX socket(s) outside the \
         writable roots hidden)",
        protection.points.len()
    ));
    entered.push("ipc".into());
    match &pid_namespace {
        Ok(()) => {
            entered.push("pid (the runner is init: its death kills every process inside; fresh /proc)".into())
        }
        Err(reason) => entered.push(format!("no pid namespace ({reason})")),
    }
    if !policy.network {
        match loopback_up() {
            Ok(()) => entered.push("net (loopback only)".into()),
            Err(err) => entered.push(format!("net (no interfaces; loopback down: {err})")),
        }
    }
    match pid_namespace {
        Ok(()) => Ok(active("namespaces", entered.join(", "))),
        // Everything else holds; what is lost is the guarantee that no
        // process outlives a runner killed outright.
        Err(_) => Ok(SandboxLayer {
            name: "namespaces".into(),
            state: LayerState::Partial,
            detail: entered.join(", "),
        }),
    }
}

/// What the layer's outcome changes for the layers after it. Without it
/// there is no private /dev/pts: the host's terminals are then denied
/// outright (and commands get no new PTYs). A /dev/shm of the sandbox's own
/// may be written; the host's never.
pub fn adjust(policy: &mut Policy, applied: bool) {
    if !applied {
        policy.filesystem.write.retain(|p| p != Path::new("/dev/pts"));
        policy.filesystem.deny.push("/dev/pts".into());
    }
    if private_shm_mounted() {
        policy.filesystem.write.push("/dev/shm".into());
    }
}

/// Writes the one-line id maps an unprivileged process may write for
/// itself.
fn map_own_ids(uid: u32, gid: u32) -> Result<(), String> {
    let write = |file: &str, content: String| {
        fs::write(Path::new("/proc/self").join(file), content)
            .map_err(|e| format!("writing /proc/self/{file}: {e}"))
    };
    write("setgroups", "deny".into())?;
    write("uid_map", format!("{uid} {uid} 1"))?;
    write("gid_map", format!("{gid} {gid} 1"))?;
    Ok(())
}

/// Makes every mount read-only except the writable roots, which are first
/// bind-mounted over themselves and so keep their own (writable) mounts.
/// Outside the writable roots nothing can then change, not even metadata
/// (modes, owners, times, extended attributes), which Landlock does not
/// cover. Returns how many mounts were made read-only.
fn read_only_except(write: &[PathBuf], mount_points: &[PathBuf]) -> Result<usize, String> {
    let writable: Vec<&PathBuf> = write.iter().filter(|p| !p.starts_with("/dev/pts") && p.exists()).collect();
    for root in &writable {
        mount(
            Some(root.as_path()),
            root.as_path(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| format!("bind-mounting writable root {}: {e}", root.display()))?;
    }
    let mut count = 0;
    for point in mount_points {
        if writable.iter().any(|root| point.starts_with(root)) {
            continue;
        }
        match remount_read_only(point) {
            Ok(()) => count += 1,
            Err(err) if point == Path::new("/") => return Err(err),
            // A mount hidden under another, or one the kernel keeps as it
            // is: Landlock still guards its contents.
            Err(_) => {}
        }
    }
    Ok(count)
}

/// Every mount point, from `/proc/self/mountinfo`, shallowest first.
fn mount_points() -> Result<Vec<PathBuf>, String> {
    let text = fs::read_to_string("/proc/self/mountinfo").map_err(|e| format!("reading mountinfo: {e}"))?;
    let mut points: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape(field)))
        .collect();
    points.sort_by_key(|p| p.components().count());
    points.dedup();
    Ok(points)
}

/// Undoes mountinfo's octal escapes (`\040` for a space, …).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Ok(value) = u8::from_str_radix(&field[i + 1..i + 4], 8)
        {
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where the protected paths are held read-only, and which of those places
/// the runner made.
struct Protection {
    /// What is bind-mounted read-only: each protected path that exists, and
    /// for one that does not, its first missing component.
    points: Vec<PathBuf>,
    /// The empty directories created at missing protected paths, to be
    /// removed once the sandbox is gone.
    placeholders: Vec<PathBuf>,
}

/// Makes every protected path something a read-only mount can hold: one
/// that does not exist gets an empty directory at its first missing
/// component, so the sandbox cannot create it (`git init`, a planted
/// `.envrc`) while it runs. A missing path whose directory the runner may
/// not write is skipped: the sandbox, with fewer rights, cannot create it
/// either.
fn protection_points(protected: &[PathBuf]) -> Result<Protection, String> {
    let mut points: Vec<PathBuf> = Vec::new();
    let mut placeholders = Vec::new();
    for path in protected {
        let Some(point) = first_missing_component(path) else {
            points.push(path.clone());
            continue;
        };
        // Only in a directory reached through no link: the placeholder must
        // land where the policy says.
        let parent = point.parent().unwrap_or(Path::new("/"));
        if fs::canonicalize(parent).ok().as_deref() != Some(parent) {
            continue;
        }
        match fs::create_dir(&point) {
            Ok(()) => placeholders.push(point.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(nix::libc::EACCES | nix::libc::EPERM | nix::libc::EROFS)
                ) =>
            {
                continue;
            }
            Err(e) => {
                return Err(format!("creating a placeholder at protected path {}: {e}", point.display()));
            }
        }
        points.push(point);
    }
    points.sort();
    points.dedup();
    Ok(Protection { points, placeholders })
}

/// The first component of `path` that does not exist (`None` if it all
/// does), below the deepest ancestor that does; `None` too if that
/// ancestor is not a directory, since nothing can be created there.
fn first_missing_component(path: &Path) -> Option<PathBuf> {
    if fs::symlink_metadata(path).is_ok() {
        return None;
    }
    let mut missing = path.to_path_buf();
    while let Some(parent) = missing.parent() {
        match fs::symlink_metadata(parent) {
            Ok(meta) if meta.is_dir() => return Some(missing),
            Ok(_) => return None,
            Err(_) => missing = parent.to_path_buf(),
        }
    }
    None
}

/// Removes the placeholders once nothing in the sandbox is left to write
/// where they stood: each mount over one is detached, then the directory
/// removed if it is still empty (a host process may have put something in
/// it, which stays).
fn remove_placeholders(placeholders: &[PathBuf]) {
    for path in placeholders.iter().rev() {
        let _ = nix::mount::umount2(path.as_path(), nix::mount::MntFlags::MNT_DETACH);
        let _ = fs::remove_dir(path);
    }
}

/// Bind-mounts `path` over itself and remounts it read-only.
fn read_only_bind(path: &Path) -> Result<(), String> {
    mount(Some(path), path, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| format!("bind-mounting {}: {e}", path.display()))?;
    remount_read_only(path)
}

/// Remounts the mount at `path` read-only, keeping the flags it has (a user
/// namespace may not clear them).
fn remount_read_only(path: &Path) -> Result<(), String> {
    let fail = |what: &str, e: nix::Error| format!("{what} {}: {e}", path.display());
    let existing = statvfs(path).map_err(|e| fail("statvfs", e))?.flags();
    let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    for (from, to) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if existing.contains(from) {
            flags |= to;
        }
    }
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>).map_err(|e| fail("remounting read-only", e))
}

/// The pathname UNIX sockets bound in the current network namespace, from
/// `/proc/net/unix` (its last field, when it is a path).
fn host_unix_sockets() -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string("/proc/net/unix") else { return Vec::new() };
    let mut paths: Vec<PathBuf> = text
        .lines()
        .skip(1)
        .filter_map(|line| line.splitn(8, ' ').nth(7).map(str::trim))
        .filter(|path| path.starts_with('/'))
        .map(PathBuf::from)
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Mounts `/dev/null` over every host socket outside the writable roots:
/// Landlock has no right for connecting to (or sending to) a pathname UNIX
/// socket and seccomp cannot see the path, so the daemons' sockets (Docker,
/// D-Bus, an ssh agent, the journal) are taken out of the sandbox's view
/// instead. A connect then fails with ECONNREFUSED. Sockets bound after the
/// sandbox started are not covered. Returns how many were hidden.
fn hide_sockets(sockets: &[PathBuf], write: &[PathBuf]) -> usize {
    use std::os::unix::fs::FileTypeExt;
    sockets
        .iter()
        .filter(|path| !write.iter().any(|root| path.starts_with(root)))
        .filter(|path| fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_socket()))
        .filter(|path| {
            mount(Some("/dev/null"), path.as_path(), None::<&str>, MsFlags::MS_BIND, None::<&str>).is_ok()
        })
        .count()
}

/// Mounts a new devpts instance over `/dev/pts` (and its `ptmx` over
/// `/dev/ptmx`): the sandbox sees only the terminals it creates, never the
/// host's, whose slaves are other sessions' screens and keystrokes.
fn private_devpts() -> Result<(), String> {
    mount(
        Some("devpts"),
        "/dev/pts",
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(|e| format!("mounting a private devpts on /dev/pts: {e}"))?;
    mount(Some("/dev/pts/ptmx"), "/dev/ptmx", None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| format!("binding /dev/pts/ptmx over /dev/ptmx: {e}"))
}

/// Set once `/dev/shm` is a tmpfs of the sandbox's own.
static PRIVATE_SHM: AtomicBool = AtomicBool::new(false);

/// Whether `/dev/shm` is the sandbox's own, and so may be written.
fn private_shm_mounted() -> bool {
    PRIVATE_SHM.load(Ordering::Relaxed)
}

/// Mounts an empty tmpfs over `/dev/shm` (capped at the sandbox's memory
/// limit, asked for or default, if any): POSIX shared memory and semaphores (Python's multiprocessing,
/// browsers, test runners) need a writable `/dev/shm`, and the host's holds
/// other programs' shared memory, which the sandbox must neither read nor
/// write. On failure the host's stays, read-only, and the detail says so.
fn private_shm(memory_limit: Option<u64>) -> String {
    let path = Path::new("/dev/shm");
    if !path.is_dir() {
        return "no /dev/shm".into();
    }
    let options = match memory_limit {
        Some(bytes) => format!("mode=1777,size={bytes}"),
        None => "mode=1777".to_string(),
    };
    match mount(
        Some("tmpfs"),
        path,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(options.as_str()),
    ) {
        Ok(()) => {
            PRIVATE_SHM.store(true, Ordering::Relaxed);
            "private /dev/shm".into()
        }
        Err(e) => format!("the host's /dev/shm, read-only (a private one could not be mounted: {e})"),
    }
}

/// Brings `lo` up in the new network namespace.
fn loopback_up() -> Result<(), String> {
    use nix::libc;
    // SAFETY: a datagram socket used only for two interface ioctls, with a
    // zeroed ifreq naming "lo".
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let result = if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            Err(std::io::Error::last_os_error().to_string())
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) < 0 {
                Err(std::io::Error::last_os_error().to_string())
            } else {
                Ok(())
            }
        };
        libc::close(fd);
        result
    }
}

/// Which namespaces this process could create, tried in a short-lived
/// child so the caller is not affected.
pub fn probe() -> Vec<Probe> {
    let kinds = [
        ("user namespace", CloneFlags::CLONE_NEWUSER),
        ("mount namespace", CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS),
        ("network namespace", CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET),
        ("ipc namespace", CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWIPC),
        ("pid namespace", CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWPID),
    ];
    kinds
        .into_iter()
        .map(|(name, flags)| {
            let mut result = try_in_child(flags).map_err(|e| format!("refused: {e}"));
            // The runner's PID namespace also needs a /proc of its own.
            if flags.contains(CloneFlags::CLONE_NEWPID) && result.is_ok() {
                result = mount_points()
                    .and_then(|points| pid_namespace::fresh_proc_allowed(&points))
                    .map_err(|e| format!("can be created, but no /proc can be mounted for it: {e}"));
            }
            Probe {
                name: name.into(),
                available: result.is_ok(),
                detail: match result {
                    Ok(()) => "can be created".into(),
                    Err(e) => e,
                },
            }
        })
        .collect()
}

/// Forks, tries `unshare(flags)` in the child, reports its errno.
fn try_in_child(flags: CloneFlags) -> Result<(), nix::Error> {
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};
    // SAFETY: the child only calls unshare and _exit.
    match unsafe { fork() }? {
        ForkResult::Child => {
            let code = match unshare(flags) {
                Ok(()) => 0,
                Err(e) => e as i32,
            };
            unsafe { nix::libc::_exit(code) }
        }
        ForkResult::Parent { child } => match waitpid(child, None)? {
            WaitStatus::Exited(_, 0) => Ok(()),
            WaitStatus::Exited(_, code) => Err(nix::Error::from_raw(code)),
            _ => Err(nix::Error::ECHILD),
        },
    }
}
