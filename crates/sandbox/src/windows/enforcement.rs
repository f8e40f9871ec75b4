//! What each Windows mode enforces of a policy, and who the runner is.
//!
//! The runner cannot confine itself on Windows: the parent starts it in a
//! sandbox context, and the runner then checks that context from what it
//! can observe of itself — its token's SIDs and privileges ([`identify`]),
//! and the limits its job reports — and reports every layer of the policy
//! as it is ([`assess`]). A layer the policy needs that the context cannot
//! give refuses the run unless the policy asks for best effort; the parent
//! makes the same check before it launches anything ([`launch_check`]).
//!
//! | layer | restricted-token mode | elevated mode (sandbox user) |
//! |---|---|---|
//! | writes outside writable roots | refused (write-restricted token, Low integrity) | refused (the user's own rights) |
//! | the user's processes (reading them) | refused (Low integrity) | refused (another user's) |
//! | `filesystem.deny` | writes denied, reads **not** (partial) | denied (deny ACE for the user) |
//! | reads confined to roots | no | no |
//! | `network = false` | **not enforceable** | firewall rule and WFP filters of the offline user, loopback included |
//! | `processes`, `memory` | runner's job | runner's job |
//! | `cpu_time` | each command's job | each command's job |
//! | `file_size`, `open_files` | none on Windows | none on Windows |

use std::collections::BTreeSet;
use std::path::PathBuf;

use cordon_ipc::{LayerState, SandboxLayer, SandboxReport};

use super::accounts::{DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER};
use super::desktop::{RUNNER_JOB_LIMITS, RUNNER_UI_LIMITS};
use super::integrity::{IntegrityLevel, SANDBOX_INTEGRITY, powerful_groups};
use super::job::{self, JobLimits};
use super::token::restricted_token_plan;
use crate::{EnforceError, Policy};

/// `SeChangeNotifyPrivilege`'s LUID (`SE_CHANGE_NOTIFY_PRIVILEGE`, winnt.h):
/// the one privilege `DISABLE_MAX_PRIVILEGE` leaves in a token.
pub const SE_CHANGE_NOTIFY_PRIVILEGE: u64 = 23;

/// Who the runner is, as its token shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The caller's user under a write-restricted token whose restricting
    /// SIDs are exactly those of the policy's plan, without privileges.
    RestrictedToken,
    /// A sandbox user of `cordon setup`: the offline one (network blocked
    /// by its firewall rule) or the online one.
    SandboxUser {
        /// Whether it is the offline user.
        offline: bool,
    },
    /// Neither, and why.
    Unconfined {
        /// What the token shows instead.
        reason: String,
    },
}

/// What the runner reads of its own token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFacts {
    /// The token's user SID (`TokenUser`).
    pub user_sid: String,
    /// Its logon SID (the `TokenGroups` entry with `SE_GROUP_LOGON_ID`).
    pub logon_sid: Option<String>,
    /// Its restricting SIDs (`TokenRestrictedSids`), or why they could not
    /// be read.
    pub restricting_sids: Result<Vec<String>, String>,
    /// The LUIDs of its privileges (`TokenPrivileges`), high part shifted
    /// left by 32, or why they could not be read.
    pub privileges: Result<Vec<u64>, String>,
    /// Its integrity RID (`TokenIntegrityLevel`), or why it could not be
    /// read.
    pub integrity_rid: Result<u32, String>,
    /// The SIDs of its enabled groups, deny-only ones left out
    /// (`TokenGroups`), or why they could not be read.
    pub enabled_groups: Result<Vec<String>, String>,
}

/// The SIDs of `cordon setup`'s accounts on this machine, where they exist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SandboxAccounts {
    /// `CordonSandboxOffline`'s SID.
    pub offline: Option<String>,
    /// `CordonSandboxOnline`'s SID.
    pub online: Option<String>,
}

/// `SidTypeUser` (`SID_NAME_USE`).
pub const SID_TYPE_USER: i32 = 1;

/// Whether an account `LookupAccountNameW` found (in `domain`, of
/// `sid_use`) is a user of this machine (`computer`, its NetBIOS name):
/// only such an account is one of `cordon setup`'s, not a domain account
/// or group that happens to have the name.
pub fn is_local_user(domain: &str, computer: &str, sid_use: i32) -> bool {
    sid_use == SID_TYPE_USER && !computer.is_empty() && domain.eq_ignore_ascii_case(computer)
}

