//! Windows: the runner cannot confine itself once started; the parent
//! starts it in the sandbox context (a write-restricted token, or the
//! sandbox user of `cordon setup`) inside a job with the policy's limits.
//! Here the runner reads that context — its token's SIDs and privileges,
//! its job's limits — and [`crate::windows::enforcement::assess`] decides
//! what is in force and whether the run may go on.

pub mod acl;
mod job_object;
pub mod placeholders;
mod token;

pub use job_object::job_object;
pub use token::restricted_token;

use std::os::windows::io::{BorrowedHandle, OwnedHandle, RawHandle};
use std::ptr::null_mut;
use std::sync::OnceLock;

use cordon_ipc::SandboxReport;
use windows_sys::Win32::Security::{
    GetSidSubAuthority, GetSidSubAuthorityCount, TOKEN_INFORMATION_CLASS, TOKEN_MANDATORY_LABEL,
    TOKEN_PRIVILEGES, TOKEN_QUERY, TokenIntegrityLevel, TokenPrivileges,
};
use windows_sys::Win32::System::JobObjects::{
    JOBOBJECT_BASIC_UI_RESTRICTIONS, JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectBasicUIRestrictions,
    JobObjectExtendedLimitInformation, QueryInformationJobObject,
};

use crate::windows::accounts::{DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER};
use crate::windows::enforcement::{Identity, SandboxAccounts, TokenFacts, assess, identify, is_local_user};
use crate::windows::integrity::RUNNER_PROCESS_DACL;
use crate::windows::job::{self, JobLimits};
use crate::windows::token::elevated_command_token_plan;
use crate::{EnforceError, Policy, Probe};
use windows_sys::Win32::Security::Authorization::SE_KERNEL_OBJECT;
use windows_sys::Win32::Security::{TOKEN_ADJUST_DEFAULT, TOKEN_ASSIGN_PRIMARY, TOKEN_DUPLICATE};
use windows_sys::Win32::System::Threading::GetCurrentProcess;

/// `SE_GROUP_ENABLED` (winnt.h).
const SE_GROUP_ENABLED: u32 = 0x4;
/// `SE_GROUP_USE_FOR_DENY_ONLY` (winnt.h).
const SE_GROUP_USE_FOR_DENY_ONLY: u32 = 0x10;

/// The limits of each command's job, once [`enforce`] has run.
static COMMAND_JOB: OnceLock<JobLimits> = OnceLock::new();

/// Checks the runner's security context against the policy.
pub fn enforce(policy: &Policy) -> Result<SandboxReport, EnforceError> {
    let _ = COMMAND_JOB.set(job::command_job(policy));
    if !policy.is_confining() {
        return Ok(crate::full_access_report());
    }
    let token = token_facts();
    let accounts = SandboxAccounts {
        offline: account_sid(DEFAULT_OFFLINE_USER),
        online: account_sid(DEFAULT_ONLINE_USER),
    };
    // The roots the launch made capability SIDs for: the directories.
    let roots: Vec<std::path::PathBuf> = policy.filesystem.writable_dirs().cloned().collect();
    let identity = identify(&token, &accounts, &roots);
    let report = assess(policy, &identity, &own_job())?;
    if matches!(identity, Identity::SandboxUser { .. }) {
        confine_commands(&token, &roots).map_err(|reason| EnforceError::Layer {
            layer: "sandbox-user",
            reason,
            hint: "the sandbox user's commands run under a token restricted to this launch's roots, or \
                   not at all",
        })?;
    }
    Ok(report)
}

/// The token [`confine_commands`] made, once.
static COMMAND_TOKEN: OnceLock<OwnedHandle> = OnceLock::new();

/// The token each command runs under, when the runner is a sandbox user.
pub fn command_token() -> Option<&'static OwnedHandle> {
    COMMAND_TOKEN.get()
}

