//! Looking at a machine: what of a plan is in place, and the marker an
//! earlier setup left. Nothing here changes the machine.

use std::path::{Path, PathBuf};

use crate::plan::{
    DENIED_LOGON_RIGHTS, MARKER_FILE, ObservedAce, ObservedState, SetupMarker, SetupPlan, SetupStep,
    WfpFilter, hidden_user_value,
};
use cordon_sandbox::windows::path;
use cordon_sandbox::windows::sddl::AceKind;

use crate::credentials::Credentials;
use crate::host::{AccountKind, Host};
use crate::{ErrorCode, SetupError};

/// What [`observe`] found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observation {
    /// For [`SetupPlan::pending`] and [`SetupPlan::obsolete`].
    pub state: ObservedState,
    /// Protected paths that do not exist. Their deny steps count as done
    /// (there is nothing to deny yet); once a path exists, its step is
    /// pending again.
    pub absent: Vec<PathBuf>,
}

/// Where the marker of `state_dir` lives.
pub(crate) fn marker_path(state_dir: &Path) -> PathBuf {
    path::join(state_dir, MARKER_FILE)
}

/// The marker in `state_dir`, if there is one. A marker that does not parse,
/// or that records another state directory than the one it lies in, is an
/// error: it is a file its user can edit, and it decides what `remove`
/// deletes.
pub(crate) fn read_marker(host: &mut impl Host, state_dir: &Path) -> Result<Option<SetupMarker>, SetupError> {
    let path = marker_path(state_dir);
    let Some(content) = host.read_file(&path)? else {
        return Ok(None);
    };
    let marker: SetupMarker = serde_json::from_slice(&content).map_err(|err| {
        SetupError::new(
            ErrorCode::BadMarker,
            format!(
                "{} is not a cordon setup marker ({err}); fix or delete it, then run `cordon setup` again",
                path.display()
            ),
        )
    })?;
    if path::normalize(&marker.state_dir) != path::normalize(state_dir) {
        return Err(SetupError::new(
            ErrorCode::BadMarker,
            format!(
                "{} records the state directory {}, not the one it lies in; fix or delete it",
                path.display(),
                marker.state_dir.display()
            ),
        ));
    }
    Ok(Some(marker))
}

/// The SID of the local account `name` if it exists and is of `kind`.
pub(crate) fn sid_of(
    host: &mut impl Host,
    name: &str,
    kind: AccountKind,
) -> Result<Option<String>, SetupError> {
    Ok(host.account(name)?.filter(|account| account.kind == kind).map(|account| account.sid))
}

/// What of `plan` is in place on the machine, with `marker` (read by
/// [`read_marker`]) as the record of the last setup.
pub(crate) fn observe(
    host: &mut impl Host,
    plan: &SetupPlan,
    marker: Option<SetupMarker>,
) -> Result<Observation, SetupError> {
    let config = plan.marker();
    let mut state = ObservedState::default();
    let mut absent = Vec::new();

    let group_sid = sid_of(host, &config.group, AccountKind::Group)?;
    if group_sid.is_some() {
        state.groups.push(config.group.clone());
    }
    let users = [&config.offline_user, &config.online_user];
    let mut user_sids = Vec::new();
    for user in users {
        let sid = sid_of(host, user, AccountKind::User)?;
        if sid.is_some() {
            state.users.push(user.clone());
        }
        user_sids.push((user.clone(), sid));
    }
    if group_sid.is_some() {
        let members = host.members(&config.group)?;
        for (user, sid) in &user_sids {
            if sid.as_ref().is_some_and(|sid| members.contains(sid)) {
                state.memberships.push((user.clone(), config.group.clone()));
            }
        }
    }
    for user in users {
        if host.has_registry_value(&hidden_user_value(user))? {
            state.hidden_users.push(user.clone());
        }
    }
    for (user, sid) in &user_sids {
        if let Some(sid) = sid {
            let rights = host.account_rights(sid)?;
            let has = |right: &&str| rights.iter().any(|r| r.eq_ignore_ascii_case(right));
            if DENIED_LOGON_RIGHTS.iter().all(has) {
                state.logons_denied.push(user.clone());
            }
        }
    }

    for step in plan.steps() {
        match step {
            SetupStep::GrantWrite { .. } | SetupStep::DenyWrite { .. } => {
                let (path, trustee, kind) = step.ace().expect("an ACE step");
                let lookup =
                    |name: &str| if same_name(name, &config.group) { group_sid.clone() } else { None };
                let Ok(sid) = trustee.resolve(lookup) else {
                    continue;
                };
                let present = if host.path_exists(path) {
                    host.has_ace(path, &sid, kind)?
                } else if kind == AceKind::DenyWrite {
                    absent.push(path.to_path_buf());
                    true
                } else {
                    false
                };
                if present {
                    state.aces.push(ObservedAce { path: path.to_path_buf(), trustee: trustee.clone(), kind });
                }
            }
            SetupStep::FirewallBlockOutbound(rule) => {
                let sid = user_sids
                    .iter()
                    .find(|(user, _)| same_name(user, &rule.user))
                    .and_then(|(_, s)| s.clone());
                if let Some(sid) = sid
                    && host.has_firewall_rule(rule, &sid)?
                {
                    state.firewall_rules.push(rule.name.clone());
                }
            }
            SetupStep::WfpBlock { user } => {
                let exists = user_sids.iter().any(|(u, sid)| same_name(u, user) && sid.is_some());
                if exists && host.has_wfp_filters(&WfpFilter::block_all(user))? {
                    state.wfp_blocked.push(user.clone());
                }
            }
            SetupStep::StoreCredentials { path } => {
                state.credentials_stored = credentials_stored(host, path, &users);
            }
            _ => {}
        }
    }
    state.marker = marker;
    Ok(Observation { state, absent })
}

/// Whether the file at `path` opens and holds a password for each user that
/// this process can unprotect.
fn credentials_stored(host: &mut impl Host, path: &Path, users: &[&String]) -> bool {
    let Ok(Some(content)) = host.read_file(path) else {
        return false;
    };
    let Ok(credentials) = Credentials::from_json(&content, path) else {
        return false;
    };
    users.iter().all(|user| credentials.password_with(host, user).is_ok())
}

/// Whether two account names are one to Windows.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}
