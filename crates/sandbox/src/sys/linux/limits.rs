//! Resource limits: rlimits on the runner (inherited by everything it
//! spawns), and a cgroup where one can be created — v2 where the unified
//! hierarchy is mounted at `/sys/fs/cgroup`, else the v1 pids and memory
//! controllers — since the kernel does not apply `RLIMIT_NPROC` to root.
//!
//! The limits a policy asks for fail the launch when they cannot be set;
//! its default limits are set where they can be, and the layer's detail
//! names those that could not (`default sandbox processes=4096 not applied
//! (…)`). A default process limit is a cgroup's only: `RLIMIT_NPROC` counts
//! every process of the user, inside the sandbox or not, so a default of it
//! would fail builds on a busy desktop and still not bound the sandbox.
//!
//! A v1 cgroup is made inside the one the runner was started in, so that
//! the limits of the launcher's own cgroup (a service's memory cap, say)
//! still hold the sandbox. Each cgroup made is removed at exit by the
//! supervisor ([`Joined::remove`]), and an empty one a killed supervisor
//! left is removed by the next launch.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cordon_ipc::SandboxLayer;
use nix::sys::resource::{Resource, getrlimit, setrlimit};

use super::{active, not_requested};
use crate::{Policy, Probe};

/// Where the cgroup v2 hierarchy, or the v1 hierarchies, are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How much a cgroup limit matters to the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Asked for, and nothing else enforces it: no cgroup fails the launch.
    Required,
    /// Asked for, and an rlimit enforces it too: the cgroup is a bonus.
    Optional,
    /// A default: applied where it can be.
    Default,
}

/// One limit that lives in a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CgroupLimit {
    /// The controller: `pids` or `memory`.
    controller: &'static str,
    /// Its value.
    value: u64,
    need: Need,
}

/// The cgroup's tasks that are not the commands': the runner and its
/// supervisor, one thread each.
pub const RUNNER_TASKS: u64 = 2;

impl CgroupLimit {
    /// The value the cgroup gets: a process limit counts the commands
    /// alone, so the runner's own tasks are added.
    fn in_cgroup(&self) -> u64 {
        if self.controller == "pids" { self.value.saturating_add(RUNNER_TASKS) } else { self.value }
    }

    /// How the detail names it.
    fn what(&self) -> &'static str {
        if self.controller == "pids" { "sandbox processes" } else { "sandbox memory" }
    }
}

