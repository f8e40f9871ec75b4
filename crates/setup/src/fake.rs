//! An in-memory machine for the tests of what setup decides: accounts,
//! registry values, paths with their ACEs and owners, firewall rules,
//! files, and a log of every change in order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::matching::FirewallSwitches;
use crate::plan::{FirewallRule, FoundWfpFilter, RegistryDword, WfpCondition, WfpFilter};
use cordon_sandbox::windows::integrity::Label;
use cordon_sandbox::windows::path::normalize;
use cordon_sandbox::windows::sddl::AceKind;

use crate::host::{Account, AccountKind, Host};
use crate::{ErrorCode, SetupError};

const MACHINE: &str = "S-1-5-21-1004336348-1177238915-682003330";

#[derive(Debug, Default)]
pub(crate) struct FakeHost {
    pub elevated: bool,
    /// Lower-cased name to account.
    pub accounts: BTreeMap<String, Account>,
    pub passwords: BTreeMap<String, String>,
    /// Lower-cased group to lower-cased members.
    pub members: BTreeMap<String, BTreeSet<String>>,
    pub registry: BTreeSet<(String, String, u32)>,
    /// Normalised paths that exist.
    pub paths: BTreeSet<String>,
    /// Normalised paths the caller owns.
    pub owned: BTreeSet<String>,
    pub aces: BTreeSet<(String, String, AceKind)>,
    /// Normalised path to its explicit mandatory label.
    pub labels: BTreeMap<String, Label>,
    /// Normalised paths of placeholders (also in `paths`).
    pub placeholders: BTreeSet<String>,
    /// Rule name to the SID it is scoped to.
    pub rules: BTreeMap<String, String>,
    /// Profiles whose firewall is off (domain, private, public).
    pub firewall_off: [bool; 3],
    /// SID to the rights the policy gives it.
    pub rights: BTreeMap<String, BTreeSet<String>>,
    /// Filtering-platform filter keys to the SID they are scoped to and
    /// what the filter is.
    pub wfp: BTreeMap<u128, (String, FoundWfpFilter)>,
    /// SIDs that have a profile.
    pub profiles: BTreeSet<String>,
    /// The SID of the user running setup.
    pub caller_sid: String,
    /// Normalised path to content.
    pub files: BTreeMap<String, Vec<u8>>,
    pub next_rid: u32,
    pub passwords_made: u32,
    /// Every change, in order.
    pub log: Vec<String>,
    /// An operation (its log prefix) that fails.
    pub fail_on: Option<String>,
}

impl FakeHost {
    /// An elevated machine with these directories, owned by the caller.
    pub(crate) fn with_dirs(dirs: &[&str]) -> Self {
        let mut host = FakeHost {
            elevated: true,
            next_rid: 1001,
            caller_sid: format!("{MACHINE}-1000"),
            ..FakeHost::default()
        };
        for dir in dirs {
            host.paths.insert(normalize(Path::new(dir)));
            host.owned.insert(normalize(Path::new(dir)));
        }
        host
    }

    /// Adds an account that setup did not make.
    pub(crate) fn add_account(&mut self, name: &str, sid: &str, kind: AccountKind, comment: &str) {
        let account = Account { sid: sid.into(), kind, comment: comment.into() };
        self.accounts.insert(name.to_lowercase(), account);
    }

    pub(crate) fn sid(&self, name: &str) -> Option<String> {
        self.accounts.get(&name.to_lowercase()).map(|a| a.sid.clone())
    }

    pub(crate) fn has_ace_of(&self, path: &str, sid: &str, kind: AceKind) -> bool {
        self.aces.contains(&(normalize(Path::new(path)), sid.to_string(), kind))
    }

    fn change(&mut self, entry: String) -> Result<(), SetupError> {
        if self.fail_on.as_ref().is_some_and(|prefix| entry.starts_with(prefix.as_str())) {
            return Err(SetupError::new(ErrorCode::Accounts, format!("injected failure: {entry}")));
        }
        self.log.push(entry);
        Ok(())
    }

    fn create_account(&mut self, name: &str, kind: AccountKind, comment: &str) {
        let key = name.to_lowercase();
        if let Some(account) = self.accounts.get_mut(&key) {
            account.comment = comment.into();
            return;
        }
        let sid = format!("{MACHINE}-{}", self.next_rid);
        self.next_rid += 1;
        self.accounts.insert(key, Account { sid, kind, comment: comment.into() });
    }
}

