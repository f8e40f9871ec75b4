//! The limits of the job objects a sandbox lives in, from its policy.
//!
//! Two jobs hold a sandbox's processes. The **runner's job**, made by the
//! parent, holds the runner and everything under it: it kills them all
//! when the parent's handle closes, lets nothing break away, carries every
//! UI limit, and carries the policy's limits of the whole sandbox (process
//! count, memory). Each **command's job**, made by the runner inside its
//! own, holds one command and its descendants: it kills them with the
//! command's tree and carries the policy's CPU time, so that a limit ends
//! the command that used the time, not the runner.
//!
//! | policy | Windows | where |
//! |---|---|---|
//! | `processes` | `JOB_OBJECT_LIMIT_ACTIVE_PROCESS` (+ [`RUNNER_PROCESSES`]) | runner's job |
//! | `memory` | `JOB_OBJECT_LIMIT_PROCESS_MEMORY` and `JOB_OBJECT_LIMIT_JOB_MEMORY` | runner's job |
//! | `sandbox_memory` | `JOB_OBJECT_LIMIT_JOB_MEMORY` | runner's job |
//! | `cpu_time` | `JOB_OBJECT_LIMIT_JOB_TIME` (user-mode time) | each command's job |
//! | `file_size`, `open_files` | none: [`unenforceable`] | — |
//!
//! Windows counts processes, not threads (Linux's pids cgroup counts
//! both), and commit charge, not resident memory.

use super::desktop::{
    LIMIT_BREAKAWAY_OK, LIMIT_KILL_ON_JOB_CLOSE, LIMIT_SILENT_BREAKAWAY_OK, RUNNER_JOB_LIMITS,
    RUNNER_UI_LIMITS,
};
use crate::{Limits, Policy};

/// `JOB_OBJECT_LIMIT_JOB_TIME`: the job's processes together may use this
/// much user-mode CPU time; then every process in it is terminated.
pub const LIMIT_JOB_TIME: u32 = 0x0004;
/// `JOB_OBJECT_LIMIT_ACTIVE_PROCESS`: at most this many processes in the
/// job at once; creating one more fails.
pub const LIMIT_ACTIVE_PROCESS: u32 = 0x0008;
/// `JOB_OBJECT_LIMIT_PROCESS_MEMORY`: the commit charge of each process.
pub const LIMIT_PROCESS_MEMORY: u32 = 0x0100;
/// `JOB_OBJECT_LIMIT_JOB_MEMORY`: the commit charge of the whole job.
pub const LIMIT_JOB_MEMORY: u32 = 0x0200;
/// `JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION`: a crash ends the process
/// at once instead of waiting on an error dialog no one sees.
pub const LIMIT_DIE_ON_UNHANDLED_EXCEPTION: u32 = 0x0400;

/// The processes of the runner's job that are not the commands': the
/// runner and the console host of its hidden console. A command on a
/// pseudoconsole costs one more (the pseudoconsole's host).
pub const RUNNER_PROCESSES: u64 = 2;

/// One hundred nanoseconds, the unit of a job's time limits, per second.
const TICKS_PER_SECOND: i64 = 10_000_000;

/// What `SetInformationJobObject` is given for one job (or what
/// `QueryInformationJobObject` read back from one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobLimits {
    /// `JOBOBJECT_BASIC_LIMIT_INFORMATION.LimitFlags`.
    pub flags: u32,
    /// `ActiveProcessLimit`, with [`LIMIT_ACTIVE_PROCESS`].
    pub active_processes: u32,
    /// `JOBOBJECT_EXTENDED_LIMIT_INFORMATION.JobMemoryLimit`, in bytes, with
    /// [`LIMIT_JOB_MEMORY`].
    pub job_memory: u64,
    /// `ProcessMemoryLimit`, in bytes, with [`LIMIT_PROCESS_MEMORY`].
    pub process_memory: u64,
    /// `PerJobUserTimeLimit`, in 100 ns units, with [`LIMIT_JOB_TIME`].
    pub job_user_time: i64,
    /// `JOBOBJECT_BASIC_UI_RESTRICTIONS.UIRestrictionsClass`.
    pub ui: u32,
}

impl JobLimits {
    /// Whether every limit of `self` is at least as tight in `actual`: each
    /// flag set, each value no larger, and no breakaway allowed. `actual`
    /// is what a job reports; what it lacks is named, one entry a limit.
    pub fn missing_in(&self, actual: &JobLimits) -> Vec<String> {
        let mut missing = Vec::new();
        let mut need = |flag: u32, what: &str, wanted: u64, got: u64| {
            if self.flags & flag == 0 {
                return;
            }
            if actual.flags & flag == 0 {
                missing.push(format!("{what} not set"));
            } else if got > wanted {
                missing.push(format!("{what} is {got}, not {wanted}"));
            }
        };
        need(LIMIT_KILL_ON_JOB_CLOSE, "kill on close", 0, 0);
        need(LIMIT_DIE_ON_UNHANDLED_EXCEPTION, "die on unhandled exception", 0, 0);
        need(
            LIMIT_ACTIVE_PROCESS,
            "process limit",
            u64::from(self.active_processes),
            u64::from(actual.active_processes),
        );
        need(LIMIT_JOB_MEMORY, "job memory limit", self.job_memory, actual.job_memory);
        need(LIMIT_PROCESS_MEMORY, "process memory limit", self.process_memory, actual.process_memory);
        need(
            LIMIT_JOB_TIME,
            "job CPU time limit",
            self.job_user_time.max(0) as u64,
            actual.job_user_time.max(0) as u64,
        );
        if actual.flags & (LIMIT_BREAKAWAY_OK | LIMIT_SILENT_BREAKAWAY_OK) != 0 {
            missing.push("breakaway is allowed".into());
        }
        if actual.ui & self.ui != self.ui {
            missing.push(format!("UI limits {:#x}, not {:#x}", actual.ui, self.ui));
        }
        missing
    }
}

