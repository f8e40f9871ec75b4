//! Namespaces: a new user namespace (mapping the runner's own uid and gid,
//! so files keep their owners), a mount namespace (empty private `/tmp`,
//! `/var/tmp` and `/run` in place of the host's, with the policy's paths
//! bound back; everything outside the writable roots read-only; protected
//! paths bind-mounted read-only over themselves), an IPC namespace, a PID
//! namespace with the caller as its init (see [`super::pid_namespace`]),
//! and — with the network off — a network namespace with only loopback.
//! Where the kernel refuses them (inside some containers, or an AppArmor
//! user namespace restriction), the other layers still apply.

use std::fs;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use cordon_ipc::{LayerState, SandboxLayer};
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::prctl;
use nix::sys::statvfs::{FsFlags, statvfs};

use super::{active, limits, pid_namespace, placeholders};
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
    let host_mounts = mount_points()?;
    // Before the fork, so that the supervisor knows what to remove.
    let protection = placeholders::hold(&policy.filesystem.protected)?;
    // A denied path that does not exist yet must not be made inside either:
    // in a writable root it gets a placeholder too, hidden below.
    let missing_denied: Vec<PathBuf> = policy
        .filesystem
        .deny
        .iter()
        .filter(|path| fs::symlink_metadata(path).is_err())
        .filter(|path| policy.filesystem.writable_dirs().any(|root| path.starts_with(root)))
        .cloned()
        .collect();
    let denial = placeholders::hold(&missing_denied)?;
    let pid_namespace = pid_namespace::fresh_proc_allowed(&host_mounts)
        .and_then(|()| unshare(CloneFlags::CLONE_NEWPID).map_err(|e| format!("unshare(CLONE_NEWPID): {e}")));
    // Only a supervisor removes the cgroups; the runner lets go of them
    // (in the child they are dropped with the closure it never calls): a
    // descriptor of the launcher's cgroup has no place inside.
    let cgroups = limits::take_joined();
    if pid_namespace.is_ok() {
        let placeholders: Vec<PathBuf> =
            protection.placeholders.iter().chain(&denial.placeholders).cloned().collect();
        let keep: Vec<RawFd> = cgroups.iter().flat_map(|joined| joined.fds()).collect();
        pid_namespace::become_init(death_signal, parent, &keep, move || {
            placeholders::remove(&placeholders);
            cgroups.into_iter().for_each(limits::Joined::remove);
        })?;
    }
    // First the private directories, so that what is bound back into them
    // is made read-only (or kept writable) like everything else.
    let (private, kept) = private_dirs(policy)?;
    let bound_back: Vec<&PathBuf> = private.iter().flat_map(|dir| &dir.keep).collect();
    let own = PRIVATE_TEMP.get().cloned().unwrap_or_default();
    let read_only = read_only_except(&policy.filesystem.write, &bound_back, &own, &mount_points()?)?;
    // The working directory still points into the mount it was entered
    // through; enter it again by path, through the new mounts.
    if let Ok(cwd) = std::env::current_dir() {
        std::env::set_current_dir(&cwd).map_err(|e| format!("re-entering {}: {e}", cwd.display()))?;
    }
    // One in a private directory but not bound back is not there at all.
    let protected: Vec<&PathBuf> =
        protection.points.iter().filter(|path| !private.iter().any(|dir| dir.hides(path))).collect();
    for path in &protected {
        read_only_bind(path)?;
    }
    private_devpts()?;
    let shm = private_shm(policy.total_memory());
    let denied: Vec<PathBuf> = policy.filesystem.deny.iter().chain(&denial.points).cloned().collect();
    let masked = mask_denied(&denied);
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
        "mount ({}, {read_only} mounts read-only outside the writable roots, {} protected path(s) \
         read-only{placeholders}, {masked} denied path(s) behind empty read-only mounts ({} of them \
         absent, held by placeholders), private /dev/pts, \
         {shm}, {hidden} host UNIX socket(s) elsewhere hidden one by one (those listed at launch outside \
         the writable roots))",
        describe_private(&private, &kept),
        protected.len(),
        denial.placeholders.len()
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
    policy.filesystem.write.extend(PRIVATE_TEMP.get().into_iter().flatten().cloned());
    // Hidden by a mount, a denied path needs no Landlock rule expansion,
    // which would leave its parent unlistable (`ls ~` beside `~/.ssh`).
    if let Some(masked) = MASKED.get() {
        policy.filesystem.deny.retain(|path| !masked.contains(path));
    }
}