/// A runner that is a sandbox user may write every root any launch (or
/// `cordon setup`) granted that account: its commands get a token
/// write-restricted to this launch's roots ([`elevated_command_token_plan`]),
/// and its own process a DACL that no other session of the account, nor
/// its own commands, can open for reading or changing
/// ([`RUNNER_PROCESS_DACL`]). Fails closed: without either the run is
/// refused.
fn confine_commands(facts: &TokenFacts, roots: &[std::path::PathBuf]) -> Result<(), String> {
    let logon = facts.logon_sid.as_deref().ok_or("the sandbox user's token has no logon SID")?;
    let plan = elevated_command_token_plan(roots, logon).map_err(|e| e.to_string())?;
    let own =
        cordon_win::own_token(TOKEN_QUERY | TOKEN_DUPLICATE | TOKEN_ASSIGN_PRIMARY | TOKEN_ADJUST_DEFAULT)
            .map_err(|e| e.to_string())?;
    let restricted = restricted_token(&own, &plan).map_err(|e| format!("the commands' token: {e}"))?;
    // SAFETY: the pseudo-handle of this process, valid for its life and
    // not to be closed; borrowed for one call.
    let process = unsafe { BorrowedHandle::borrow_raw(GetCurrentProcess() as RawHandle) };
    cordon_win::set_object_dacl(process, SE_KERNEL_OBJECT, RUNNER_PROCESS_DACL)
        .map_err(|e| format!("the runner's own DACL: {e}"))?;
    let _ = COMMAND_TOKEN.set(restricted);
    Ok(())
}

/// The limits each command's job gets: kill on close, and the policy's
/// CPU time ([`job::command_job`]); before [`enforce`], none but those.
pub fn command_job() -> JobLimits {
    COMMAND_JOB.get().copied().unwrap_or_else(|| job::command_job(&Policy::full_access()))
}

fn last_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// What the token of this process says about it.
fn token_facts() -> TokenFacts {
    let unreadable = |e: String| TokenFacts {
        user_sid: String::new(),
        logon_sid: None,
        restricting_sids: Err(e.clone()),
        privileges: Err(e.clone()),
        integrity_rid: Err(e.clone()),
        enabled_groups: Err(e),
    };
    let token = match cordon_win::own_token(TOKEN_QUERY) {
        Ok(token) => token,
        Err(e) => return unreadable(e.to_string()),
    };
    let user_sid = match cordon_win::token_user_sid(&token) {
        Ok(sid) => sid,
        Err(e) => return unreadable(e.to_string()),
    };
    let token_groups = cordon_win::token_groups(&token).map_err(|e| e.to_string());
    let logon_sid = token_groups.as_deref().ok().and_then(cordon_win::logon_sid_in);
    let enabled_groups = token_groups.map(|groups| {
        groups
            .into_iter()
            .filter(|(_, attributes)| {
                attributes & SE_GROUP_ENABLED != 0 && attributes & SE_GROUP_USE_FOR_DENY_ONLY == 0
            })
            .map(|(sid, _)| sid)
            .collect()
    });
    let integrity_rid = information(&token, TokenIntegrityLevel).and_then(|buffer| {
        // SAFETY: TokenIntegrityLevel fills a TOKEN_MANDATORY_LABEL whose
        // SID lies inside the buffer; its last sub-authority is the RID.
        unsafe {
            let label = &*(buffer.as_ptr() as *const TOKEN_MANDATORY_LABEL);
            let count = *GetSidSubAuthorityCount(label.Label.Sid);
            if count == 0 {
                return Err("the integrity SID has no sub-authority".to_string());
            }
            Ok(*GetSidSubAuthority(label.Label.Sid, u32::from(count) - 1))
        }
    });
    let restricting_sids = cordon_win::token_restricting_sids(&token).map_err(|e| e.to_string());
    let privileges = information(&token, TokenPrivileges).map(|buffer| {
        // SAFETY: a TOKEN_PRIVILEGES whose array has PrivilegeCount entries.
        let privileges = unsafe {
            let list = &*(buffer.as_ptr() as *const TOKEN_PRIVILEGES);
            std::slice::from_raw_parts(list.Privileges.as_ptr(), list.PrivilegeCount as usize)
        };
        privileges
            .iter()
            .map(|p| (u64::from(p.Luid.HighPart as u32) << 32) | u64::from(p.Luid.LowPart))
            .collect()
    });
    TokenFacts { user_sid, logon_sid, restricting_sids, privileges, integrity_rid, enabled_groups }
}

/// One class of token information, in 8-byte aligned storage; the error
/// in words.
fn information(token: &OwnedHandle, class: TOKEN_INFORMATION_CLASS) -> Result<Vec<u64>, String> {
    cordon_win::token_information(token, class).map_err(|e| e.to_string())
}

/// The SID of the local user account `name`, if there is one (looked up as
/// `COMPUTER\name`, and only if it is a user of this machine).
fn account_sid(name: &str) -> Option<String> {
    let computer = cordon_win::computer_name().ok()?;
    let account = cordon_win::lookup_account(&format!("{computer}\\{name}")).ok()??;
    is_local_user(&account.domain, &computer, account.kind).then_some(account.sid)
}