/// The runner's job for `policy`: kill on close and no breakaway
/// ([`RUNNER_JOB_LIMITS`]), every UI limit ([`RUNNER_UI_LIMITS`]), and the
/// policy's limits of the whole sandbox, asked for or default: processes
/// (the commands', plus [`RUNNER_PROCESSES`]), the memory of each process
/// (`memory`) and of all of them (the smaller of `memory` and
/// `sandbox_memory`).
///
/// ```
/// use cordon_sandbox::{Limits, PolicyBuilder, Preset};
/// use cordon_sandbox::windows::job::{LIMIT_ACTIVE_PROCESS, RUNNER_PROCESSES, runner_job};
///
/// let policy = PolicyBuilder::new(Preset::ReadOnly)
///     .limits(Limits { processes: Some(16), ..Limits::default() })
///     .build()?;
/// let job = runner_job(&policy);
/// assert_ne!(job.flags & LIMIT_ACTIVE_PROCESS, 0);
/// assert_eq!(u64::from(job.active_processes), 16 + RUNNER_PROCESSES);
/// # Ok::<(), cordon_sandbox::PolicyError>(())
/// ```
pub fn runner_job(policy: &Policy) -> JobLimits {
    let mut job = JobLimits { flags: RUNNER_JOB_LIMITS, ui: RUNNER_UI_LIMITS, ..JobLimits::default() };
    if !policy.is_confining() {
        return job;
    }
    let (asked, defaults) = (&policy.limits, &policy.default_limits);
    if let Some(processes) = asked.processes.or(defaults.processes) {
        job.flags |= LIMIT_ACTIVE_PROCESS;
        job.active_processes = u32::try_from(processes.saturating_add(RUNNER_PROCESSES)).unwrap_or(u32::MAX);
    }
    if let Some(memory) = asked.memory.or(defaults.memory) {
        job.flags |= LIMIT_PROCESS_MEMORY;
        job.process_memory = memory;
    }
    if let Some(memory) = policy.total_memory() {
        job.flags |= LIMIT_JOB_MEMORY;
        job.job_memory = memory;
    }
    job
}

/// Each command's job for `policy`: kill on close, die on an unhandled
/// exception, and the policy's CPU time (asked for or default) as the
/// user-mode time of the command and all its descendants together (Linux
/// gives each process the time; here a tree shares it).
pub fn command_job(policy: &Policy) -> JobLimits {
    let mut job = JobLimits {
        flags: LIMIT_KILL_ON_JOB_CLOSE | LIMIT_DIE_ON_UNHANDLED_EXCEPTION,
        ..JobLimits::default()
    };
    if !policy.is_confining() {
        return job;
    }
    if let Some(seconds) = policy.limits.cpu_time.or(policy.default_limits.cpu_time) {
        job.flags |= LIMIT_JOB_TIME;
        job.job_user_time = i64::try_from(seconds).unwrap_or(i64::MAX).saturating_mul(TICKS_PER_SECOND);
    }
    job
}