impl Host for FakeHost {
    fn is_elevated(&mut self) -> bool {
        self.elevated
    }

    fn account(&mut self, name: &str) -> Result<Option<Account>, SetupError> {
        Ok(self.accounts.get(&name.to_lowercase()).cloned())
    }

    fn members(&mut self, group: &str) -> Result<Vec<String>, SetupError> {
        let names = self.members.get(&group.to_lowercase()).into_iter().flatten();
        Ok(names.filter_map(|name| self.sid(name)).collect())
    }

    fn create_group(&mut self, name: &str, comment: &str) -> Result<(), SetupError> {
        self.change(format!("create group {name}"))?;
        self.create_account(name, AccountKind::Group, comment);
        Ok(())
    }

    fn create_user(&mut self, name: &str, password: &str, comment: &str) -> Result<(), SetupError> {
        self.change(format!("create user {name}"))?;
        self.create_account(name, AccountKind::User, comment);
        self.passwords.insert(name.to_lowercase(), password.into());
        Ok(())
    }

    fn add_to_group(&mut self, user: &str, group: &str) -> Result<(), SetupError> {
        self.change(format!("add {user} to {group}"))?;
        self.members.entry(group.to_lowercase()).or_default().insert(user.to_lowercase());
        Ok(())
    }

    fn delete_user(&mut self, name: &str) -> Result<(), SetupError> {
        self.change(format!("delete user {name}"))?;
        self.accounts.remove(&name.to_lowercase());
        for members in self.members.values_mut() {
            members.remove(&name.to_lowercase());
        }
        Ok(())
    }

    fn delete_group(&mut self, name: &str) -> Result<(), SetupError> {
        self.change(format!("delete group {name}"))?;
        self.accounts.remove(&name.to_lowercase());
        self.members.remove(&name.to_lowercase());
        Ok(())
    }

    fn has_registry_value(&mut self, value: &RegistryDword) -> Result<bool, SetupError> {
        Ok(self.registry.contains(&(value.key.to_string(), value.name.to_lowercase(), value.value)))
    }

    fn set_registry_value(&mut self, value: &RegistryDword) -> Result<(), SetupError> {
        self.change(format!("set registry {}", value.name))?;
        self.registry.insert((value.key.to_string(), value.name.to_lowercase(), value.value));
        Ok(())
    }

    fn delete_registry_value(&mut self, value: &RegistryDword) -> Result<(), SetupError> {
        self.change(format!("delete registry {}", value.name))?;
        self.registry.retain(|(key, name, _)| !(key == value.key && *name == value.name.to_lowercase()));
        Ok(())
    }

    fn path_exists(&mut self, path: &Path) -> bool {
        self.paths.contains(&normalize(path))
    }

    fn has_ace(&mut self, path: &Path, sid: &str, kind: AceKind) -> Result<bool, SetupError> {
        Ok(self.aces.contains(&(normalize(path), sid.to_string(), kind)))
    }

    fn add_ace(&mut self, path: &Path, sid: &str, kind: AceKind) -> Result<(), SetupError> {
        self.change(format!("add {kind:?} {} {sid}", path.display()))?;
        self.aces.insert((normalize(path), sid.to_string(), kind));
        Ok(())
    }

    fn remove_ace(&mut self, path: &Path, sid: &str, kind: AceKind) -> Result<(), SetupError> {
        self.change(format!("remove {kind:?} {} {sid}", path.display()))?;
        self.aces.remove(&(normalize(path), sid.to_string(), kind));
        Ok(())
    }

    fn remove_label(&mut self, path: &Path, label: Label) -> Result<bool, SetupError> {
        if self.labels.get(&normalize(path)) != Some(&label) {
            return Ok(false);
        }
        self.change(format!("unlabel {label:?} {}", path.display()))?;
        self.labels.remove(&normalize(path));
        Ok(true)
    }

    fn remove_placeholder(&mut self, path: &Path) -> Result<bool, SetupError> {
        if !self.placeholders.contains(&normalize(path)) {
            return Ok(false);
        }
        self.change(format!("remove placeholder {}", path.display()))?;
        self.placeholders.remove(&normalize(path));
        self.paths.remove(&normalize(path));
        Ok(true)
    }

    fn owned_by_caller(&mut self, path: &Path) -> Result<bool, SetupError> {
        Ok(self.owned.contains(&normalize(path)))
    }

    fn has_firewall_rule(&mut self, rule: &FirewallRule, user_sid: &str) -> Result<bool, SetupError> {
        Ok(self.rules.get(&rule.name).is_some_and(|sid| sid == user_sid))
    }

