//! Resource limits: rlimits on the runner (inherited by everything it
//! spawns), and a cgroup where one can be created — v2 where the unified
//! hierarchy is mounted at `/sys/fs/cgroup`, else the v1 pids and memory
//! controllers — since the kernel does not apply `RLIMIT_NPROC` to root.

use std::fs;
use std::path::{Path, PathBuf};

use cordon_ipc::SandboxLayer;
use nix::sys::resource::{Resource, setrlimit};

use super::{active, not_requested};
use crate::{Limits, Policy, Probe};

/// Where the cgroup v2 hierarchy, or the v1 hierarchies, are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Applies the policy's limits.
pub fn apply(policy: &Policy) -> Result<SandboxLayer, String> {
    let limits = &policy.limits;
    if *limits == Limits::default() {
        return Ok(not_requested("limits", "no limits requested"));
    }
    let mut applied = Vec::new();
    let mut set = |resource: Resource, value: Option<u64>, what: &str| -> Result<(), String> {
        if let Some(value) = value {
            setrlimit(resource, value, value).map_err(|e| format!("setrlimit {what}: {e}"))?;
            applied.push(format!("{what}={value}"));
        }
        Ok(())
    };
    set(Resource::RLIMIT_NOFILE, limits.open_files, "open files")?;
    set(Resource::RLIMIT_FSIZE, limits.file_size, "file size")?;
    set(Resource::RLIMIT_CPU, limits.cpu_time, "cpu seconds")?;
    set(Resource::RLIMIT_AS, limits.memory, "address space")?;
    let root = nix::unistd::geteuid().is_root();
    if !root {
        // Counts every process of the user, not just the sandbox's.
        set(Resource::RLIMIT_NPROC, limits.processes, "processes (per user)")?;
    }
    if limits.processes.is_some() || limits.memory.is_some() {
        match join_cgroup(limits) {
            Ok(path) => applied.push(format!("cgroup {}", path.display())),
            Err(err) if root && limits.processes.is_some() => {
                return Err(format!("the process limit needs a pids cgroup as root, and {err}"));
            }
            Err(err) => applied.push(format!("no cgroup ({err})")),
        }
    }
    Ok(active("limits", applied.join(", ")))
}

/// Creates `cordon/runner-PID` in the unified hierarchy if `/sys/fs/cgroup`
/// is one, else in the v1 hierarchies.
fn join_cgroup(limits: &Limits) -> Result<PathBuf, String> {
    let root = Path::new(CGROUP_ROOT);
    if root.join("cgroup.controllers").exists() {
        join_unified(root, limits, std::process::id())
    } else {
        join_v1(limits)
    }
}

