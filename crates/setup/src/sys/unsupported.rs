//! Elsewhere than Windows: there is nothing to set up. Every operation
//! fails with `NotWindows`, and the process is never elevated.

use std::path::Path;

use crate::plan::{FirewallRule, RegistryDword, WfpFilter};
use cordon_sandbox::windows::integrity::Label;
use cordon_sandbox::windows::sddl::AceKind;

use crate::host::{Account, Host};
use crate::{ErrorCode, SetupError};

fn not_windows<T>() -> Result<T, SetupError> {
    Err(SetupError::new(
        ErrorCode::NotWindows,
        "cordon setup changes a Windows machine; this is not Windows, and there is nothing to set up",
    ))
}

/// This machine, which setup cannot change.
pub(crate) struct System;

impl System {
    pub(crate) fn new() -> Result<System, SetupError> {
        not_windows()
    }
}

/// Nothing to label elsewhere than Windows: the file's mode is the
/// sandbox's boundary there.
pub(crate) fn keep_from_sandbox(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// There is no `cordon-setup` to elevate elsewhere than Windows.
pub(crate) fn elevate_and_wait(_args: &[String]) -> Result<i32, SetupError> {
    not_windows()
}

impl Host for System {
    fn is_elevated(&mut self) -> bool {
        false
    }
    fn account(&mut self, _name: &str) -> Result<Option<Account>, SetupError> {
        not_windows()
    }
    fn members(&mut self, _group: &str) -> Result<Vec<String>, SetupError> {
        not_windows()
    }
    fn create_group(&mut self, _name: &str, _comment: &str) -> Result<(), SetupError> {
        not_windows()
    }
    fn create_user(&mut self, _name: &str, _password: &str, _comment: &str) -> Result<(), SetupError> {
        not_windows()
    }
    fn add_to_group(&mut self, _user: &str, _group: &str) -> Result<(), SetupError> {
        not_windows()
    }
    fn delete_user(&mut self, _name: &str) -> Result<(), SetupError> {
        not_windows()
    }
    fn delete_group(&mut self, _name: &str) -> Result<(), SetupError> {
        not_windows()
    }
    fn has_registry_value(&mut self, _value: &RegistryDword) -> Result<bool, SetupError> {
        not_windows()
    }
    fn set_registry_value(&mut self, _value: &RegistryDword) -> Result<(), SetupError> {
        not_windows()
    }
    fn delete_registry_value(&mut self, _value: &RegistryDword) -> Result<(), SetupError> {
        not_windows()
    }
    fn path_exists(&mut self, _path: &Path) -> bool {
        false
    }
    fn has_ace(&mut self, _path: &Path, _sid: &str, _kind: AceKind) -> Result<bool, SetupError> {
        not_windows()
    }
    fn add_ace(&mut self, _path: &Path, _sid: &str, _kind: AceKind) -> Result<(), SetupError> {
        not_windows()
    }
    fn remove_ace(&mut self, _path: &Path, _sid: &str, _kind: AceKind) -> Result<(), SetupError> {
        not_windows()
    }
    fn remove_label(&mut self, _path: &Path, _label: Label) -> Result<bool, SetupError> {
        not_windows()
    }
    fn remove_placeholder(&mut self, _path: &Path) -> Result<bool, SetupError> {
        not_windows()
    }
    fn owned_by_caller(&mut self, _path: &Path) -> Result<bool, SetupError> {
        not_windows()
    }
    fn has_firewall_rule(&mut self, _rule: &FirewallRule, _user_sid: &str) -> Result<bool, SetupError> {
        not_windows()
    }
    fn set_firewall_rule(&mut self, _rule: &FirewallRule, _user_sid: &str) -> Result<(), SetupError> {
        not_windows()
    }
    fn remove_firewall_rule(&mut self, _name: &str) -> Result<(), SetupError> {
        not_windows()
    }
    fn account_rights(&mut self, _sid: &str) -> Result<Vec<String>, SetupError> {
        not_windows()
    }
    fn add_account_rights(&mut self, _sid: &str, _rights: &[&str]) -> Result<(), SetupError> {
        not_windows()
    }
    fn remove_account_rights(&mut self, _sid: &str) -> Result<(), SetupError> {
        not_windows()
    }
    fn delete_profile(&mut self, _sid: &str) -> Result<(), SetupError> {
        not_windows()
    }
    fn own_user_sid(&mut self) -> Result<String, SetupError> {
        not_windows()
    }
    fn has_wfp_filters(&mut self, _filters: &[WfpFilter]) -> Result<bool, SetupError> {
        not_windows()
    }
    fn set_wfp_filters(&mut self, _filters: &[WfpFilter], _user_sid: &str) -> Result<(), SetupError> {
        not_windows()
    }
    fn remove_wfp_filters(&mut self, _filters: &[WfpFilter]) -> Result<(), SetupError> {
        not_windows()
    }
    fn firewall_switches(&mut self) -> Result<crate::matching::FirewallSwitches, SetupError> {
        not_windows()
    }
    fn new_password(&mut self) -> Result<String, SetupError> {
        not_windows()
    }
    fn protect(&mut self, _secret: &[u8]) -> Result<Vec<u8>, SetupError> {
        not_windows()
    }
    fn unprotect(&mut self, _blob: &[u8]) -> Result<Vec<u8>, SetupError> {
        not_windows()
    }
    fn read_file(&mut self, _path: &Path) -> Result<Option<Vec<u8>>, SetupError> {
        not_windows()
    }
    fn write_file(&mut self, _path: &Path, _content: &[u8]) -> Result<(), SetupError> {
        not_windows()
    }
    fn append_file(&mut self, _path: &Path, _content: &[u8]) -> Result<(), SetupError> {
        not_windows()
    }
    fn delete_file(&mut self, _path: &Path) -> Result<(), SetupError> {
        not_windows()
    }
}