/// Who a token belongs to, from its SIDs alone (never from the
/// environment, which whoever started the process chose):
///
/// - a token holding an administrator's group enabled ([`powerful_groups`])
///   is unconfined, whoever it is;
/// - its user SID is a sandbox account's: that sandbox user;
/// - else it has restricting SIDs, exactly the capability SIDs of
///   `writable_roots`, its logon SID and Everyone
///   ([`restricted_token_plan`]), no privilege but
///   `SeChangeNotifyPrivilege`, and an integrity level no higher than
///   [`SANDBOX_INTEGRITY`]: the restricted token;
/// - else unconfined, with the reason. A restricting SID beyond the plan
///   would widen where the token may write; one missing would leave a
///   writable root unwritable; a Medium token could read the user's
///   processes.
pub fn identify(token: &TokenFacts, accounts: &SandboxAccounts, writable_roots: &[PathBuf]) -> Identity {
    let unconfined = |reason: String| Identity::Unconfined { reason };
    match &token.enabled_groups {
        Ok(groups) => {
            let powerful = powerful_groups(groups);
            if !powerful.is_empty() {
                return unconfined(format!("the token holds administrators' groups enabled ({powerful:?})"));
            }
        }
        Err(e) => return unconfined(format!("the token's groups cannot be read: {e}")),
    }
    let is =
        |sid: &Option<String>| sid.as_deref().is_some_and(|sid| sid.eq_ignore_ascii_case(&token.user_sid));
    if is(&accounts.offline) {
        return Identity::SandboxUser { offline: true };
    }
    if is(&accounts.online) {
        return Identity::SandboxUser { offline: false };
    }
    let restricting = match &token.restricting_sids {
        Ok(sids) if sids.is_empty() => {
            return unconfined(format!(
                "the token has no restricting SIDs and its user {} is not a sandbox user",
                token.user_sid
            ));
        }
        Ok(sids) => sids,
        Err(e) => return unconfined(format!("the token's restricting SIDs cannot be read: {e}")),
    };
    let Some(logon) = &token.logon_sid else {
        return unconfined("the token has restricting SIDs but no logon SID".into());
    };
    let expected = match restricted_token_plan(writable_roots, logon) {
        Ok(plan) => plan.restricting_sids,
        Err(e) => return unconfined(format!("the token's logon SID: {e}")),
    };
    let upper = |sids: &[String]| sids.iter().map(|s| s.to_ascii_uppercase()).collect::<BTreeSet<_>>();
    let (have, want) = (upper(restricting), upper(&expected));
    let extra: Vec<&String> = have.difference(&want).collect();
    let missing: Vec<&String> = want.difference(&have).collect();
    if !extra.is_empty() || !missing.is_empty() {
        return unconfined(format!(
            "the token's restricting SIDs are not the policy's (extra: {extra:?}, missing: {missing:?})"
        ));
    }
    match &token.privileges {
        Ok(privileges) => {
            let kept: Vec<&u64> = privileges.iter().filter(|p| **p != SE_CHANGE_NOTIFY_PRIVILEGE).collect();
            if !kept.is_empty() {
                return unconfined(format!("the restricted token keeps privileges (LUIDs {kept:?})"));
            }
        }
        Err(e) => return unconfined(format!("the token's privileges cannot be read: {e}")),
    }
    match token.integrity_rid.as_ref().map(|rid| IntegrityLevel::of_rid(*rid)) {
        Ok(level) if level <= SANDBOX_INTEGRITY => Identity::RestrictedToken,
        Ok(level) => unconfined(format!(
            "the restricted token runs at {level:?} integrity, not {SANDBOX_INTEGRITY:?}: it could read the \
             user's processes"
        )),
        Err(e) => unconfined(format!("the token's integrity level cannot be read: {e}")),
    }
}

/// What to tell the user when a layer refuses a run.
mod hint {
    pub const CONTEXT: &str = "start the runner through cordon (restricted-token or elevated mode), \
                               or pass --best-effort to run with what is there";
    pub const NETWORK: &str = "restricted-token mode cannot block the network (a firewall rule cannot \
                               name a token): run `cordon setup` and use elevated mode, allow the network \
                               (--network), or pass --best-effort";
    pub const ONLINE: &str = "a policy without network runs as CordonSandboxOffline, whose outbound \
                              traffic cordon setup's firewall rule blocks; start it through cordon";
    pub const DENY: &str = "a write-restricted token cannot be denied reads: run `cordon setup` and use \
                            elevated mode, drop the denied paths, or pass --best-effort";
    pub const READ: &str = "neither Windows mode confines reads to a list of roots: read everything \
                            (the presets do) and deny what must stay hidden, or pass --best-effort";
    pub const LIMITS: &str = "Windows has no per-file size or open-file limit, and the others need the \
                              runner's job: drop the limit, or pass --best-effort";
    pub const JOB: &str = "the runner must run in the job cordon makes for it (kill on close, no \
                           breakaway, UI limits): start it through cordon, or pass --best-effort";
}

