//! Carrying out a plan's steps on a [`Host`], and the checks that keep
//! setup from touching accounts it did not make.
//!
//! Setup marks the accounts it makes with a comment, which only an
//! administrator can change. An existing account without that comment is
//! never adopted (setup would reset its password and hand its group the
//! writable roots), and `remove` deletes only accounts with the comment, a
//! SID of a local account made on this machine, and (users) membership in
//! the group the marker names: the marker is a file its user can edit.

use std::path::Path;

use crate::plan::{
    DENIED_LOGON_RIGHTS, RemoveStep, SetupPlan, SetupStep, Trustee, WfpFilter, hidden_user_value,
};
use cordon_sandbox::windows::sddl::AceKind;

use crate::credentials::Credentials;
use crate::host::{Account, AccountKind, Host};
use crate::observe::{same_name, sid_of};
use crate::report::{Outcome, SetupReport};
use crate::{ErrorCode, SetupError};

/// The comment of the group setup makes.
pub(crate) const GROUP_COMMENT: &str = "cordon sandbox accounts (made by cordon setup)";
/// The comment of the users setup makes, before the SID of the Windows
/// user they are for ([`user_comment`]). An account with this comment
/// alone comes from a setup before accounts named their user.
pub(crate) const USER_COMMENT: &str = "cordon sandbox account (made by cordon setup)";

/// The comment of a sandbox user made for the Windows user `owner_sid`.
pub(crate) fn user_comment(owner_sid: &str) -> String {
    format!("{USER_COMMENT} for {owner_sid}")
}

/// Whose sandbox user a comment says an account is: `Some(None)` for one
/// made before accounts named their user, `Some(Some(sid))`, or `None` for
/// an account setup did not make.
fn comment_owner(comment: &str) -> Option<Option<&str>> {
    let rest = comment.strip_prefix(USER_COMMENT)?;
    if rest.is_empty() {
        return Some(None);
    }
    rest.strip_prefix(" for ").filter(|sid| cordon_sandbox::windows::sid::is_valid_sid(sid)).map(Some)
}

/// The first relative ID Windows gives an account created on the machine;
/// those below are built in (Administrator is 500, Guest 501).
const FIRST_CREATED_RID: u32 = 1000;

/// Whether `sid` is an account created on a machine or domain:
/// `S-1-5-21-X-Y-Z-RID` with a RID of at least 1000. Built-in groups
/// (`S-1-5-32-…`), well-known SIDs and built-in accounts are not.
pub(crate) fn is_created_account_sid(sid: &str) -> bool {
    let Some(rest) = sid.strip_prefix("S-1-5-21-") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('-').collect();
    parts.len() == 4
        && parts.iter().all(|part| part.parse::<u32>().is_ok())
        && parts[3].parse::<u32>().is_ok_and(|rid| rid >= FIRST_CREATED_RID)
}

/// Why `account`, called `name`, is not one setup made as a `kind`, if it
/// is not.
pub(crate) fn not_made_by_setup(name: &str, account: &Account, kind: AccountKind) -> Option<String> {
    let (what, comment) = match kind {
        AccountKind::Group => ("group", GROUP_COMMENT),
        _ => ("user", USER_COMMENT),
    };
    if account.kind != kind {
        Some(format!("{name} exists and is not a local {what}"))
    } else if !is_created_account_sid(&account.sid) {
        Some(format!("{name} ({}) is a built-in account", account.sid))
    } else if (kind == AccountKind::Group && account.comment != comment)
        || (kind != AccountKind::Group && comment_owner(&account.comment).is_none())
    {
        Some(format!(
            "{what} {name} exists and was not made by cordon setup (its comment is {:?})",
            account.comment
        ))
    } else {
        None
    }
}