/// Applies the policy's limits and its default limits.
pub fn apply(policy: &Policy) -> Result<SandboxLayer, String> {
    let (asked, defaults) = (&policy.limits, &policy.default_limits);
    if asked.is_empty() && defaults.is_empty() {
        return Ok(not_requested("limits", "no limits requested"));
    }
    let root = nix::unistd::geteuid().is_root();
    let mut applied = Vec::new();
    let mut not_applied = Vec::new();
    let mut errors = Vec::new();
    let rlimits = [
        (Resource::RLIMIT_NOFILE, "open files", asked.open_files, defaults.open_files),
        (Resource::RLIMIT_FSIZE, "file size", asked.file_size, defaults.file_size),
        (Resource::RLIMIT_CPU, "cpu seconds", asked.cpu_time, defaults.cpu_time),
        (Resource::RLIMIT_AS, "address space", asked.memory, defaults.memory),
    ];
    let mut command_limits = Vec::new();
    for (resource, what, asked, default) in rlimits {
        match (asked, default) {
            (Some(value), _) => match settable(resource, value, root) {
                Ok(()) => {
                    command_limits.push(CommandLimit { resource, soft: value, hard: value });
                    applied.push(format!("{what}={value}"));
                }
                Err(e) => errors.push(format!("setrlimit {what}: {e}")),
            },
            (None, Some(value)) => match lowered(resource, value) {
                Ok(limit) => {
                    command_limits.push(limit);
                    applied.push(format!("{what}={} (default)", limit.hard));
                }
                Err(e) => not_applied.push(format!("default {what}={value} not applied (getrlimit: {e})")),
            },
            (None, None) => {}
        }
    }
    if !root && let Some(value) = asked.processes {
        // Counts every process of the user, not just the sandbox's.
        match settable(Resource::RLIMIT_NPROC, value, root) {
            Ok(()) => {
                command_limits.push(CommandLimit {
                    resource: Resource::RLIMIT_NPROC,
                    soft: value,
                    hard: value,
                });
                applied.push(format!("processes (per user)={value}"));
            }
            Err(e) => errors.push(format!("setrlimit processes (per user): {e}")),
        }
    }
    if !command_limits.is_empty() {
        applied.push("per-process limits on each command, not the runner".into());
    }
    let _ = COMMAND_LIMITS.set(command_limits);
    let mut cgroup = Vec::new();
    match (asked.processes, defaults.processes) {
        (Some(value), _) => {
            let need = if root { Need::Required } else { Need::Optional };
            cgroup.push(CgroupLimit { controller: "pids", value, need });
        }
        (None, Some(value)) => cgroup.push(CgroupLimit { controller: "pids", value, need: Need::Default }),
        (None, None) => {}
    }
    match (asked.total_memory(), defaults.total_memory()) {
        (Some(value), _) => {
            // `memory` alone is enforced per process by RLIMIT_AS too;
            // `sandbox_memory` only by the cgroup.
            let need = if asked.sandbox_memory.is_some() { Need::Required } else { Need::Optional };
            cgroup.push(CgroupLimit { controller: "memory", value, need });
        }
        (None, Some(value)) => cgroup.push(CgroupLimit { controller: "memory", value, need: Need::Default }),
        (None, None) => {}
    }
    let mut dirs = Vec::new();
    for (limit, outcome) in cgroup.iter().zip(join_cgroup(&cgroup)) {
        let (what, value) = (limit.what(), limit.value);
        match (outcome, limit.need) {
            (Ok(dir), need) => {
                let default = if need == Need::Default { " (default)" } else { "" };
                applied.push(format!("{what}={value}{default}"));
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
            (Err(err), Need::Required) if limit.controller == "pids" => {
                errors.push(format!("the process limit needs a pids cgroup as root, and {err}"));
            }
            (Err(err), Need::Required) => {
                errors.push(format!("the sandbox memory limit needs a memory cgroup, and {err}"));
            }
            (Err(err), Need::Optional) => applied.push(format!("no cgroup ({err})")),
            (Err(err), Need::Default) => {
                not_applied.push(format!("default {what}={value} not applied ({err})"))
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    applied.extend(dirs.iter().map(|dir| format!("cgroup {}", dir.display())));
    applied.extend(not_applied);
    Ok(active("limits", applied.join(", ")))
}

/// A per-process limit of the commands. It is set in each command between
/// fork and exec ([`limit_command`]), not on the runner, so that a tight
/// limit (a few open files, little address space) never starves the
/// runner itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CommandLimit {
    resource: Resource,
    soft: u64,
    hard: u64,
}

/// The limits [`limit_command`] sets, once the layer has run.
static COMMAND_LIMITS: OnceLock<Vec<CommandLimit>> = OnceLock::new();

/// The open-file limit the runner was started with, which its commands get
/// back unless the policy sets one ([`raise_open_files`]).
static INHERITED_OPEN_FILES: OnceLock<(u64, u64)> = OnceLock::new();

/// Whether `resource` may be set to `value` in the commands: above the hard
/// limit the runner inherited only by root.
fn settable(resource: Resource, value: u64, root: bool) -> Result<(), String> {
    let (_, hard) = getrlimit(resource).map_err(|e| e.to_string())?;
    if value > hard && !root {
        return Err(format!("{value} is above the hard limit of {hard}, which only root may raise"));
    }
    Ok(())
}

/// A default lowered to fit: never above the hard limit the runner
/// inherited (which only root could raise), nor the soft limit above its
/// inherited value.
fn lowered(resource: Resource, value: u64) -> nix::Result<CommandLimit> {
    let (soft, hard) = match resource {
        Resource::RLIMIT_NOFILE => match INHERITED_OPEN_FILES.get() {
            Some(&inherited) => inherited,
            None => getrlimit(resource)?,
        },
        _ => getrlimit(resource)?,
    };
    let value = value.min(hard);
    Ok(CommandLimit { resource, soft: soft.min(value), hard: value })
}

/// Raises the runner's own open-file soft limit to its hard limit: each
/// process it runs holds a few of its descriptors (pipes, a PTY, a pidfd),
/// so the usual soft limit of 1024 would cap it at a few hundred processes.
/// Its commands get the inherited limit back ([`limit_command`]). Call it
/// before any other layer.
pub fn raise_open_files() {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else { return };
    if INHERITED_OPEN_FILES.set((soft, hard)).is_ok() && soft < hard {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Sets the policy's per-process limits, and the open-file limit the runner
/// inherited unless the policy sets one, on the calling process: a command
/// between fork and exec. Only reads what the layer stored and calls
/// setrlimit(2), which is async-signal-safe.
pub fn limit_command() -> std::io::Result<()> {
    let limits = COMMAND_LIMITS.get().map(Vec::as_slice).unwrap_or_default();
    for limit in limits {
        setrlimit(limit.resource, limit.soft, limit.hard)?;
    }
    if !limits.iter().any(|limit| limit.resource == Resource::RLIMIT_NOFILE)
        && let Some(&(soft, hard)) = INHERITED_OPEN_FILES.get()
    {
        setrlimit(Resource::RLIMIT_NOFILE, soft, hard)?;
    }
    Ok(())
}

/// Moves the runner into a cgroup with `limits`: `cordon/runner-PID` in the
/// unified hierarchy if `/sys/fs/cgroup` is one, else in the v1
/// hierarchies. Returns, for each limit, the cgroup that holds it or why
/// none does.
fn join_cgroup(limits: &[CgroupLimit]) -> Vec<Result<PathBuf, String>> {
    if limits.is_empty() {
        return Vec::new();
    }
    let root = Path::new(CGROUP_ROOT);
    if root.join("cgroup.controllers").exists() {
        join_unified(root, limits, std::process::id())
    } else {
        limits.iter().map(join_v1).collect()
    }
}

/// cgroup v2: enables the controllers the limits need on the way down
/// (`ROOT/cgroup.subtree_control`, then `ROOT/cordon/…`), creates
/// `ROOT/cordon/runner-PID` with `pids.max` and `memory.max` (and no swap
/// beyond it), and moves `pid` in. `ROOT/cordon` holds no process itself,
/// as the unified hierarchy requires of a cgroup that hands controllers on.
/// Empty cgroups of runners that are gone are removed on the way. A limit
/// whose controller the hierarchy lacks fails alone, before anything is
/// created for it.
fn join_unified(root: &Path, limits: &[CgroupLimit], pid: u32) -> Vec<Result<PathBuf, String>> {
    let available = match fs::read_to_string(root.join("cgroup.controllers")) {
        Ok(available) => available,
        Err(e) => {
            let err = format!("cannot read the cgroup v2 controllers: {e}");
            return limits.iter().map(|_| Err(err.clone())).collect();
        }
    };
    let has = |controller: &str| available.split_whitespace().any(|c| c == controller);
    let usable: Vec<&CgroupLimit> = limits.iter().filter(|l| has(l.controller)).collect();
    let joined = if usable.is_empty() { Err(String::new()) } else { join_unified_dir(root, &usable, pid) };
    limits
        .iter()
        .map(|limit| {
            if has(limit.controller) {
                joined.clone()
            } else {
                Err(format!("the cgroup v2 hierarchy has no {} controller", limit.controller))
            }
        })
        .collect()
}

/// [`join_unified`] for limits whose controllers the hierarchy has.
fn join_unified_dir(root: &Path, limits: &[&CgroupLimit], pid: u32) -> Result<PathBuf, String> {
    let parent = root.join("cordon");
    fs::create_dir_all(&parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    for dir in [root, parent.as_path()] {
        enable_controllers(dir, limits.iter().map(|l| l.controller))?;
    }
    sweep(&parent);
    let dir = parent.join(format!("runner-{pid}"));
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for limit in limits {
        let file = if limit.controller == "pids" { "pids.max" } else { "memory.max" };
        fs::write(dir.join(file), limit.in_cgroup().to_string()).map_err(|e| format!("{file}: {e}"))?;
        if limit.controller == "memory" {
            // Absent without swap accounting; then there is no swap to limit.
            let _ = fs::write(dir.join("memory.swap.max"), "0");
        }
    }
    let home = own_cgroup(root, "").map(|own| root.join(own));
    let held = home.and_then(|home| hold(&parent, &dir, &home));
    fs::write(dir.join("cgroup.procs"), pid.to_string())
        .map_err(|e| format!("joining {}: {e}", dir.display()))?;
    if pid == std::process::id()
        && let Some(held) = held
    {
        remember(held);
    }
    Ok(dir)
}

/// Adds `controllers` to `dir`'s `cgroup.subtree_control` unless they are
/// there already (writing the root's needs privileges a delegated user
/// lacks, though its controllers may well be enabled).
fn enable_controllers<'a>(dir: &Path, controllers: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let file = dir.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&file).unwrap_or_default();
    let missing: Vec<String> = controllers
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    fs::write(&file, missing.join(" "))
        .map_err(|e| format!("enabling {} in {}: {e}", missing.join(" "), dir.display()))
}

/// cgroup v1: creates `cordon/runner-PID` in the limit's hierarchy (pids or
/// memory), inside the cgroup the runner is in, sets the limit (for memory,
/// swap included where swap is accounted) and moves the runner in. Empty
/// cgroups of runners that are gone are removed on the way.
fn join_v1(limit: &CgroupLimit) -> Result<PathBuf, String> {
    let controller = limit.controller;
    let hierarchy = Path::new(CGROUP_ROOT).join(controller);
    if !hierarchy.join("cgroup.procs").exists() {
        return Err(format!("no cgroup v1 {controller} hierarchy is mounted"));
    }
    let me = std::process::id();
    let home = own_cgroup(&hierarchy, controller)
        .map(|own| hierarchy.join(own))
        .ok_or_else(|| format!("cannot tell this process's {controller} cgroup from /proc/self/cgroup"))?;
    let parent = home.join("cordon");
    fs::create_dir_all(&parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    sweep(&parent);
    let dir = parent.join(format!("runner-{me}"));
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let file = if controller == "pids" { "pids.max" } else { "memory.limit_in_bytes" };
    fs::write(dir.join(file), limit.in_cgroup().to_string()).map_err(|e| format!("{file}: {e}"))?;
    if controller == "memory" {
        // Absent without swap accounting; then there is no swap to limit.
        let _ = fs::write(dir.join("memory.memsw.limit_in_bytes"), limit.value.to_string());
    }
    let held = hold(&parent, &dir, &home);
    fs::write(dir.join("cgroup.procs"), me.to_string())
        .map_err(|e| format!("joining {}: {e}", dir.display()))?;
    if let Some(held) = held {
        remember(held);
    }
    Ok(dir)
}

/// The cgroup this process is in, relative to the hierarchy's mount point:
/// from the `/proc/self/cgroup` line of `controller` (v1), or the `0::`
/// line when `controller` is empty (v2). `None` when the line is missing
/// or names a path outside the hierarchy as mounted here.
fn own_cgroup(hierarchy: &Path, controller: &str) -> Option<PathBuf> {
    let table = fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own_cgroup_in(&table, controller)?;
    let relative = PathBuf::from(path.trim_start_matches('/'));
    hierarchy.join(&relative).is_dir().then_some(relative)
}

/// [`own_cgroup`]'s reading of a `/proc/PID/cgroup` table.
fn own_cgroup_in<'a>(table: &'a str, controller: &str) -> Option<&'a str> {
    table.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let matches = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        (matches && !path.contains("..")).then_some(path)
    })
}

/// A cgroup the runner made and joined, held open so that the supervisor
/// can remove it at exit: by then the mount namespace has made
/// `/sys/fs/cgroup` read-only, but descriptors opened before still reach
/// the host's mount.
#[derive(Debug)]
pub struct Joined {
    /// The directory the cgroup is in.
    parent: OwnedFd,
    /// The cgroup's name in it.
    name: String,
    /// `cgroup.procs` of the cgroup the runner came from: where the
    /// supervisor goes back to, since a cgroup with a member cannot go.
    home: fs::File,
}

/// The cgroups joined, until the namespace layer hands them to the
/// supervisor ([`take_joined`]).
static JOINED: Mutex<Vec<Joined>> = Mutex::new(Vec::new());

/// Opens what removing `dir` (in `parent`) will need, leaving `home`.
fn hold(parent: &Path, dir: &Path, home: &Path) -> Option<Joined> {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::Mode;
    let name = dir.file_name()?.to_str()?.to_string();
    let parent = open(parent, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).ok()?;
    let home = fs::OpenOptions::new().write(true).open(home.join("cgroup.procs")).ok()?;
    Some(Joined { parent, name, home })
}

fn remember(joined: Joined) {
    JOINED.lock().unwrap_or_else(|e| e.into_inner()).push(joined);
}

/// The cgroups this runner made, for the supervisor: [`Joined::remove`]
/// them once the runner is gone. Taken once; later calls get none.
pub fn take_joined() -> Vec<Joined> {
    std::mem::take(&mut *JOINED.lock().unwrap_or_else(|e| e.into_inner()))
}

impl Joined {
    /// The descriptors the supervisor must keep open.
    pub fn fds(&self) -> [RawFd; 2] {
        [self.parent.as_raw_fd(), self.home.as_raw_fd()]
    }

    /// Moves this process back to the cgroup it came from and removes the
    /// one it made. Call it once every other member is gone: a PID
    /// namespace's processes are all reaped before its init's parent sees
    /// it exit, but the kernel may take a moment to count the cgroup empty.
    pub fn remove(mut self) {
        use nix::errno::Errno;
        use nix::unistd::{UnlinkatFlags, unlinkat};
        if self.home.write_all(std::process::id().to_string().as_bytes()).is_err() {
            return;
        }
        for _ in 0..200 {
            match unlinkat(&self.parent, self.name.as_str(), UnlinkatFlags::RemoveDir) {
                Err(Errno::EBUSY) => std::thread::sleep(std::time::Duration::from_millis(5)),
                _ => return,
            }
        }
    }
}

/// Removes the empty cgroups of runners that have exited (rmdir refuses a
/// cgroup that still has processes).
fn sweep(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("runner-")) else { continue };
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir(entry.path());
        }
    }
}