/// One layer's outcome and, if the policy cannot do without it and it is
/// not in force, why the run is refused.
struct Outcome {
    layer: SandboxLayer,
    refusal: Option<(&'static str, String, &'static str)>,
}

fn layer(name: &'static str, state: LayerState, detail: impl Into<String>) -> Outcome {
    Outcome { layer: SandboxLayer { name: name.into(), state, detail: detail.into() }, refusal: None }
}

/// `state` and a refusal: a layer the policy needs that is not in force.
fn needed(name: &'static str, state: LayerState, detail: impl Into<String>, hint: &'static str) -> Outcome {
    let detail = detail.into();
    Outcome {
        layer: SandboxLayer { name: name.into(), state, detail: detail.clone() },
        refusal: Some((name, detail, hint)),
    }
}

/// Every layer of `policy` in the context `identity`, with the runner's
/// job as it reports itself (`runner_job`; an error if it cannot be read),
/// and whether the run may go on: the report, or the first refusal of a
/// layer the policy needs, unless it asks for best effort.
///
/// The layers: `restricted-token` and `sandbox-user` (the identity: one
/// must be active), `network`, `filesystem-read`, `filesystem-deny`, `job`
/// (kill on close, no breakaway, UI limits) and `limits`. A refusal names
/// the first layer not in force and, in its reason, every other.
pub fn assess(
    policy: &Policy,
    identity: &Identity,
    runner_job: &Result<JobLimits, String>,
) -> Result<SandboxReport, EnforceError> {
    if !policy.is_confining() {
        return Ok(crate::full_access_report());
    }
    let outcomes = vec![
        restricted_token_layer(identity),
        sandbox_user_layer(identity),
        network_layer(policy, identity),
        read_layer(policy),
        deny_layer(policy, identity),
        job_layer(runner_job),
        limits_layer(policy, runner_job),
    ];
    let mut refusals = outcomes.iter().filter_map(|o| o.refusal.as_ref());
    if !policy.best_effort
        && let Some((layer, reason, hint)) = refusals.next()
    {
        let others: Vec<&str> = refusals.map(|(layer, _, _)| *layer).collect();
        let reason = if others.is_empty() {
            reason.clone()
        } else {
            format!("{reason} (nor can this mode enforce the {} layer)", others.join(", "))
        };
        return Err(EnforceError::Layer { layer, reason, hint });
    }
    let mode = match identity {
        Identity::RestrictedToken => "restricted-token mode",
        Identity::SandboxUser { .. } => "elevated mode",
        Identity::Unconfined { .. } => "no sandbox context",
    };
    let layers: Vec<SandboxLayer> = outcomes.into_iter().map(|o| o.layer).collect();
    let gaps: Vec<&str> = layers
        .iter()
        .filter(|l| matches!(l.state, LayerState::Unavailable | LayerState::Partial))
        .map(|l| l.name.as_str())
        .collect();
    let context = if matches!(identity, Identity::Unconfined { .. }) {
        format!("policy {}: best effort, no sandbox context in force", policy.preset)
    } else {
        format!("policy {}: runner in its sandbox context ({mode})", policy.preset)
    };
    let summary = if gaps.is_empty() {
        format!("{context}, every layer enforced")
    } else {
        format!("{context}, with gaps in {}", gaps.join(", "))
    };
    Ok(SandboxReport { policy: policy.preset.name().to_string(), layers, summary })
}

/// What the parent checks before it launches a runner that will have
/// `identity` (the restricted token, or the sandbox user the policy's
/// network picks): the same refusals the runner will make, with the job
/// the parent is about to make, so that nothing is started (no ACL
/// written, no user logged on) for a run that would be refused.
pub fn launch_check(policy: &Policy, identity: &Identity) -> Result<SandboxReport, EnforceError> {
    assess(policy, identity, &Ok(job::runner_job(policy)))
}

fn restricted_token_layer(identity: &Identity) -> Outcome {
    const NAME: &str = "restricted-token";
    match identity {
        Identity::RestrictedToken => layer(
            NAME,
            LayerState::Active,
            "write-restricted token at Low integrity: restricting SIDs are the writable roots' \
             capability SIDs, the logon SID and Everyone; no privileges; administrators' groups deny-only",
        ),
        Identity::SandboxUser { .. } => {
            layer(NAME, LayerState::NotRequested, "elevated mode: a sandbox user")
        }
        Identity::Unconfined { reason } => {
            needed(NAME, LayerState::Unavailable, reason.clone(), hint::CONTEXT)
        }
    }
}

