//! Resource limits: rlimits on the runner (inherited by everything it
//! spawns), and a cgroup (v1 pids and memory controllers) where one can be
//! created, since the kernel does not apply `RLIMIT_NPROC` to root.

use std::fs;
use std::path::{Path, PathBuf};

use cordon_ipc::SandboxLayer;
use nix::sys::resource::{Resource, setrlimit};

use super::{active, not_requested};
use crate::{Limits, Policy, Probe};

/// Where cgroup v1 hierarchies are mounted.
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

/// Creates `cordon/runner-PID` in the v1 pids (and memory) hierarchies,
/// sets the limits and moves the runner in. Empty cgroups of runners that
/// are gone are removed on the way.
fn join_cgroup(limits: &Limits) -> Result<PathBuf, String> {
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
    vec![v1("pids"), v1("memory")]
}