/// The limits of `limits` that Windows has no job limit (nor any other
/// mechanism) for: the size of a file a process writes, and the number of
/// files (handles) a process holds. Named as the policy names them.
pub fn unenforceable(limits: &Limits) -> Vec<&'static str> {
    let mut out = Vec::new();
    if limits.file_size.is_some() {
        out.push("file_size");
    }
    if limits.open_files.is_some() {
        out.push("open_files");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DEFAULT_PROCESSES, PolicyBuilder, Preset};

    fn policy(limits: Limits, defaults: Limits) -> Policy {
        PolicyBuilder::new(Preset::ReadOnly).limits(limits).default_limits(defaults).build().unwrap()
    }

    #[test]
    fn the_flags_are_winnt_h_values() {
        assert_eq!(
            (LIMIT_JOB_TIME, LIMIT_ACTIVE_PROCESS, LIMIT_PROCESS_MEMORY, LIMIT_JOB_MEMORY),
            (0x4, 0x8, 0x100, 0x200)
        );
        assert_eq!(LIMIT_DIE_ON_UNHANDLED_EXCEPTION, 0x400);
    }

    #[test]
    fn the_runner_job_has_the_policys_limits_the_ui_limits_and_no_breakaway() {
        let limits = Limits {
            processes: Some(64),
            memory: Some(1 << 30),
            sandbox_memory: Some(512 << 20),
            cpu_time: Some(30),
            ..Limits::default()
        };
        let job = runner_job(&policy(limits, Limits::default()));
        assert_eq!(job.flags & LIMIT_KILL_ON_JOB_CLOSE, LIMIT_KILL_ON_JOB_CLOSE);
        assert_eq!(job.flags & (LIMIT_BREAKAWAY_OK | LIMIT_SILENT_BREAKAWAY_OK), 0, "no breakaway");
        assert_eq!(job.ui, RUNNER_UI_LIMITS);
        assert_eq!(job.ui, 0xff, "every UI limit");
        assert_ne!(job.flags & LIMIT_ACTIVE_PROCESS, 0);
        assert_eq!(job.active_processes, 64 + 2, "the commands' 64, the runner and its console host");
        assert_ne!(job.flags & LIMIT_PROCESS_MEMORY, 0);
        assert_eq!(job.process_memory, 1 << 30);
        assert_ne!(job.flags & LIMIT_JOB_MEMORY, 0);
        assert_eq!(job.job_memory, 512 << 20, "the smaller of memory and sandbox_memory");
        assert_eq!(job.flags & LIMIT_JOB_TIME, 0, "CPU time is each command's, not the runner's");
    }

    #[test]
    fn the_runner_job_carries_default_limits_where_none_was_asked() {
        let job = runner_job(&policy(Limits::default(), Limits::preset_defaults()));
        assert_eq!(u64::from(job.active_processes), DEFAULT_PROCESSES + RUNNER_PROCESSES);
        assert_ne!(job.flags & LIMIT_ACTIVE_PROCESS, 0);
        let none = runner_job(&policy(Limits::default(), Limits::default()));
        assert_eq!(none.flags, RUNNER_JOB_LIMITS, "no limit flag without a limit");
        assert_eq!(none.ui, RUNNER_UI_LIMITS, "but every UI limit");
        let full = runner_job(&Policy::full_access());
        assert_eq!((full.flags, full.ui), (RUNNER_JOB_LIMITS, RUNNER_UI_LIMITS));
    }

    #[test]
    fn a_huge_process_limit_saturates_instead_of_wrapping() {
        let job =
            runner_job(&policy(Limits { processes: Some(u64::MAX), ..Limits::default() }, Limits::default()));
        assert_eq!(job.active_processes, u32::MAX);
    }

    #[test]
    fn each_commands_job_carries_the_cpu_time() {
        let job = command_job(&policy(Limits { cpu_time: Some(3), ..Limits::default() }, Limits::default()));
        assert_eq!(job.flags & LIMIT_JOB_TIME, LIMIT_JOB_TIME);
        assert_eq!(job.job_user_time, 30_000_000, "3 s in 100 ns units");
        assert_ne!(job.flags & LIMIT_KILL_ON_JOB_CLOSE, 0);
        assert_eq!(job.flags & (LIMIT_BREAKAWAY_OK | LIMIT_SILENT_BREAKAWAY_OK), 0);
        let none = command_job(&policy(Limits::default(), Limits::default()));
        assert_eq!(none.flags, LIMIT_KILL_ON_JOB_CLOSE | LIMIT_DIE_ON_UNHANDLED_EXCEPTION);
        assert_eq!(command_job(&Policy::full_access()).flags & LIMIT_JOB_TIME, 0);
    }

    #[test]
    fn file_size_and_open_files_have_no_windows_limit() {
        let limits =
            Limits { file_size: Some(1), open_files: Some(8), processes: Some(4), ..Limits::default() };
        assert_eq!(unenforceable(&limits), ["file_size", "open_files"]);
        assert!(unenforceable(&Limits { processes: Some(4), ..Limits::default() }).is_empty());
    }

    #[test]
    fn a_job_that_lacks_or_loosens_a_limit_is_named() {
        let wanted = runner_job(&policy(
            Limits { processes: Some(8), sandbox_memory: Some(64 << 20), ..Limits::default() },
            Limits::default(),
        ));
        assert!(wanted.missing_in(&wanted).is_empty());
        let tighter = JobLimits { active_processes: 3, job_memory: 40 << 20, ..wanted };
        assert!(wanted.missing_in(&tighter).is_empty(), "tighter is fine");
        let looser = JobLimits { active_processes: 100, ..wanted };
        assert_eq!(wanted.missing_in(&looser), ["process limit is 100, not 10"]);
        let unset = JobLimits { flags: wanted.flags & !LIMIT_JOB_MEMORY, ..wanted };
        assert_eq!(wanted.missing_in(&unset), ["job memory limit not set"]);
        let escapable = JobLimits { flags: wanted.flags | LIMIT_BREAKAWAY_OK, ..wanted };
        assert_eq!(wanted.missing_in(&escapable), ["breakaway is allowed"]);
        let zeros = JobLimits::default();
        let missing = wanted.missing_in(&zeros);
        assert!(missing.contains(&"kill on close not set".to_string()), "{missing:?}");
        assert!(missing.iter().any(|m| m.starts_with("UI limits 0x0")), "{missing:?}");
    }
}