fn sandbox_user_layer(identity: &Identity) -> Outcome {
    const NAME: &str = "sandbox-user";
    match identity {
        Identity::SandboxUser { offline } => {
            let user = if *offline { DEFAULT_OFFLINE_USER } else { DEFAULT_ONLINE_USER };
            layer(
                NAME,
                LayerState::Active,
                format!(
                    "running as {user} (by the token's user SID); commands under a token write-restricted to \
                     this launch's roots"
                ),
            )
        }
        Identity::RestrictedToken => {
            layer(NAME, LayerState::NotRequested, "restricted-token mode: the caller's user")
        }
        Identity::Unconfined { .. } => layer(
            NAME,
            LayerState::Unavailable,
            format!("the token's user is neither {DEFAULT_OFFLINE_USER} nor {DEFAULT_ONLINE_USER}"),
        ),
    }
}

/// The detail of a layer that nothing enforces outside a sandbox context.
const NO_CONTEXT: &str = "not enforced: the runner is in no sandbox context";

fn read_layer(policy: &Policy) -> Outcome {
    const NAME: &str = "filesystem-read";
    if policy.filesystem.read_everything {
        layer(NAME, LayerState::NotRequested, "the policy reads everything not denied")
    } else {
        needed(
            NAME,
            LayerState::Unavailable,
            "reads cannot be confined to a list of roots on Windows",
            hint::READ,
        )
    }
}

fn deny_layer(policy: &Policy, identity: &Identity) -> Outcome {
    const NAME: &str = "filesystem-deny";
    let count = policy.filesystem.deny.len();
    if count == 0 {
        return layer(NAME, LayerState::NotRequested, "no denied paths");
    }
    match identity {
        Identity::SandboxUser { .. } => layer(
            NAME,
            LayerState::Active,
            format!("{count} denied path(s): a deny-all ACE for the sandbox user on each that exists"),
        ),
        Identity::RestrictedToken => needed(
            NAME,
            LayerState::Partial,
            format!(
                "{count} denied path(s): writes denied (a deny ACE for each writable root's capability SID), \
                 reads not (a write-restricted token is checked against its restricting SIDs for writes only)"
            ),
            hint::DENY,
        ),
        Identity::Unconfined { .. } => needed(NAME, LayerState::Unavailable, NO_CONTEXT, hint::CONTEXT),
    }
}

fn network_layer(policy: &Policy, identity: &Identity) -> Outcome {
    const NAME: &str = "network";
    if policy.network {
        return layer(NAME, LayerState::NotRequested, "the policy allows the network");
    }
    match identity {
        Identity::SandboxUser { offline: true } => layer(
            NAME,
            LayerState::Active,
            format!(
                "traffic of {DEFAULT_OFFLINE_USER}, loopback included, blocked by cordon setup's firewall rule \
                 and filtering-platform filters"
            ),
        ),
        Identity::SandboxUser { offline: false } => needed(
            NAME,
            LayerState::Unavailable,
            format!("running as {DEFAULT_ONLINE_USER}, whose traffic no rule blocks"),
            hint::ONLINE,
        ),
        Identity::RestrictedToken => needed(
            NAME,
            LayerState::Unavailable,
            "restricted-token mode cannot block the network",
            hint::NETWORK,
        ),
        Identity::Unconfined { .. } => needed(NAME, LayerState::Unavailable, NO_CONTEXT, hint::CONTEXT),
    }
}

fn job_layer(runner_job: &Result<JobLimits, String>) -> Outcome {
    const NAME: &str = "job";
    let base = JobLimits { flags: RUNNER_JOB_LIMITS, ui: RUNNER_UI_LIMITS, ..JobLimits::default() };
    match runner_job {
        Err(e) => {
            needed(NAME, LayerState::Unavailable, format!("the runner's job cannot be read: {e}"), hint::JOB)
        }
        Ok(actual) => match base.missing_in(actual).as_slice() {
            [] => layer(NAME, LayerState::Active, "kill on close, no breakaway, every UI limit"),
            missing => needed(
                NAME,
                LayerState::Unavailable,
                format!("the runner's job reports {}", missing.join(", ")),
                hint::JOB,
            ),
        },
    }
}

/// The limits layer's entries, sorted by what became of them.
#[derive(Default)]
struct Tally {
    applied: Vec<String>,
    refused: Vec<String>,
    skipped: Vec<String>,
}