/// Which cgroup hierarchies the machine has.
pub fn probe() -> Vec<Probe> {
    let v1 = |controller: &str| {
        let path = Path::new(CGROUP_ROOT).join(controller);
        let available = path.join("cgroup.procs").exists();
        let writable = available && nix::unistd::access(&path, nix::unistd::AccessFlags::W_OK).is_ok();
        Probe {
            name: format!("cgroup v1 {controller}"),
            available: writable,
            detail: match (available, writable) {
                (true, true) => format!("{} (writable)", path.display()),
                (true, false) => format!("{} (not writable by this user)", path.display()),
                _ => "not mounted".into(),
            },
        }
    };
    let root = Path::new(CGROUP_ROOT);
    let unified = match fs::read_to_string(root.join("cgroup.controllers")) {
        Err(_) => Probe {
            name: "cgroup v2".into(),
            available: false,
            detail: "not mounted at /sys/fs/cgroup (the v1 hierarchies are used)".into(),
        },
        Ok(controllers) => {
            let has = |c: &str| controllers.split_whitespace().any(|e| e == c);
            let writable = nix::unistd::access(root, nix::unistd::AccessFlags::W_OK).is_ok()
                || nix::unistd::access(&root.join("cordon"), nix::unistd::AccessFlags::W_OK).is_ok();
            Probe {
                name: "cgroup v2".into(),
                available: has("pids") && has("memory") && writable,
                detail: format!(
                    "controllers: {}; {}",
                    controllers.trim(),
                    if writable {
                        "writable"
                    } else {
                        "neither /sys/fs/cgroup nor its cordon/ writable by this user"
                    }
                ),
            }
        }
    };
    vec![unified, v1("pids"), v1("memory")]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory laid out like the root of a unified hierarchy.
    fn fake_unified(controllers: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cgroup.controllers"), controllers).unwrap();
        fs::write(root.path().join("cgroup.subtree_control"), "cpu\n").unwrap();
        root
    }

    fn read(path: PathBuf) -> String {
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn pids(value: u64) -> CgroupLimit {
        CgroupLimit { controller: "pids", value, need: Need::Required }
    }

    fn memory(value: u64) -> CgroupLimit {
        CgroupLimit { controller: "memory", value, need: Need::Default }
    }

    #[test]
    fn the_own_cgroup_is_read_per_controller_and_a_path_with_dots_is_refused() {
        let table = "9:name=systemd:/\n8:pids:/\n4:memory:/service/abc\n2:cpu,cpuacct:/x\n0::/user.slice\n";
        assert_eq!(own_cgroup_in(table, "memory"), Some("/service/abc"));
        assert_eq!(own_cgroup_in(table, "pids"), Some("/"));
        assert_eq!(own_cgroup_in(table, "cpuacct"), Some("/x"));
        assert_eq!(own_cgroup_in(table, ""), Some("/user.slice"));
        assert_eq!(own_cgroup_in(table, "blkio"), None);
        assert_eq!(own_cgroup_in("4:memory:/../../etc\n", "memory"), None);
    }

    #[test]
    fn unified_enables_controllers_on_the_way_down_and_moves_the_runner_in() {
        let root = fake_unified("cpu io memory pids\n");
        let outcomes = join_unified(root.path(), &[pids(64), memory(1 << 30)], 4242);
        let dir = root.path().join("cordon/runner-4242");
        assert_eq!(outcomes, [Ok(dir.clone()), Ok(dir.clone())]);
        assert_eq!(read(root.path().join("cgroup.subtree_control")), "+pids +memory");
        assert_eq!(read(root.path().join("cordon/cgroup.subtree_control")), "+pids +memory");
        assert_eq!(read(dir.join("pids.max")), (64 + RUNNER_TASKS).to_string(), "the commands' 64");
        assert_eq!(read(dir.join("memory.max")), "1073741824");
        assert_eq!(read(dir.join("memory.swap.max")), "0");
        assert_eq!(read(dir.join("cgroup.procs")), "4242");
    }

    #[test]
    fn unified_writes_nothing_to_a_subtree_control_that_has_the_controller() {
        let root = fake_unified("memory pids");
        fs::write(root.path().join("cgroup.subtree_control"), "memory pids\n").unwrap();
        let outcomes = join_unified(root.path(), &[pids(8)], 7);
        assert!(outcomes[0].is_ok(), "{outcomes:?}");
        assert_eq!(read(root.path().join("cgroup.subtree_control")), "memory pids\n");
        assert!(!root.path().join("cordon/runner-7/memory.max").exists());
    }

    #[test]
    fn unified_without_the_controller_is_refused_before_anything_is_created() {
        let root = fake_unified("cpu io");
        let outcomes = join_unified(root.path(), &[pids(8)], 7);
        let err = outcomes[0].as_ref().unwrap_err();
        assert!(err.contains("no pids controller"), "{err}");
        assert!(!root.path().join("cordon").exists());
    }

    #[test]
    fn unified_without_one_controller_still_sets_the_other() {
        let root = fake_unified("cpu memory");
        let outcomes = join_unified(root.path(), &[pids(8), memory(1 << 30)], 9);
        assert!(outcomes[0].as_ref().is_err_and(|e| e.contains("no pids controller")), "{outcomes:?}");
        let dir = root.path().join("cordon/runner-9");
        assert_eq!(outcomes[1], Ok(dir.clone()));
        assert_eq!(read(dir.join("memory.max")), "1073741824");
        assert!(!dir.join("pids.max").exists());
        assert_eq!(read(root.path().join("cgroup.subtree_control")), "+memory");
    }
}