/// Refuses a plan whose accounts exist without being setup's, or were set
/// up for another Windows user: the sandbox accounts are one pair per
/// machine, and setting them up again would change the passwords the
/// other user's launches log on with (and share one sandbox between two
/// users).
pub(crate) fn check_accounts_for_setup(host: &mut impl Host, plan: &SetupPlan) -> Result<(), SetupError> {
    let caller = host.own_user_sid()?;
    for step in plan.steps() {
        if let SetupStep::CreateUser { name, .. } = step
            && let Some(account) = host.account(name)?
            && let Some(Some(owner)) = comment_owner(&account.comment)
            && !owner.eq_ignore_ascii_case(&caller)
        {
            return Err(SetupError::new(
                ErrorCode::ForeignAccount,
                format!(
                    "the sandbox user {name} is set up for another Windows user ({owner}), not for you \
                     ({caller}): cordon's sandbox accounts are one pair per machine; run `cordon setup \
                     --remove` as that user first, or use restricted-token mode"
                ),
            ));
        }
    }
    for step in plan.steps() {
        let (name, kind) = match step {
            SetupStep::CreateGroup { name } => (name, AccountKind::Group),
            SetupStep::CreateUser { name, .. } => (name, AccountKind::User),
            _ => continue,
        };
        if let Some(account) = host.account(name)?
            && let Some(why) = not_made_by_setup(name, &account, kind)
        {
            return Err(SetupError::new(
                ErrorCode::ForeignAccount,
                format!("{why}; rename or delete it, then run `cordon setup` again"),
            ));
        }
    }
    Ok(())
}

/// Refuses removal steps that would delete an account setup did not make,
/// before anything is removed. `group` is the group the marker names.
pub(crate) fn check_accounts_for_removal(
    host: &mut impl Host,
    steps: &[RemoveStep],
    group: &str,
) -> Result<(), SetupError> {
    let mut members = None;
    for step in steps {
        let why = match step {
            RemoveStep::DeleteGroup { name } => {
                host.account(name)?.and_then(|account| not_made_by_setup(name, &account, AccountKind::Group))
            }
            RemoveStep::DeleteUser { name } => match host.account(name)? {
                None => None,
                Some(account) => match not_made_by_setup(name, &account, AccountKind::User) {
                    Some(why) => Some(why),
                    None => {
                        if members.is_none() {
                            let exists = sid_of(host, group, AccountKind::Group)?.is_some();
                            members = Some(if exists { host.members(group)? } else { Vec::new() });
                        }
                        let member = members.iter().flatten().any(|member| *member == account.sid);
                        (!member).then(|| format!("user {name} is not a member of {group}"))
                    }
                },
            },
            _ => None,
        };
        if let Some(why) = why {
            return Err(SetupError::new(
                ErrorCode::ForeignAccount,
                format!("{why}: not deleting an account cordon setup may not have made; nothing was removed"),
            ));
        }
    }
    Ok(())
}

/// Carries out steps on a host, recording what it did.
pub(crate) struct Executor<'h, H: Host> {
    host: &'h mut H,
    /// The passwords this run gave users, for `StoreCredentials`.
    passwords: Vec<(String, String)>,
    /// What was done.
    pub report: SetupReport,
}

impl<'h, H: Host> Executor<'h, H> {
    pub(crate) fn new(host: &'h mut H) -> Self {
        Executor { host, passwords: Vec::new(), report: SetupReport::default() }
    }

    /// The SID of the group an ACE step names.
    fn trustee_sid(&mut self, trustee: &Trustee) -> Result<Option<String>, SetupError> {
        match trustee {
            Trustee::Sid(sid) => Ok(Some(sid.clone())),
            Trustee::Group(name) => {
                let sid = sid_of(self.host, name, AccountKind::Group)?;
                match sid {
                    Some(sid) => Ok(Some(trustee.resolve(|_| Some(sid))?)),
                    None => Ok(None),
                }
            }
        }
    }