/// The limits of the job this process is in, as the job reports them
/// (`QueryInformationJobObject` with no handle: the caller's own job).
fn own_job() -> Result<JobLimits, String> {
    // SAFETY: plain data.
    let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: no handle (the caller's job) and a correctly sized structure.
    let ok = unsafe {
        QueryInformationJobObject(
            null_mut(),
            JobObjectExtendedLimitInformation,
            (&raw mut limits).cast(),
            size_of_val(&limits) as u32,
            null_mut(),
        )
    };
    if ok == 0 {
        return Err(last_error("QueryInformationJobObject (limits)"));
    }
    let mut ui = JOBOBJECT_BASIC_UI_RESTRICTIONS { UIRestrictionsClass: 0 };
    // SAFETY: as above.
    let ok = unsafe {
        QueryInformationJobObject(
            null_mut(),
            JobObjectBasicUIRestrictions,
            (&raw mut ui).cast(),
            size_of_val(&ui) as u32,
            null_mut(),
        )
    };
    if ok == 0 {
        let wine = if cordon_win::is_wine() { " (Wine reports no job limits)" } else { "" };
        return Err(format!("{}{wine}", last_error("QueryInformationJobObject (UI limits)")));
    }
    let basic = &limits.BasicLimitInformation;
    Ok(JobLimits {
        flags: basic.LimitFlags,
        active_processes: basic.ActiveProcessLimit,
        job_memory: limits.JobMemoryLimit as u64,
        process_memory: limits.ProcessMemoryLimit as u64,
        job_user_time: basic.PerJobUserTimeLimit,
        ui: ui.UIRestrictionsClass,
    })
}

/// What the machine offers, by mode: `cordon doctor` checks each preset
/// against these ([`crate::requirements`]).
pub fn probe() -> Vec<Probe> {
    let offline = account_sid(DEFAULT_OFFLINE_USER);
    let online = account_sid(DEFAULT_ONLINE_USER);
    let users = offline.is_some() && online.is_some();
    let probe = |name: &str, available: bool, detail: String| Probe { name: name.into(), available, detail };
    vec![
        probe(
            "restricted tokens",
            true,
            "CreateRestrictedToken (WRITE_RESTRICTED), at Low integrity, administrators' groups deny-only"
                .into(),
        ),
        probe(
            "job limits",
            true,
            "processes, memory and CPU time through job objects (Windows has no per-file size or \
             open-file limit)"
                .into(),
        ),
        probe(
            "sandbox users",
            users,
            if users {
                format!("{DEFAULT_OFFLINE_USER} and {DEFAULT_ONLINE_USER} exist (elevated mode)")
            } else {
                "run `cordon setup` (as administrator) for elevated mode".into()
            },
        ),
        probe(
            "network off (restricted-token)",
            false,
            "a firewall rule cannot name a restricted token: a policy without network needs elevated mode"
                .into(),
        ),
        probe(
            "network off (elevated)",
            offline.is_some(),
            if offline.is_some() {
                format!("the firewall rule cordon setup made for {DEFAULT_OFFLINE_USER}")
            } else {
                "run `cordon setup` (as administrator)".into()
            },
        ),
        probe(
            "denied reads (restricted-token)",
            false,
            "a write-restricted token cannot be denied reads: denied paths need elevated mode".into(),
        ),
    ]
}

/// Each confining preset runs in either mode; without network (the
/// presets' default) only elevated mode can enforce it. (A denied path in
/// restricted-token mode needs `denied reads (restricted-token)` too.)
pub fn requirements(preset: crate::Preset) -> Vec<crate::Requirement> {
    use crate::Requirement;
    if preset == crate::Preset::FullAccess {
        return vec![Requirement { mode: None, needs: &[] }];
    }
    vec![
        Requirement {
            mode: Some("restricted-token"),
            needs: &["restricted tokens", "job limits", "network off (restricted-token)"],
        },
        Requirement {
            mode: Some("elevated"),
            needs: &["sandbox users", "job limits", "network off (elevated)"],
        },
    ]
}

/// Not known here.
pub fn physical_memory() -> Option<u64> {
    None
}

/// Whether `a` and `b` resolve to the same path.
pub fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    std::fs::canonicalize(a).ok().is_some_and(|a| std::fs::canonicalize(b).ok() == Some(a))
}

/// No root here to tell apart: a system directory counts as only root's.
pub fn only_root_may_write(_dir: &std::path::Path) -> bool {
    true
}
