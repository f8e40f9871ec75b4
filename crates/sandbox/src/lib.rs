//! cordon's sandbox: the policy model and its enforcement.
//!
//! A [`Policy`] says what commands in a sandbox may do. The parent builds it
//! once with a [`PolicyBuilder`] and hands it to `cordon-runner` (on its
//! command line, or inside a request file); the runner calls [`enforce`] on
//! itself, while still single-threaded and before it reads its first
//! request, so that it and everything it spawns live under the policy.
//!
//! On Linux the layers are: namespaces (user, mount, IPC, PID with the caller
//! as init, and network when it is off), read-only bind mounts over protected paths, resource limits,
//! dropped capabilities, `no_new_privs`, Landlock and seccomp. Each is
//! independent and reported in the returned [`SandboxReport`]; a layer the
//! policy needs that cannot be applied fails the launch, unless the policy
//! asks for best effort.
//!
//! Windows security decisions (SIDs, DACLs, the restricted token, what
//! `cordon setup` does) are pure functions in [`windows`], compiled and
//! tested on every platform.
//!
//! ```
//! use cordon_sandbox::{Policy, PolicyBuilder, Preset};
//!
//! let policy = PolicyBuilder::new(Preset::ReadOnly).network(false).build()?;
//! assert!(policy.filesystem.read_everything);
//! assert!(!policy.network);
//! // Full access applies nothing, and says so.
//! let report = cordon_sandbox::enforce(&Policy::full_access())?;
//! assert!(report.layers.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod git;
mod policy;
mod sys;
pub mod windows;

use cordon_ipc::SandboxReport;
pub use policy::{
    CLEAR_ENV_KEEPS, CREDENTIAL_STORES, DEFAULT_FILE_SIZE, DEFAULT_PROCESSES, DEFAULT_PROTECTED_NAMES,
    EnvPolicy, FilesystemPolicy, Limits, MIN_MEMORY, MIN_OPEN_FILES, Policy, PolicyBuilder, PolicyError,
    Preset, SECRET_MARKERS, SECRET_VALUE_PREFIXES, SECRET_WORDS, SYSTEM_DIRECTORIES, SYSTEM_SECRETS,
    SYSTEM_TREES, UnknownPolicy, WRITABLE_DEVICES, is_secret, is_secret_value, named_current_dir,
};
use serde::{Deserialize, Serialize};

/// Why a policy could not be put in force.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EnforceError {
    /// This platform has no enforcement for confining policies.
    #[error(
        "policy {0} cannot be enforced on this platform; use --policy full-access to run without a sandbox"
    )]
    Unsupported(Preset),
    /// The policy asks for something no command could run under.
    #[error("invalid policy: {0}")]
    Invalid(String),
    /// A layer the policy needs could not be applied.
    #[error("cannot enforce the {layer} layer: {reason}. {hint}")]
    Layer {
        /// The layer.
        layer: &'static str,
        /// What failed.
        reason: String,
        /// What the user can do.
        hint: &'static str,
    },
}

/// Puts `policy` in force on the calling process and everything it spawns
/// afterwards, and reports what is enforced. Call it while the process is
/// single-threaded.
///
/// On Linux it may fork, to make the caller the init of a PID namespace:
/// it then returns in the child, and the original process never returns
/// but supervises the child and exits as it does (see [`launched_pid`]).
pub fn enforce(policy: &Policy) -> Result<SandboxReport, EnforceError> {
    policy.limits.check().map_err(|e| EnforceError::Invalid(e.to_string()))?;
    sys::enforce(policy)
}

/// The pid by which the launcher knows the process that called
/// [`enforce`]. On Linux, enforcing a confining policy may make the caller
/// the init of a new PID namespace: it then runs on in a forked child, and
/// the process the launcher started stays outside as its supervisor, which
/// mirrors the child's exit and whose death kills everything inside. This
/// is that supervisor's pid; otherwise the caller's own.
pub fn launched_pid() -> u32 {
    sys::launched_pid()
}

/// `pid`, a process the caller of [`enforce`] started, as the launcher's
/// PID namespace numbers it (the same number unless enforcing entered a PID
/// namespace). Fails only if the kernel cannot tell.
pub fn host_pid(pid: u32) -> Result<u32, String> {
    sys::host_pid(pid)
}

/// Sets the enforced policy's per-process limits (open files, file size,
/// CPU time, address space) on the calling process. The runner calls it in
/// each command between fork and exec: the limits bound the commands, not
/// the runner, which a tight limit would otherwise starve. Without a limit
/// for open files the command gets back the limit the runner inherited
/// (enforcing raised the runner's own). Async-signal-safe.
pub fn limit_command() -> std::io::Result<()> {
    sys::limit_command()
}

/// Windows: cordon's ACEs written on files and directories (a writable
/// root's grant, the denies on protected and denied paths), for the
/// restricted-token launch and `cordon setup` alike. What the ACEs are and
/// where they go in a DACL is decided in [`windows::acl`].
#[cfg(windows)]
pub use sys::acl;

/// Windows: the placeholders that hold protected paths which do not exist
/// yet, so that the sandbox cannot create them; where they go is decided
/// in [`windows::placeholder`].
#[cfg(windows)]
pub use sys::placeholders;

/// Windows: a new job object with these limits (the runner's, each
/// command's), none of them left unset.
#[cfg(windows)]
pub use sys::job_object;

/// Windows: a sandbox token made from its plan (the restricted-token
/// runner's, a sandbox-user runner's commands').
#[cfg(windows)]
pub use sys::restricted_token;

/// Windows: the token every command runs under when the runner is a
/// sandbox user (write-restricted to this launch's roots,
/// [`windows::token::elevated_command_token_plan`]), made by [`enforce`];
/// `None` otherwise (a restricted-token runner's commands inherit its
/// token).
#[cfg(windows)]
pub fn command_token() -> Option<&'static std::os::windows::io::OwnedHandle> {
    sys::command_token()
}

/// The limits of each command's job on Windows: kill on close, and the
/// enforced policy's CPU time ([`windows::job::command_job`]). The runner
/// gives every command's job these once [`enforce`] has run; a job that
/// cannot get them fails the spawn.
#[cfg(windows)]
pub fn command_job() -> windows::job::JobLimits {
    sys::command_job()
}

/// One capability of the machine, as `cordon doctor` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// The feature (`"landlock"`, `"user namespaces"`, …).
    pub name: String,
    /// Whether it is there.
    pub available: bool,
    /// Version, or why not.
    pub detail: String,
}

/// What the machine offers, without confining anything.
pub fn probe() -> Vec<Probe> {
    sys::probe()
}

/// One way this platform runs a preset, and the [`Probe`]s it needs to
/// enforce the preset fully, for `cordon doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The mode (`"restricted-token"`, `"elevated"` on Windows), or `None`
    /// where the platform has one way.
    pub mode: Option<&'static str>,
    /// The names of the probes it needs.
    pub needs: &'static [&'static str],
}

/// The ways this platform runs `preset`, each with what it needs.
pub fn requirements(preset: Preset) -> Vec<Requirement> {
    sys::requirements(preset)
}

/// The report of a policy that applies no sandbox.
pub(crate) fn full_access_report() -> SandboxReport {
    SandboxReport {
        policy: Preset::FullAccess.name().to_string(),
        layers: Vec::new(),
        summary: "no enforcement: policy full-access runs commands without a sandbox".to_string(),
    }
}