    /// Carries out one setup step.
    pub(crate) fn run(&mut self, step: &SetupStep) -> Result<(), SetupError> {
        let outcome = match step {
            SetupStep::CreateGroup { name } => {
                self.host.create_group(name, GROUP_COMMENT)?;
                Outcome::Done
            }
            SetupStep::CreateUser { name, .. } => {
                let password = self.host.new_password()?;
                let owner = self.host.own_user_sid()?;
                self.host.create_user(name, &password, &user_comment(&owner))?;
                self.passwords.retain(|(user, _)| !same_name(user, name));
                self.passwords.push((name.clone(), password));
                Outcome::Done
            }
            SetupStep::AddToGroup { user, group } => {
                self.host.add_to_group(user, group)?;
                Outcome::Done
            }
            SetupStep::HideFromLogonScreen { user } => {
                self.host.set_registry_value(&hidden_user_value(user))?;
                Outcome::Done
            }
            SetupStep::DenyLogons { user } => {
                let sid = sid_of(self.host, user, AccountKind::User)?.ok_or_else(|| {
                    SetupError::new(ErrorCode::Accounts, format!("user {user} does not exist"))
                })?;
                self.host.add_account_rights(&sid, DENIED_LOGON_RIGHTS)?;
                Outcome::Done
            }
            SetupStep::GrantWrite { .. } | SetupStep::DenyWrite { .. } => {
                let (path, trustee, kind) = step.ace().expect("an ACE step");
                self.add_ace(path, trustee, kind)?
            }
            SetupStep::FirewallBlockOutbound(rule) => {
                let sid = sid_of(self.host, &rule.user, AccountKind::User)?.ok_or_else(|| {
                    SetupError::new(ErrorCode::Accounts, format!("user {} does not exist", rule.user))
                })?;
                self.host.set_firewall_rule(rule, &sid)?;
                Outcome::Done
            }
            SetupStep::WfpBlock { user } => {
                let sid = sid_of(self.host, user, AccountKind::User)?.ok_or_else(|| {
                    SetupError::new(ErrorCode::Accounts, format!("user {user} does not exist"))
                })?;
                self.host.set_wfp_filters(&WfpFilter::block_all(user), &sid)?;
                Outcome::Done
            }
            SetupStep::StoreCredentials { path } => {
                self.store_credentials(path)?;
                Outcome::Done
            }
            SetupStep::WriteMarker { path, marker } => {
                let mut json = serde_json::to_vec_pretty(marker).expect("a marker serialises");
                json.push(b'\n');
                self.host.write_file(path, &json)?;
                Outcome::Done
            }
        };
        self.report.push(step, outcome);
        Ok(())
    }

    fn add_ace(&mut self, path: &Path, trustee: &Trustee, kind: AceKind) -> Result<Outcome, SetupError> {
        let sid = self.trustee_sid(trustee)?.ok_or_else(|| {
            SetupError::new(ErrorCode::Accounts, format!("{trustee} is not found on this machine"))
        })?;
        if !self.host.path_exists(path) {
            return match kind {
                AceKind::AllowModify => Err(missing_root(path)),
                AceKind::DenyWrite | AceKind::DenyAll => Ok(Outcome::Skipped {
                    reason: "it does not exist yet; run `cordon setup refresh` once it does".into(),
                }),
            };
        }
        self.host.add_ace(path, &sid, kind)?;
        Ok(Outcome::Done)
    }

    /// Stores this run's passwords, keeping the other users' entries of a
    /// readable file.
    fn store_credentials(&mut self, path: &Path) -> Result<(), SetupError> {
        let mut credentials = match self.host.read_file(path) {
            Ok(Some(content)) => Credentials::from_json(&content, path).unwrap_or_default(),
            _ => Credentials::new(),
        };
        let passwords = std::mem::take(&mut self.passwords);
        for (user, password) in &passwords {
            credentials.set_password_with(self.host, user, password)?;
        }
        self.host.write_file(path, &credentials.to_json())
    }

    /// Carries out one removal step (after [`check_accounts_for_removal`]).
    pub(crate) fn undo(&mut self, step: &RemoveStep) -> Result<(), SetupError> {
        let gone = |what: &str| Outcome::Skipped { reason: format!("{what} does not exist") };
        let outcome = match step {
            RemoveStep::RemoveFirewallRule { name } => {
                self.host.remove_firewall_rule(name)?;
                Outcome::Done
            }
            RemoveStep::RemoveWfpFilters { user } => {
                self.host.remove_wfp_filters(&WfpFilter::block_all(user))?;
                Outcome::Done
            }
            RemoveStep::RemoveAce { path, trustee, kind } => match self.trustee_sid(trustee)? {
                None => Outcome::Skipped {
                    reason: format!("{trustee} does not exist, so its ACEs name no account any more"),
                },
                Some(_) if !self.host.path_exists(path) => gone("the path"),
                Some(sid) => {
                    self.host.remove_ace(path, &sid, *kind)?;
                    Outcome::Done
                }
            },
            RemoveStep::ShowOnLogonScreen { user } => {
                self.host.delete_registry_value(&hidden_user_value(user))?;
                Outcome::Done
            }
            RemoveStep::RemoveLogonRights { user } => match sid_of(self.host, user, AccountKind::User)? {
                Some(sid) => {
                    self.host.remove_account_rights(&sid)?;
                    Outcome::Done
                }
                None => gone("the user"),
            },
            RemoveStep::DeleteUser { name } => match sid_of(self.host, name, AccountKind::User)? {
                Some(sid) => {
                    // The profile first: once the account is gone, nothing
                    // names whose profile it was.
                    self.host.delete_profile(&sid)?;
                    self.host.delete_user(name)?;
                    Outcome::Done
                }
                None => gone("the user"),
            },
            RemoveStep::DeleteGroup { name } => {
                if sid_of(self.host, name, AccountKind::Group)?.is_some() {
                    self.host.delete_group(name)?;
                    Outcome::Done
                } else {
                    gone("the group")
                }
            }
            RemoveStep::DeleteCredentials { path } | RemoveStep::DeleteMarker { path } => {
                self.host.delete_file(path)?;
                Outcome::Done
            }
        };
        self.report.push(step, outcome);
        Ok(())
    }
}

