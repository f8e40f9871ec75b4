//! The contract between what setup decides and the machine it changes.
//!
//! [`Host`] is every question setup asks a machine and every change it
//! makes there, one small operation each. `sys::System` is the real one (on
//! Windows; elsewhere every operation fails with `NotWindows`); the tests
//! of the orchestration use an in-memory one. Each operation is idempotent
//! where the step it serves is: creating what exists, or deleting what is
//! gone, succeeds.

use std::path::Path;

use crate::matching::FirewallSwitches;
use crate::plan::{FirewallRule, RegistryDword, WfpFilter};
use cordon_sandbox::windows::integrity::Label;
use cordon_sandbox::windows::sddl::AceKind;

use crate::SetupError;

/// What kind of account a name is on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountKind {
    /// A local user.
    User,
    /// A local group (an alias, in Windows' terms).
    Group,
    /// Something else: a well-known SID, a domain account, …
    #[cfg_attr(not(windows), allow(dead_code))]
    Other,
}

/// A local account as the machine describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    /// Its SID, as a string.
    pub sid: String,
    /// User, group or other.
    pub kind: AccountKind,
    /// Its comment (what setup writes there marks the accounts it made).
    pub comment: String,
}

/// One machine, as setup sees it.
pub(crate) trait Host {
    /// Whether the process runs with an elevated (administrator) token.
    fn is_elevated(&mut self) -> bool;

    /// The local account called `name`, if there is one.
    fn account(&mut self, name: &str) -> Result<Option<Account>, SetupError>;
    /// The SIDs of the members of the local group `group` (SIDs, not names:
    /// a domain account can have a local account's name).
    fn members(&mut self, group: &str) -> Result<Vec<String>, SetupError>;
    /// Creates the local group, with `comment`; succeeds if it exists.
    fn create_group(&mut self, name: &str, comment: &str) -> Result<(), SetupError>;
    /// Creates the local user with this password and comment, or gives the
    /// existing one this password and comment.
    fn create_user(&mut self, name: &str, password: &str, comment: &str) -> Result<(), SetupError>;
    /// Makes `user` a member of `group`; succeeds if it is one.
    fn add_to_group(&mut self, user: &str, group: &str) -> Result<(), SetupError>;
    /// Deletes the local user; succeeds if it does not exist.
    fn delete_user(&mut self, name: &str) -> Result<(), SetupError>;
    /// Deletes the local group; succeeds if it does not exist.
    fn delete_group(&mut self, name: &str) -> Result<(), SetupError>;

    /// Whether the DWORD value exists with its data.
    fn has_registry_value(&mut self, value: &RegistryDword) -> Result<bool, SetupError>;
    /// Sets the DWORD value, creating its key.
    fn set_registry_value(&mut self, value: &RegistryDword) -> Result<(), SetupError>;
    /// Deletes the value; succeeds if it does not exist.
    fn delete_registry_value(&mut self, value: &RegistryDword) -> Result<(), SetupError>;

    /// Whether `path` exists (a file or a directory).
    fn path_exists(&mut self, path: &Path) -> bool;
    /// Whether `path`'s DACL has an explicit ACE of `kind` for `sid`, with
    /// exactly the mask and inheritance cordon sets.
    fn has_ace(&mut self, path: &Path, sid: &str, kind: AceKind) -> Result<bool, SetupError>;
    /// Makes `path`'s explicit ACE of `kind` for `sid` exactly cordon's
    /// (replacing one of that kind with another mask).
    fn add_ace(&mut self, path: &Path, sid: &str, kind: AceKind) -> Result<(), SetupError>;
    /// Removes `path`'s explicit ACEs of `kind` for `sid`; succeeds if there
    /// are none or the path does not exist.
    fn remove_ace(&mut self, path: &Path, sid: &str, kind: AceKind) -> Result<(), SetupError>;
    /// Takes `path`'s mandatory label off if it is `label`; whether it was.
    fn remove_label(&mut self, path: &Path, label: Label) -> Result<bool, SetupError>;
    /// Removes the placeholder at `path` if it is one and no launch holds
    /// it; whether it was removed.
    fn remove_placeholder(&mut self, path: &Path) -> Result<bool, SetupError>;
    /// Whether the user running this process owns `path`.
    fn owned_by_caller(&mut self, path: &Path) -> Result<bool, SetupError>;

    /// Whether the rule is there, enabled, with exactly its content and
    /// scoped to `user_sid`.
    fn has_firewall_rule(&mut self, rule: &FirewallRule, user_sid: &str) -> Result<bool, SetupError>;
    /// Makes the rule exactly `rule`, scoped to `user_sid` (replacing rules
    /// of the same name).
    fn set_firewall_rule(&mut self, rule: &FirewallRule, user_sid: &str) -> Result<(), SetupError>;
    /// Deletes every rule with this name; succeeds if there is none.
    fn remove_firewall_rule(&mut self, name: &str) -> Result<(), SetupError>;
    /// Whether every one of `filters` is in the filtering platform and
    /// blocks all it should ([`WfpFilter::is_in_force`]).
    fn has_wfp_filters(&mut self, filters: &[WfpFilter]) -> Result<bool, SetupError>;
    /// Adds `filters` (replacing filters of the same keys), scoped to
    /// `user_sid`, persistent, in one transaction.
    fn set_wfp_filters(&mut self, filters: &[WfpFilter], user_sid: &str) -> Result<(), SetupError>;
    /// Deletes `filters`; succeeds for those that are not there.
    fn remove_wfp_filters(&mut self, filters: &[WfpFilter]) -> Result<(), SetupError>;
    /// Whether the firewall is on for each profile, and whether local rules
    /// take effect.
    fn firewall_switches(&mut self) -> Result<FirewallSwitches, SetupError>;

    /// The rights the local security policy gives (or denies) the account
    /// `sid` (`SeDenyNetworkLogonRight`, …).
    fn account_rights(&mut self, sid: &str) -> Result<Vec<String>, SetupError>;
    /// Adds these rights to the account `sid`.
    fn add_account_rights(&mut self, sid: &str, rights: &[&str]) -> Result<(), SetupError>;
    /// Removes every right of the account `sid` from the policy.
    fn remove_account_rights(&mut self, sid: &str) -> Result<(), SetupError>;
    /// Deletes the profile of the account `sid`; succeeds if it has none.
    fn delete_profile(&mut self, sid: &str) -> Result<(), SetupError>;

    /// The SID of the Windows user running setup.
    fn own_user_sid(&mut self) -> Result<String, SetupError>;

    /// A fresh password for a sandbox account.
    fn new_password(&mut self) -> Result<String, SetupError>;
    /// `secret` protected for the user running this process (DPAPI).
    fn protect(&mut self, secret: &[u8]) -> Result<Vec<u8>, SetupError>;
    /// The secret in a blob that [`Host::protect`] made.
    fn unprotect(&mut self, blob: &[u8]) -> Result<Vec<u8>, SetupError>;

    /// The file's content, or `None` if it does not exist.
    fn read_file(&mut self, path: &Path) -> Result<Option<Vec<u8>>, SetupError>;
    /// Replaces the file's content (all or nothing), creating its directory.
    fn write_file(&mut self, path: &Path, content: &[u8]) -> Result<(), SetupError>;
    /// Adds `content` at the end of the file in one write, creating it and
    /// its directory.
    fn append_file(&mut self, path: &Path, content: &[u8]) -> Result<(), SetupError>;
    /// Deletes the file; succeeds if it does not exist.
    fn delete_file(&mut self, path: &Path) -> Result<(), SetupError>;
}