/// cgroup v2: enables the controllers the limits need on the way down
/// (`ROOT/cgroup.subtree_control`, then `ROOT/cordon/…`), creates
/// `ROOT/cordon/runner-PID` with `pids.max` and `memory.max` (and no swap
/// beyond it), and moves `pid` in. `ROOT/cordon` holds no process itself,
/// as the unified hierarchy requires of a cgroup that hands controllers on.
/// Empty cgroups of runners that are gone are removed on the way.
fn join_unified(root: &Path, limits: &Limits, pid: u32) -> Result<PathBuf, String> {
    let mut settings = Vec::new();
    if let Some(n) = limits.processes {
        settings.push(("pids", "pids.max", n));
    }
    if let Some(n) = limits.memory {
        settings.push(("memory", "memory.max", n));
    }
    let available = fs::read_to_string(root.join("cgroup.controllers"))
        .map_err(|e| format!("cannot read the cgroup v2 controllers: {e}"))?;
    for (controller, _, _) in &settings {
        if !available.split_whitespace().any(|c| c == *controller) {
            return Err(format!("the cgroup v2 hierarchy has no {controller} controller"));
        }
    }
    let parent = root.join("cordon");
    fs::create_dir_all(&parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    for dir in [root, parent.as_path()] {
        enable_controllers(dir, settings.iter().map(|(controller, _, _)| *controller))?;
    }
    sweep(&parent);
    let dir = parent.join(format!("runner-{pid}"));
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (_, file, value) in &settings {
        fs::write(dir.join(file), value.to_string()).map_err(|e| format!("{file}: {e}"))?;
    }
    if limits.memory.is_some() {
        // Absent without swap accounting; then there is no swap to limit.
        let _ = fs::write(dir.join("memory.swap.max"), "0");
    }
    fs::write(dir.join("cgroup.procs"), pid.to_string())
        .map_err(|e| format!("joining {}: {e}", dir.display()))?;
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

/// cgroup v1: creates `cordon/runner-PID` in the pids (and memory)
/// hierarchies, sets the limits and moves the runner in. Empty cgroups of
/// runners that are gone are removed on the way.
fn join_v1(limits: &Limits) -> Result<PathBuf, String> {
    let pids = Path::new(CGROUP_ROOT).join("pids");
    if !pids.join("cgroup.procs").exists() {
        return Err("no cgroup v1 pids hierarchy is mounted".into());
    }
    let me = std::process::id();
    let mut created = None;
    let controllers: &[(&str, Option<(&str, u64)>)] = &[
        ("pids", limits.processes.map(|n| ("pids.max", n))),
        ("memory", limits.memory.map(|n| ("memory.limit_in_bytes", n))),
    ];
    for (controller, setting) in controllers {
        let Some((file, value)) = setting else { continue };
        let parent = Path::new(CGROUP_ROOT).join(controller).join("cordon");
        fs::create_dir_all(&parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        sweep(&parent);
        let dir = parent.join(format!("runner-{me}"));
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        fs::write(dir.join(file), value.to_string()).map_err(|e| format!("{file}: {e}"))?;
        fs::write(dir.join("cgroup.procs"), me.to_string())
            .map_err(|e| format!("joining {}: {e}", dir.display()))?;
        created.get_or_insert(dir);
    }
    created.ok_or_else(|| "no cgroup limit requested".into())
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

    #[test]
    fn unified_enables_controllers_on_the_way_down_and_moves_the_runner_in() {
        let root = fake_unified("cpu io memory pids\n");
        let limits = Limits { processes: Some(64), memory: Some(1 << 30), ..Limits::default() };
        let dir = join_unified(root.path(), &limits, 4242).unwrap();
        assert_eq!(dir, root.path().join("cordon/runner-4242"));
        assert_eq!(read(root.path().join("cgroup.subtree_control")), "+pids +memory");
        assert_eq!(read(root.path().join("cordon/cgroup.subtree_control")), "+pids +memory");
        assert_eq!(read(dir.join("pids.max")), "64");
        assert_eq!(read(dir.join("memory.max")), "1073741824");
        assert_eq!(read(dir.join("memory.swap.max")), "0");
        assert_eq!(read(dir.join("cgroup.procs")), "4242");
    }

    #[test]
    fn unified_writes_nothing_to_a_subtree_control_that_has_the_controller() {
        let root = fake_unified("memory pids");
        fs::write(root.path().join("cgroup.subtree_control"), "memory pids\n").unwrap();
        let limits = Limits { processes: Some(8), ..Limits::default() };
        join_unified(root.path(), &limits, 7).unwrap();
        assert_eq!(read(root.path().join("cgroup.subtree_control")), "memory pids\n");
        assert!(!root.path().join("cordon/runner-7/memory.max").exists());
    }

    #[test]
    fn unified_without_the_controller_is_refused_before_anything_is_created() {
        let root = fake_unified("cpu io");
        let limits = Limits { processes: Some(8), ..Limits::default() };
        let err = join_unified(root.path(), &limits, 7).unwrap_err();
        assert!(err.contains("no pids controller"), "{err}");
        assert!(!root.path().join("cordon").exists());
    }
}
