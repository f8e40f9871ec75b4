//! Enforcement, per platform. Each platform module provides:
//!
//! - `enforce(&Policy) -> Result<SandboxReport, EnforceError>`: confine the
//!   calling process (which must still be single-threaded) and everything it
//!   spawns afterwards, layer by layer, failing closed unless the policy asks
//!   for best effort.
//! - `probe() -> Vec<Probe>`: what the machine offers, for `cordon doctor`,
//!   without confining anything; `requirements(Preset) -> Vec<Requirement>`:
//!   the probes each way of running a preset needs.
//! - `launched_pid() -> u32` and `host_pid(u32) -> Result<u32, String>`:
//!   pids as the launcher sees them, where enforcing moved the process into
//!   a PID namespace.
//! - `limit_command() -> io::Result<()>`: the policy's per-process limits,
//!   set in a command between fork and exec.
//! - `physical_memory() -> Option<u64>`, `same_file(&Path, &Path) -> bool`
//!   and `only_root_may_write(&Path) -> bool`: what the policy builder asks
//!   of the host (the default memory limit; `$PWD` against the working
//!   directory; whether a symbolic link sits where no sandbox could have
//!   planted it).

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{
    enforce, host_pid, launched_pid, limit_command, only_root_may_write, physical_memory, probe,
    requirements, same_file,
};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{acl, placeholders};
#[cfg(windows)]
pub use windows::{
    command_job, command_token, enforce, job_object, only_root_may_write, physical_memory, probe,
    requirements, restricted_token, same_file,
};

/// No per-process limits are set between fork and exec here.
#[cfg(not(target_os = "linux"))]
pub fn limit_command() -> std::io::Result<()> {
    Ok(())
}

/// No PID namespaces here: the caller's own pid.
#[cfg(not(target_os = "linux"))]
pub fn launched_pid() -> u32 {
    std::process::id()
}

/// No PID namespaces here: pids are the host's.
#[cfg(not(target_os = "linux"))]
pub fn host_pid(pid: u32) -> Result<u32, String> {
    Ok(pid)
}

#[cfg(not(any(target_os = "linux", windows)))]
mod unsupported;
#[cfg(not(any(target_os = "linux", windows)))]
pub use unsupported::{enforce, only_root_may_write, physical_memory, probe, requirements, same_file};