/// The denied paths hidden behind empty mounts.
static MASKED: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();

/// Where the empty, unreadable file that covers denied files is made: in
/// the sandbox's own `/dev/shm`, and removed again once bound.
const EMPTY_FILE: &str = "/dev/shm/.cordon-denied";

/// Covers every denied path that exists with an empty mount that no one
/// may read or write: a directory with a tiny read-only tmpfs of mode 000,
/// a file with a bind of an empty mode-000 file, remounted read-only. Reads
/// and listings fail with EACCES, writes with EROFS or EACCES, and the
/// directories around stay listable. A denied file is left to the Landlock
/// layer when there is no private `/dev/shm` to make the empty file in, as
/// is anything that cannot be mounted over. Returns how many were covered.
fn mask_denied(deny: &[PathBuf]) -> usize {
    use std::os::unix::fs::OpenOptionsExt;
    let mut sorted: Vec<&PathBuf> = deny.iter().collect();
    sorted.sort_by_key(|p| p.components().count());
    let mut masked: Vec<PathBuf> = Vec::new();
    let mut empty_file = None;
    for path in sorted {
        if masked.iter().any(|m| path.starts_with(m)) {
            masked.push(path.clone());
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(path) else { continue };
        let covered = if meta.is_dir() {
            mount(
                Some("tmpfs"),
                path.as_path(),
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY,
                Some("mode=000,size=4k,nr_inodes=16"),
            )
            .is_ok()
        } else if private_shm_mounted() {
            let source = empty_file.get_or_insert_with(|| {
                fs::OpenOptions::new().write(true).create_new(true).mode(0o000).open(EMPTY_FILE).is_ok()
            });
            *source
                && mount(Some(EMPTY_FILE), path.as_path(), None::<&str>, MsFlags::MS_BIND, None::<&str>)
                    .is_ok()
                && remount_read_only(path).is_ok()
        } else {
            false
        };
        if covered {
            masked.push(path.clone());
        }
    }
    if empty_file == Some(true) {
        let _ = fs::remove_file(EMPTY_FILE);
    }
    let count = masked.len();
    let _ = MASKED.set(masked);
    count
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
/// bind-mounted over themselves (unless `bound_back` into a private
/// directory, which made them mounts of their own already) and so keep
/// their own (writable) mounts. The mounts at `own` (the sandbox's own
/// temp directories) stay writable too, but not what is mounted inside
/// them. Outside the writable roots nothing can then change, not even
/// metadata (modes, owners, times, extended attributes), which Landlock
/// does not cover. Returns how many mounts were made read-only.
fn read_only_except(
    write: &[PathBuf],
    bound_back: &[&PathBuf],
    own: &[PathBuf],
    mount_points: &[PathBuf],
) -> Result<usize, String> {
    let writable: Vec<&PathBuf> = write.iter().filter(|p| !p.starts_with("/dev/pts") && p.exists()).collect();
    for root in writable.iter().filter(|root| !bound_back.contains(root)) {
        mount(
            Some(root.as_path()),
            root.as_path(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| format!("bind-mounting writable root {}: {e}", root.display()))?;
    }
    // Inside, nothing set-id or device-like in a writable root works (a
    // file made setuid before the sandbox started included); the devices
    // the policy makes writable are devices.
    for root in writable.iter().filter(|root| !root.starts_with("/dev")) {
        remount(root, MsFlags::MS_NOSUID | MsFlags::MS_NODEV)?;
    }
    let mut count = 0;
    for point in mount_points {
        if writable.iter().any(|root| point.starts_with(root)) || own.contains(point) {
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

/// Bind-mounts `path` over itself and remounts it read-only.
fn read_only_bind(path: &Path) -> Result<(), String> {
    mount(Some(path), path, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| format!("bind-mounting {}: {e}", path.display()))?;
    remount_read_only(path)
}

/// Remounts the mount at `path` read-only, keeping the flags it has (a user
/// namespace may not clear them).
fn remount_read_only(path: &Path) -> Result<(), String> {
    remount(path, MsFlags::MS_RDONLY)
}

/// Remounts the bind mount at `path` with `extra` flags on top of the ones
/// it has (a user namespace may not clear them).
fn remount(path: &Path, extra: MsFlags) -> Result<(), String> {
    let fail = |what: &str, e: nix::Error| format!("{what} {}: {e}", path.display());
    let existing = statvfs(path).map_err(|e| fail("statvfs", e))?.flags();
    let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | extra;
    for (from, to) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
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
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>).map_err(|e| fail("remounting", e))
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

/// Mounts `/dev/null` over every host socket outside the writable roots
/// that is still in view after [`private_dirs`] (under `/var/lib`, a home
/// directory, a path bound back): Landlock before ABI 9 has no right for
/// connecting to (or sending to) a pathname UNIX socket and seccomp cannot
/// see the path. A connect then fails with ECONNREFUSED. This covers only
/// what `/proc/net/unix` lists by absolute path at launch: a socket bound
/// later, one unlinked and bound again on the host (which detaches the
/// mount over it), or one bound by a relative path is not hidden. Returns
/// how many were hidden.
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

/// The host directories where daemons keep their sockets (`/run`, and
/// `/var/run` where it is a directory of its own rather than a link to
/// `/run`) and programs, and other sessions, their temporary files (`/tmp`,
/// `/var/tmp`), with the mode of the empty tmpfs put in place of each.
const PRIVATE_DIRS: &[(&str, &str)] =
    &[("/tmp", "1777"), ("/var/tmp", "1777"), ("/run", "0755"), ("/var/run", "0755")];

/// The private temp directories the sandbox may write (see
/// [`PrivateDir::writable`]): the namespace's own, gone with it.
static PRIVATE_TEMP: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();

/// A host directory the sandbox gets an empty one of its own in place of,
/// and what of the host's is bound back into it at the same path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PrivateDir {
    path: PathBuf,
    mode: &'static str,
    /// The outermost paths to bind back (nothing nested in another).
    keep: Vec<PathBuf>,
    /// Whether the sandbox may write it: a temp directory (mode 1777)
    /// whose every path bound back is writable anyway. One holding a path
    /// the sandbox may only read stays read-only, so that Landlock, which
    /// can only grant a whole tree, never grants that path.
    writable: bool,
}

impl PrivateDir {
    /// Whether `path` is in this directory but not bound back: not there
    /// inside.
    fn hides(&self, path: &Path) -> bool {
        path.starts_with(&self.path) && !self.keep.iter().any(|kept| path.starts_with(kept))
    }
}

/// Puts an empty tmpfs (no setuid, no devices, capped at the memory limit
/// if any) over each of [`PRIVATE_DIRS`] that is a real directory, and
/// binds back into it, at the same path, what the sandbox must still see
/// there: the writable and read roots, the runner's working directory and
/// the directory of its executable, and what `/etc/resolv.conf` and
/// `/dev/shm` resolve to. Everything else of the host's there — its
/// sockets (even ones bound later, re-created or bound by a relative
/// path), other sessions' temp dirs and request files — does not exist
/// inside. A directory that is itself (or is inside) a writable root, or
/// that is itself one of the paths to keep, stays the host's (and is
/// returned, described, second).
///
/// Call it in the new mount namespace, before the read-only remounts: the
/// paths bound back then become read-only or stay writable like any other.
fn private_dirs(policy: &Policy) -> Result<(Vec<PrivateDir>, Vec<String>), String> {
    let fs = &policy.filesystem;
    let canonical = |path: &Path| fs::canonicalize(path).ok();
    let exe_dir = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf));
    let wanted: Vec<PathBuf> = fs
        .write
        .iter()
        .chain(&fs.read)
        .cloned()
        .chain(std::env::current_dir().ok())
        .chain(exe_dir)
        .chain(["/etc/resolv.conf".into(), "/dev/shm".into()])
        .filter_map(|path| canonical(&path))
        .collect();
    let writable: Vec<PathBuf> = fs.write.iter().filter_map(|path| canonical(path)).collect();
    let candidates: Vec<(PathBuf, &'static str)> = PRIVATE_DIRS
        .iter()
        .map(|&(path, mode)| (PathBuf::from(path), mode))
        .filter(|(path, _)| {
            fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir())
                && canonical(path).is_some_and(|real| &real == path)
        })
        .collect();
    let (private, kept) = plan_private_dirs(&candidates, &writable, &wanted);
    for dir in &private {
        mount_private_dir(dir, policy.total_memory())?;
    }
    let own: Vec<PathBuf> = private.iter().filter(|dir| dir.writable).map(|dir| dir.path.clone()).collect();
    let _ = PRIVATE_TEMP.set(own);
    Ok((private, kept))
}

/// Which of `candidates` become private, and what of each is bound back
/// (see [`private_dirs`]); the others are kept as the host's, with why.
fn plan_private_dirs(
    candidates: &[(PathBuf, &'static str)],
    writable: &[PathBuf],
    wanted: &[PathBuf],
) -> (Vec<PrivateDir>, Vec<String>) {
    let mut private = Vec::new();
    let mut kept = Vec::new();
    for (dir, mode) in candidates {
        if let Some(root) = writable.iter().find(|root| dir.starts_with(root)) {
            kept.push(format!("the host's {} (writable root {})", dir.display(), root.display()));
            continue;
        }
        if wanted.contains(dir) {
            kept.push(format!("the host's {} (named by the policy or the working directory)", dir.display()));
            continue;
        }
        let mut inside: Vec<&PathBuf> =
            writable.iter().chain(wanted).filter(|path| path.starts_with(dir)).collect();
        inside.sort();
        inside.dedup();
        let keep: Vec<PathBuf> = inside
            .iter()
            .filter(|path| !inside.iter().any(|other| other != *path && path.starts_with(other)))
            .map(|path| path.to_path_buf())
            .collect();
        let writable =
            *mode == "1777" && keep.iter().all(|path| writable.iter().any(|root| path.starts_with(root)));
        private.push(PrivateDir { path: dir.clone(), mode, keep, writable });
    }
    (private, kept)
}

/// Mounts the tmpfs over `dir.path` and binds each of `dir.keep` back: each
/// is opened before (through the host's directory), and bound from its
/// descriptor after, onto a mount point made in the tmpfs.
fn mount_private_dir(dir: &PrivateDir, memory_limit: Option<u64>) -> Result<(), String> {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::{Mode, SFlag, fstat};
    use std::os::fd::{AsRawFd, OwnedFd};
    let opened: Vec<(&PathBuf, OwnedFd)> = dir
        .keep
        .iter()
        .map(|path| {
            open(path.as_path(), OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
                .map(|fd| (path, fd))
                .map_err(|e| format!("opening {} to bind it back: {e}", path.display()))
        })
        .collect::<Result<_, _>>()?;
    let options = match memory_limit {
        Some(bytes) => format!("mode={},size={bytes}", dir.mode),
        None => format!("mode={}", dir.mode),
    };
    mount(
        Some("tmpfs"),
        dir.path.as_path(),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(options.as_str()),
    )
    .map_err(|e| format!("mounting a private tmpfs on {}: {e}", dir.path.display()))?;
    for (path, fd) in opened {
        let is_dir = fstat(&fd)
            .map(|stat| SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let made = if is_dir {
            fs::create_dir_all(path)
        } else {
            path.parent().map_or(Ok(()), fs::create_dir_all).and_then(|()| fs::File::create(path).map(drop))
        };
        made.map_err(|e| {
            format!("making a mount point for {} in the private {}: {e}", path.display(), dir.path.display())
        })?;
        let source = format!("/proc/self/fd/{}", fd.as_raw_fd());
        mount(
            Some(source.as_str()),
            path.as_path(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| {
            format!("binding {} back into the private {}: {e}", path.display(), dir.path.display())
        })?;
    }
    Ok(())
}

/// The private directories, for the layer's detail.
fn describe_private(private: &[PrivateDir], kept: &[String]) -> String {
    let mut parts = Vec::new();
    if !private.is_empty() {
        let names: Vec<String> = private
            .iter()
            .map(|dir| {
                let access = if dir.writable { "writable" } else { "read-only" };
                format!("{} ({access})", dir.path.display())
            })
            .collect();
        let bound: usize = private.iter().map(|dir| dir.keep.len()).sum();
        parts.push(format!(
            "private empty {} (the host's sockets and files there absent; {bound} path(s) of the policy \
             and the runner bound back)",
            names.join(", ")
        ));
    }
    if !kept.is_empty() {
        parts.push(format!("kept: {}", kept.join(", ")));
    }
    if parts.is_empty() {
        return "no /tmp, /var/tmp or /run to make private".into();
    }
    parts.join(", ")
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
            // SAFETY: _exit ends the forked child without running the
            // parent's atexit handlers or destructors.
            unsafe { nix::libc::_exit(code) }
        }
        ForkResult::Parent { child } => match waitpid(child, None)? {
            WaitStatus::Exited(_, 0) => Ok(()),
            WaitStatus::Exited(_, code) => Err(nix::Error::from_raw(code)),
            _ => Err(nix::Error::ECHILD),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    /// [`PRIVATE_DIRS`] on a machine where `/var/run` links to `/run`.
    fn candidates() -> Vec<(PathBuf, &'static str)> {
        PRIVATE_DIRS.iter().filter(|(path, _)| *path != "/var/run").map(|&(p, m)| (p.into(), m)).collect()
    }

    #[test]
    fn the_outermost_paths_to_keep_are_bound_back() {
        let writable = paths(&["/tmp/ws", "/tmp/ws/sub", "/home/u/project", "/dev/null"]);
        let wanted = paths(&["/tmp/ws/sub/file", "/run/systemd/resolve/stub-resolv.conf", "/", "/tmp/cwd"]);
        let (private, kept) = plan_private_dirs(&candidates(), &writable, &wanted);
        assert!(kept.is_empty(), "{kept:?}");
        let dir = |path: &str, mode, keep: &[&str], writable| PrivateDir {
            path: path.into(),
            mode,
            keep: paths(keep),
            writable,
        };
        assert_eq!(
            private,
            [
                // Not writable: it holds /tmp/cwd, which is only readable.
                dir("/tmp", "1777", &["/tmp/cwd", "/tmp/ws"], false),
                dir("/var/tmp", "1777", &[], true),
                dir("/run", "0755", &["/run/systemd/resolve/stub-resolv.conf"], false),
            ]
        );
        assert!(private[0].hides(Path::new("/tmp/other/agent.sock")));
        assert!(private[0].hides(Path::new("/tmp/wsx")), "a sibling with a longer name");
        assert!(!private[0].hides(Path::new("/tmp/ws/.git")));
        assert!(!private[0].hides(Path::new("/home/u/project/.git")));
        assert!(private[2].hides(Path::new("/run/systemd/resolve/io.systemd.Resolve")));
    }

    #[test]
    fn a_private_temp_dir_is_writable_when_all_it_holds_is_writable_anyway() {
        let writable = paths(&["/tmp/ws", "/home/u/project"]);
        let (private, _) = plan_private_dirs(&candidates(), &writable, &paths(&["/tmp/ws/sub/file"]));
        let access: Vec<(&Path, bool)> =
            private.iter().map(|dir| (dir.path.as_path(), dir.writable)).collect();
        assert_eq!(
            access,
            [(Path::new("/tmp"), true), (Path::new("/var/tmp"), true), (Path::new("/run"), false)]
        );
    }

    #[test]
    fn a_directory_in_a_writable_root_or_named_itself_stays_the_hosts() {
        let (private, kept) = plan_private_dirs(&candidates(), &paths(&["/var"]), &paths(&["/tmp", "/var"]));
        assert_eq!(private.iter().map(|dir| dir.path.as_path()).collect::<Vec<_>>(), [Path::new("/run")]);
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept[0].contains("/tmp") && kept[1].contains("/var/tmp (writable root /var)"), "{kept:?}");
        let (private, kept) = plan_private_dirs(&candidates(), &paths(&["/"]), &[]);
        assert!(private.is_empty() && kept.len() == 3, "{private:?} {kept:?}");
    }
}