/// The error for a writable root that does not exist.
pub(crate) fn missing_root(path: &Path) -> SetupError {
    SetupError::new(
        ErrorCode::PathMissing,
        format!("writable root {} does not exist; create it or leave it out", path.display()),
    )
}

/// Whether a setup step changes only ACLs of paths (or the marker), which
/// the owner of the paths may do without elevation.
pub(crate) fn owner_may_do(step: &SetupStep) -> bool {
    matches!(step, SetupStep::GrantWrite { .. } | SetupStep::DenyWrite { .. } | SetupStep::WriteMarker { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: &str = "S-1-5-21-1004336348-1177238915-682003330";

    #[test]
    fn a_sandbox_users_comment_names_the_windows_user_it_is_for() {
        let sid = "S-1-5-21-1004336348-1177238915-682003330-1001";
        assert_eq!(comment_owner(&user_comment(sid)), Some(Some(sid)));
        assert_eq!(comment_owner(USER_COMMENT), Some(None), "a setup from before");
        assert_eq!(comment_owner(&format!("{USER_COMMENT} for BA")), None, "not a SID");
        assert_eq!(comment_owner(&format!("{USER_COMMENT}!")), None);
        assert_eq!(comment_owner("Alice"), None);
    }

    #[test]
    fn only_accounts_created_on_a_machine_count_as_created() {
        assert!(is_created_account_sid(&format!("{LOCAL}-1000")));
        assert!(is_created_account_sid(&format!("{LOCAL}-1013")));
        for sid in [
            format!("{LOCAL}-500"),
            format!("{LOCAL}-501"),
            format!("{LOCAL}-999"),
            "S-1-5-32-544".to_string(),
            "S-1-5-32-545".to_string(),
            "S-1-5-18".to_string(),
            "S-1-1-0".to_string(),
            format!("{LOCAL}-1000-1"),
            "S-1-5-21-1-2-1000".to_string(),
            format!("{LOCAL}-x"),
        ] {
            assert!(!is_created_account_sid(&sid), "{sid}");
        }
    }

    #[test]
    fn an_account_is_setups_only_with_its_kind_sid_and_comment() {
        let ours =
            Account { sid: format!("{LOCAL}-1005"), kind: AccountKind::User, comment: USER_COMMENT.into() };
        assert_eq!(not_made_by_setup("u", &ours, AccountKind::User), None);
        let group = Account { kind: AccountKind::Group, comment: GROUP_COMMENT.into(), ..ours.clone() };
        assert_eq!(not_made_by_setup("g", &group, AccountKind::Group), None);

        let administrator = Account { sid: format!("{LOCAL}-500"), ..ours.clone() };
        assert!(
            not_made_by_setup("Administrator", &administrator, AccountKind::User)
                .unwrap()
                .contains("built-in")
        );
        let someone = Account { comment: "Alice".into(), ..ours.clone() };
        assert!(
            not_made_by_setup("alice", &someone, AccountKind::User)
                .unwrap()
                .contains("not made by cordon setup")
        );
        assert!(not_made_by_setup("u", &ours, AccountKind::Group).unwrap().contains("not a local group"));
        let users =
            Account { sid: "S-1-5-32-545".into(), kind: AccountKind::Group, comment: GROUP_COMMENT.into() };
        assert!(not_made_by_setup("Users", &users, AccountKind::Group).is_some());
    }

    #[test]
    fn only_acl_and_marker_steps_are_for_an_owner_without_elevation() {
        let group = Trustee::Group("G".into());
        assert!(owner_may_do(&SetupStep::GrantWrite { path: r"C:\w".into(), trustee: group.clone() }));
        assert!(owner_may_do(&SetupStep::DenyWrite { path: r"C:\w\.git".into(), trustee: group }));
        assert!(!owner_may_do(&SetupStep::CreateGroup { name: "G".into() }));
        assert!(!owner_may_do(&SetupStep::StoreCredentials { path: r"C:\s\f".into() }));
    }
}