    fn set_firewall_rule(&mut self, rule: &FirewallRule, user_sid: &str) -> Result<(), SetupError> {
        self.change(format!("firewall {}", rule.name))?;
        self.rules.insert(rule.name.clone(), user_sid.into());
        Ok(())
    }

    fn remove_firewall_rule(&mut self, name: &str) -> Result<(), SetupError> {
        self.change(format!("remove firewall {name}"))?;
        self.rules.remove(name);
        Ok(())
    }

    fn account_rights(&mut self, sid: &str) -> Result<Vec<String>, SetupError> {
        Ok(self.rights.get(sid).map(|rights| rights.iter().cloned().collect()).unwrap_or_default())
    }

    fn add_account_rights(&mut self, sid: &str, rights: &[&str]) -> Result<(), SetupError> {
        self.change(format!("rights {sid} {}", rights.join(",")))?;
        self.rights.entry(sid.into()).or_default().extend(rights.iter().map(|r| r.to_string()));
        Ok(())
    }

    fn remove_account_rights(&mut self, sid: &str) -> Result<(), SetupError> {
        self.change(format!("remove rights {sid}"))?;
        self.rights.remove(sid);
        Ok(())
    }

    fn delete_profile(&mut self, sid: &str) -> Result<(), SetupError> {
        self.change(format!("delete profile {sid}"))?;
        self.profiles.remove(sid);
        Ok(())
    }

    fn has_wfp_filters(&mut self, filters: &[WfpFilter]) -> Result<bool, SetupError> {
        Ok(filters
            .iter()
            .all(|filter| self.wfp.get(&filter.key).is_some_and(|(_, found)| filter.is_in_force(found))))
    }

    fn set_wfp_filters(&mut self, filters: &[WfpFilter], user_sid: &str) -> Result<(), SetupError> {
        self.change(format!("wfp {} filters {user_sid}", filters.len()))?;
        self.wfp.extend(filters.iter().map(|filter| {
            let found = FoundWfpFilter {
                layer: Some(filter.layer),
                blocks: true,
                conditions: vec![WfpCondition::User],
            };
            (filter.key, (user_sid.to_string(), found))
        }));
        Ok(())
    }

    fn remove_wfp_filters(&mut self, filters: &[WfpFilter]) -> Result<(), SetupError> {
        self.change(format!("remove wfp {} filters", filters.len()))?;
        for filter in filters {
            self.wfp.remove(&filter.key);
        }
        Ok(())
    }

    fn firewall_switches(&mut self) -> Result<FirewallSwitches, SetupError> {
        Ok(FirewallSwitches {
            enabled: self.firewall_off.map(|off| !off),
            local_policy_modify_state: crate::matching::MODIFY_STATE_OK,
        })
    }

    fn own_user_sid(&mut self) -> Result<String, SetupError> {
        Ok(self.caller_sid.clone())
    }

    fn new_password(&mut self) -> Result<String, SetupError> {
        self.passwords_made += 1;
        Ok(format!("Password#{}", self.passwords_made))
    }

    fn protect(&mut self, secret: &[u8]) -> Result<Vec<u8>, SetupError> {
        Ok(b"dpapi:".iter().chain(secret.iter().rev()).copied().collect())
    }

    fn unprotect(&mut self, blob: &[u8]) -> Result<Vec<u8>, SetupError> {
        match blob.strip_prefix(b"dpapi:") {
            Some(secret) => Ok(secret.iter().rev().copied().collect()),
            None => Err(SetupError::new(ErrorCode::Dpapi, "not a blob of this user")),
        }
    }

    fn read_file(&mut self, path: &Path) -> Result<Option<Vec<u8>>, SetupError> {
        Ok(self.files.get(&normalize(path)).cloned())
    }

    fn write_file(&mut self, path: &Path, content: &[u8]) -> Result<(), SetupError> {
        self.change(format!("write {}", path.display()))?;
        self.files.insert(normalize(path), content.to_vec());
        Ok(())
    }

    fn append_file(&mut self, path: &Path, content: &[u8]) -> Result<(), SetupError> {
        self.change(format!("append {}", path.display()))?;
        self.files.entry(normalize(path)).or_default().extend_from_slice(content);
        Ok(())
    }

    fn delete_file(&mut self, path: &Path) -> Result<(), SetupError> {
        self.change(format!("delete {}", path.display()))?;
        self.files.remove(&normalize(path));
        Ok(())
    }
}