impl Tally {
    /// A limit asked for (which must be in force) or a default (which is
    /// reported where it is not), `in_force` in the runner's job.
    fn limit(&mut self, label: &str, asked: Option<u64>, default: Option<u64>, in_force: bool) {
        match (asked, default, in_force) {
            (Some(value), _, true) => self.applied.push(format!("{label}={value}")),
            (Some(value), _, false) => {
                self.refused.push(format!("{label}={value} is not in force in the runner's job"))
            }
            (None, Some(value), true) => self.applied.push(format!("{label}={value} (default)")),
            (None, Some(value), false) => {
                self.skipped.push(format!("default {label}={value} not applied (not in the runner's job)"))
            }
            (None, None, _) => {}
        }
    }
}

fn limits_layer(policy: &Policy, runner_job: &Result<JobLimits, String>) -> Outcome {
    const NAME: &str = "limits";
    let (asked, defaults) = (&policy.limits, &policy.default_limits);
    if asked.is_empty() && defaults.is_empty() {
        return layer(NAME, LayerState::NotRequested, "no limits requested");
    }
    let missing = match runner_job {
        Ok(actual) => job::runner_job(policy).missing_in(actual),
        Err(e) => vec![format!("the runner's job cannot be read ({e})")],
    };
    let in_force = |what: &str| runner_job.is_ok() && !missing.iter().any(|m| m.starts_with(what));
    let mut tally = Tally::default();
    tally.limit("sandbox processes", asked.processes, defaults.processes, in_force("process limit"));
    tally.limit("process memory", asked.memory, defaults.memory, in_force("process memory limit"));
    let total_default = if asked.total_memory().is_some() { None } else { defaults.total_memory() };
    tally.limit("sandbox memory", asked.total_memory(), total_default, in_force("job memory limit"));
    if let Some(seconds) = asked.cpu_time.or(defaults.cpu_time) {
        let default = if asked.cpu_time.is_none() { " (default)" } else { "" };
        tally
            .applied
            .push(format!("cpu seconds={seconds}{default} per command tree (its job's user-mode time)"));
    }
    let refused = job::unenforceable(asked);
    tally.refused.extend(refused.iter().map(|name| format!("{name} has no Windows equivalent")));
    for name in job::unenforceable(defaults).into_iter().filter(|name| !refused.contains(name)) {
        tally.skipped.push(format!("default {name} not applied (no Windows equivalent)"));
    }
    let Tally { applied, refused, skipped } = tally;
    let state = match (applied.is_empty(), refused.is_empty()) {
        (true, _) => LayerState::Unavailable,
        (false, true) => LayerState::Active,
        (false, false) => LayerState::Partial,
    };
    let detail = refused.iter().chain(&applied).chain(&skipped).cloned().collect::<Vec<_>>().join(", ");
    if refused.is_empty() { layer(NAME, state, detail) } else { needed(NAME, state, detail, hint::LIMITS) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windows::sid::{EVERYONE, capability_sid};
    use crate::{Limits, PolicyBuilder, Preset};

    const ALICE: &str = "S-1-5-21-1004336348-1177238915-682003330-1001";
    const OFFLINE: &str = "S-1-5-21-1004336348-1177238915-682003330-1005";
    const ONLINE: &str = "S-1-5-21-1004336348-1177238915-682003330-1006";
    const LOGON: &str = "S-1-5-5-0-315274";

    fn accounts() -> SandboxAccounts {
        SandboxAccounts { offline: Some(OFFLINE.into()), online: Some(ONLINE.into()) }
    }

    fn roots() -> Vec<PathBuf> {
        vec![PathBuf::from(r"C:\work"), PathBuf::from(r"C:\tmp\cordon-1")]
    }

    /// A token restricted as the launch restricts it.
    fn restricted_token() -> TokenFacts {
        TokenFacts {
            user_sid: ALICE.into(),
            logon_sid: Some(LOGON.into()),
            restricting_sids: Ok(restricted_token_plan(&roots(), LOGON).unwrap().restricting_sids),
            privileges: Ok(vec![SE_CHANGE_NOTIFY_PRIVILEGE]),
            integrity_rid: Ok(IntegrityLevel::Low.rid()),
            enabled_groups: Ok(vec![EVERYONE.into(), LOGON.into()]),
        }
    }

    fn plain_token(user: &str) -> TokenFacts {
        TokenFacts {
            user_sid: user.into(),
            logon_sid: Some(LOGON.into()),
            restricting_sids: Ok(Vec::new()),
            privileges: Ok(vec![SE_CHANGE_NOTIFY_PRIVILEGE, 19]),
            integrity_rid: Ok(IntegrityLevel::Medium.rid()),
            enabled_groups: Ok(vec![EVERYONE.into(), LOGON.into()]),
        }
    }

    /// A confining policy with the given network, denied paths and limits,
    /// and no default limits.
    fn policy(network: bool, deny: &[&str], limits: Limits) -> Policy {
        let dir = tempfile::tempdir().unwrap();
        let mut policy = PolicyBuilder::new(Preset::WorkspaceWrite)
            .cwd(dir.path())
            .network(network)
            .limits(limits)
            .default_limits(Limits::default())
            .build()
            .unwrap();
        policy.filesystem.deny = deny.iter().map(PathBuf::from).collect();
        policy
    }

    fn best_effort(mut policy: Policy) -> Policy {
        policy.best_effort = true;
        policy
    }

    fn state(report: &SandboxReport, name: &str) -> LayerState {
        report
            .layers
            .iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("no {name} layer: {report:?}"))
            .state
    }

    fn refused_layer(result: Result<SandboxReport, EnforceError>) -> &'static str {
        match result {
            Err(EnforceError::Layer { layer, .. }) => layer,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    const OFFLINE_USER: Identity = Identity::SandboxUser { offline: true };
    const ONLINE_USER: Identity = Identity::SandboxUser { offline: false };

    #[test]
    fn only_a_local_user_account_is_a_sandbox_account() {
        assert!(is_local_user("WORKSTATION", "workstation", SID_TYPE_USER));
        assert!(!is_local_user("CORP", "WORKSTATION", SID_TYPE_USER), "a domain account");
        assert!(!is_local_user("WORKSTATION", "WORKSTATION", 2), "a group");
        assert!(!is_local_user("", "", SID_TYPE_USER));
    }

    #[test]
    fn a_sandbox_user_is_known_by_its_token_user_sid() {
        assert_eq!(identify(&plain_token(OFFLINE), &accounts(), &roots()), OFFLINE_USER);
        assert_eq!(identify(&plain_token(ONLINE), &accounts(), &roots()), ONLINE_USER);
        assert_eq!(identify(&plain_token(&OFFLINE.to_lowercase()), &accounts(), &roots()), OFFLINE_USER);
    }

    #[test]
    fn the_callers_own_token_is_unconfined_whatever_the_accounts() {
        for accounts in [accounts(), SandboxAccounts::default()] {
            let identity = identify(&plain_token(ALICE), &accounts, &roots());
            assert!(
                matches!(&identity, Identity::Unconfined { reason } if reason.contains("no restricting SIDs")),
                "{identity:?}"
            );
        }
        // Without setup there are no accounts to match: nothing else is.
        let identity = identify(&plain_token(OFFLINE), &SandboxAccounts::default(), &roots());
        assert!(matches!(identity, Identity::Unconfined { .. }), "{identity:?}");
    }

    #[test]
    fn the_restricted_token_of_the_plan_is_recognised() {
        assert_eq!(identify(&restricted_token(), &accounts(), &roots()), Identity::RestrictedToken);
        // The order of the SIDs does not matter.
        let mut token = restricted_token();
        token.restricting_sids.as_mut().unwrap().reverse();
        assert_eq!(identify(&token, &accounts(), &roots()), Identity::RestrictedToken);
    }

    #[test]
    fn a_restricting_sid_beyond_the_plan_is_refused() {
        let mut token = restricted_token();
        token.restricting_sids.as_mut().unwrap().push(crate::windows::sid::USERS.into());
        let identity = identify(&token, &accounts(), &roots());
        assert!(
            matches!(&identity, Identity::Unconfined { reason } if reason.contains("S-1-5-32-545")),
            "{identity:?}"
        );
    }

    #[test]
    fn a_restricting_sid_missing_from_the_plan_is_refused() {
        let mut token = restricted_token();
        token.restricting_sids.as_mut().unwrap().retain(|sid| sid != &capability_sid(&roots()[1]));
        assert!(matches!(identify(&token, &accounts(), &roots()), Identity::Unconfined { .. }));
        // Only Everyone: a token restricted by something else entirely.
        token.restricting_sids = Ok(vec![EVERYONE.into()]);
        assert!(matches!(identify(&token, &accounts(), &roots()), Identity::Unconfined { .. }));
    }

    #[test]
    fn a_restricted_token_with_privileges_or_unreadable_sids_is_refused() {
        let mut token = restricted_token();
        token.privileges = Ok(vec![SE_CHANGE_NOTIFY_PRIVILEGE, 17]);
        assert!(matches!(identify(&token, &accounts(), &roots()), Identity::Unconfined { .. }));
        token.privileges = Err("denied".into());
        assert!(matches!(identify(&token, &accounts(), &roots()), Identity::Unconfined { .. }));
        let mut token = restricted_token();
        token.restricting_sids = Err("TokenRestrictedSids: not implemented".into());
        let identity = identify(&token, &accounts(), &roots());
        assert!(matches!(&identity, Identity::Unconfined { reason } if reason.contains("not implemented")));
        let mut token = restricted_token();
        token.logon_sid = None;
        assert!(matches!(identify(&token, &accounts(), &roots()), Identity::Unconfined { .. }));
    }

    #[test]
    fn a_restricted_token_at_medium_integrity_is_refused() {
        let mut token = restricted_token();
        token.integrity_rid = Ok(IntegrityLevel::Medium.rid());
        let identity = identify(&token, &accounts(), &roots());
        assert!(
            matches!(&identity, Identity::Unconfined { reason } if reason.contains("Medium integrity")),
            "{identity:?}"
        );
        token.integrity_rid = Err("TokenIntegrityLevel: denied".into());
        assert!(matches!(identify(&token, &accounts(), &roots()), Identity::Unconfined { .. }));
        token.integrity_rid = Ok(IntegrityLevel::Untrusted.rid());
        assert_eq!(identify(&token, &accounts(), &roots()), Identity::RestrictedToken);
    }

    #[test]
    fn a_token_with_an_enabled_administrators_group_is_never_a_sandbox() {
        let admin = crate::windows::sid::ADMINISTRATORS.to_string();
        let mut token = restricted_token();
        token.enabled_groups.as_mut().unwrap().push(admin.clone());
        let identity = identify(&token, &accounts(), &roots());
        assert!(
            matches!(&identity, Identity::Unconfined { reason } if reason.contains("S-1-5-32-544")),
            "{identity:?}"
        );
        // Not even a sandbox account made an administrator by hand.
        let mut token = plain_token(OFFLINE);
        token.enabled_groups.as_mut().unwrap().push(admin);
        assert!(matches!(identify(&token, &accounts(), &roots()), Identity::Unconfined { .. }));
        token.enabled_groups = Err("denied".into());
        assert!(matches!(identify(&token, &accounts(), &roots()), Identity::Unconfined { .. }));
    }

    #[test]
    fn restricted_token_mode_refuses_a_policy_without_network() {
        let policy = policy(false, &[], Limits::default());
        assert_eq!(refused_layer(launch_check(&policy, &Identity::RestrictedToken)), "network");
        let err = launch_check(&policy, &Identity::RestrictedToken).unwrap_err().to_string();
        assert!(err.contains("cordon setup") && err.contains("--best-effort"), "{err}");
        let report = launch_check(&best_effort(policy), &Identity::RestrictedToken).unwrap();
        assert_eq!(state(&report, "network"), LayerState::Unavailable);
        assert!(report.summary.contains("gaps in network"), "{}", report.summary);
    }

    #[test]
    fn restricted_token_mode_runs_a_policy_with_network_and_says_so() {
        let report = launch_check(&policy(true, &[], Limits::default()), &Identity::RestrictedToken).unwrap();
        assert_eq!(state(&report, "restricted-token"), LayerState::Active);
        assert_eq!(state(&report, "sandbox-user"), LayerState::NotRequested);
        assert_eq!(state(&report, "network"), LayerState::NotRequested);
        assert_eq!(state(&report, "job"), LayerState::Active);
        assert!(report.summary.contains("sandbox context") && report.summary.contains("every layer"));
    }

    #[test]
    fn a_refusal_names_every_layer_the_mode_cannot_enforce() {
        let limits = Limits { file_size: Some(1), ..Limits::default() };
        let policy = policy(false, &[r"C:\Users\me\.ssh"], limits);
        match launch_check(&policy, &Identity::RestrictedToken) {
            Err(EnforceError::Layer { layer, reason, .. }) => {
                assert_eq!(layer, "network");
                assert!(
                    reason.ends_with("(nor can this mode enforce the filesystem-deny, limits layer)"),
                    "{reason}"
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn restricted_token_mode_refuses_denied_paths_it_can_only_keep_from_writes() {
        let policy = policy(true, &[r"C:\Users\me\.ssh"], Limits::default());
        assert_eq!(refused_layer(launch_check(&policy, &Identity::RestrictedToken)), "filesystem-deny");
        let report = launch_check(&best_effort(policy), &Identity::RestrictedToken).unwrap();
        assert_eq!(state(&report, "filesystem-deny"), LayerState::Partial);
    }

    #[test]
    fn elevated_mode_enforces_network_off_and_denied_paths_as_the_offline_user() {
        let policy = policy(false, &[r"C:\Users\me\.ssh"], Limits::default());
        let report = launch_check(&policy, &OFFLINE_USER).unwrap();
        assert_eq!(state(&report, "network"), LayerState::Active);
        assert_eq!(state(&report, "filesystem-deny"), LayerState::Active);
        assert_eq!(state(&report, "sandbox-user"), LayerState::Active);
        assert_eq!(state(&report, "restricted-token"), LayerState::NotRequested);
        assert_eq!(refused_layer(launch_check(&policy, &ONLINE_USER)), "network");
    }

    #[test]
    fn an_unconfined_runner_is_refused_a_confining_policy_in_any_shape() {
        let unconfined = Identity::Unconfined { reason: "the token has no restricting SIDs".into() };
        for network in [false, true] {
            let policy = policy(network, &[], Limits::default());
            assert_eq!(refused_layer(launch_check(&policy, &unconfined)), "restricted-token");
        }
        let report = launch_check(&best_effort(policy(true, &[], Limits::default())), &unconfined).unwrap();
        assert!(report.summary.contains("no sandbox context"), "{}", report.summary);
        assert_eq!(state(&report, "restricted-token"), LayerState::Unavailable);
        assert_eq!(state(&report, "sandbox-user"), LayerState::Unavailable);
        // Full access asks for nothing and gets nothing.
        assert!(launch_check(&Policy::full_access(), &unconfined).unwrap().layers.is_empty());
    }

    #[test]
    fn both_modes_refuse_limits_windows_does_not_have() {
        for limits in [
            Limits { file_size: Some(1 << 20), ..Limits::default() },
            Limits { open_files: Some(64), ..Limits::default() },
        ] {
            for identity in [Identity::RestrictedToken, OFFLINE_USER] {
                let policy = policy(identity == Identity::RestrictedToken, &[], limits.clone());
                assert_eq!(refused_layer(launch_check(&policy, &identity)), "limits", "{limits:?}");
            }
        }
    }

    #[test]
    fn default_limits_windows_does_not_have_are_reported_not_refused() {
        let mut policy = policy(true, &[], Limits::default());
        policy.default_limits = Limits::preset_defaults();
        let report = launch_check(&policy, &Identity::RestrictedToken).unwrap();
        let limits = report.layers.iter().find(|l| l.name == "limits").unwrap();
        assert_eq!(limits.state, LayerState::Active);
        assert!(limits.detail.contains("sandbox processes=4096 (default)"), "{}", limits.detail);
        assert!(limits.detail.contains("default file_size not applied"), "{}", limits.detail);
    }

    #[test]
    fn asked_limits_must_be_in_the_runners_job() {
        let asked = Limits {
            processes: Some(8),
            sandbox_memory: Some(64 << 20),
            cpu_time: Some(5),
            ..Limits::default()
        };
        let policy = policy(true, &[], asked);
        let report = launch_check(&policy, &Identity::RestrictedToken).unwrap();
        let limits = report.layers.iter().find(|l| l.name == "limits").unwrap();
        assert_eq!(limits.state, LayerState::Active, "{limits:?}");
        for part in ["sandbox processes=8", "sandbox memory=67108864", "cpu seconds=5"] {
            assert!(limits.detail.contains(part), "{part}: {}", limits.detail);
        }
        // A job that lost the process limit (or cannot be read) refuses.
        let mut loose = job::runner_job(&policy);
        loose.flags &= !job::LIMIT_ACTIVE_PROCESS;
        let result = assess(&policy, &Identity::RestrictedToken, &Ok(loose));
        assert_eq!(refused_layer(result), "limits");
        let result = assess(&policy, &Identity::RestrictedToken, &Err("not in a job".into()));
        assert_eq!(refused_layer(result), "job");
    }

    #[test]
    fn a_job_without_kill_on_close_or_ui_limits_is_refused() {
        let policy = policy(true, &[], Limits::default());
        let zeros = JobLimits::default();
        assert_eq!(refused_layer(assess(&policy, &Identity::RestrictedToken, &Ok(zeros))), "job");
        let report = assess(&best_effort(policy), &Identity::RestrictedToken, &Ok(zeros)).unwrap();
        let job = report.layers.iter().find(|l| l.name == "job").unwrap();
        assert_eq!(job.state, LayerState::Unavailable);
        assert!(job.detail.contains("kill on close not set"), "{}", job.detail);
    }

    #[test]
    fn reads_confined_to_roots_are_refused_in_both_modes() {
        let mut policy = policy(true, &[], Limits::default());
        policy.filesystem.read_everything = false;
        for identity in [Identity::RestrictedToken, ONLINE_USER] {
            assert_eq!(refused_layer(launch_check(&policy, &identity)), "filesystem-read");
        }
    }
}
