//! Windows: the machine setup changes, one module per concern. Each
//! function carries out (or observes) one step of the plan.
//!
//! - [`accounts`]: the users and their group (NetApi, `LookupAccountNameW`).
//! - [`registry`]: hiding the users from the logon screen.
//! - [`acl`]: the group's ACEs on writable roots and protected paths.
//! - [`firewall`]: the rule that blocks the offline user (COM).
//! - [`rights`]: the accounts' logon rights (LSA) and profiles.
//! - [`wfp`]: the filtering-platform filters that block the offline user.
//! - [`dpapi`]: protecting the stored passwords.
//! - [`token`] and [`elevation`]: whether the process is elevated, and
//!   starting the running executable again, elevated.

mod accounts;
mod acl;
mod dpapi;
mod elevation;
mod firewall;
mod registry;
mod rights;
mod token;
mod util;
mod wfp;

use std::path::Path;

use crate::plan::{FirewallRule, RegistryDword, WfpFilter};
use cordon_sandbox::windows::integrity::Label;
use cordon_sandbox::windows::sddl::AceKind;

pub(crate) use elevation::elevate_and_wait;

use crate::host::{Account, Host};
use crate::{ErrorCode, SetupError, files};

/// Labels `path` Medium with no read up, inherited by what is created in
/// it ([`Label::MediumSecret`]).
pub(crate) fn keep_from_sandbox(path: &Path) -> std::io::Result<()> {
    cordon_sandbox::acl::set_label(path, Label::MediumSecret)
}

/// This Windows machine.
pub(crate) struct System;

impl System {
    pub(crate) fn new() -> Result<System, SetupError> {
        Ok(System)
    }
}

fn io_error(what: &str, path: &Path, err: std::io::Error) -> SetupError {
    SetupError::new(ErrorCode::Io, format!("{what} {}: {err}", path.display()))
}

impl Host for System {
    fn is_elevated(&mut self) -> bool {
        token::is_elevated()
    }

    fn account(&mut self, name: &str) -> Result<Option<Account>, SetupError> {
        accounts::account(name)
    }

    fn members(&mut self, group: &str) -> Result<Vec<String>, SetupError> {
        accounts::members(group)
    }

    fn create_group(&mut self, name: &str, comment: &str) -> Result<(), SetupError> {
        accounts::create_group(name, comment)
    }

    fn create_user(&mut self, name: &str, password: &str, comment: &str) -> Result<(), SetupError> {
        accounts::create_user(name, password, comment)
    }

    fn add_to_group(&mut self, user: &str, group: &str) -> Result<(), SetupError> {
        accounts::add_to_group(user, group)
    }

    fn delete_user(&mut self, name: &str) -> Result<(), SetupError> {
        accounts::delete_user(name)
    }

    fn delete_group(&mut self, name: &str) -> Result<(), SetupError> {
        accounts::delete_group(name)
    }

    fn has_registry_value(&mut self, value: &RegistryDword) -> Result<bool, SetupError> {
        registry::has_value(value)
    }

    fn set_registry_value(&mut self, value: &RegistryDword) -> Result<(), SetupError> {
        registry::set_value(value)
    }

    fn delete_registry_value(&mut self, value: &RegistryDword) -> Result<(), SetupError> {
        registry::delete_value(value)
    }

    fn path_exists(&mut self, path: &Path) -> bool {
        path.exists()
    }

    fn has_ace(&mut self, path: &Path, sid: &str, kind: AceKind) -> Result<bool, SetupError> {
        acl::has_ace(path, sid, kind)
    }

    fn add_ace(&mut self, path: &Path, sid: &str, kind: AceKind) -> Result<(), SetupError> {
        acl::add_ace(path, sid, kind)
    }

    fn remove_ace(&mut self, path: &Path, sid: &str, kind: AceKind) -> Result<(), SetupError> {
        acl::remove_ace(path, sid, kind)
    }

    fn remove_label(&mut self, path: &Path, label: Label) -> Result<bool, SetupError> {
        acl::remove_label(path, label)
    }

    fn remove_placeholder(&mut self, path: &Path) -> Result<bool, SetupError> {
        cordon_sandbox::placeholders::remove_if_placeholder(path)
            .map_err(|err| io_error("removing", path, err))
    }

    fn owned_by_caller(&mut self, path: &Path) -> Result<bool, SetupError> {
        acl::owned_by_caller(path)
    }

    fn has_firewall_rule(&mut self, rule: &FirewallRule, user_sid: &str) -> Result<bool, SetupError> {
        firewall::has_rule(rule, user_sid)
    }

    fn set_firewall_rule(&mut self, rule: &FirewallRule, user_sid: &str) -> Result<(), SetupError> {
        firewall::set_rule(rule, user_sid)
    }

    fn remove_firewall_rule(&mut self, name: &str) -> Result<(), SetupError> {
        firewall::remove_rule(name)
    }

    fn account_rights(&mut self, sid: &str) -> Result<Vec<String>, SetupError> {
        rights::of(sid)
    }

    fn add_account_rights(&mut self, sid: &str, rights: &[&str]) -> Result<(), SetupError> {
        rights::add(sid, rights)
    }

    fn remove_account_rights(&mut self, sid: &str) -> Result<(), SetupError> {
        rights::remove_all(sid)
    }

    fn delete_profile(&mut self, sid: &str) -> Result<(), SetupError> {
        rights::delete_profile(sid)
    }

    fn own_user_sid(&mut self) -> Result<String, SetupError> {
        cordon_win::own_user_sid().map_err(|e| SetupError::new(ErrorCode::Accounts, e.to_string()))
    }

    fn has_wfp_filters(&mut self, filters: &[WfpFilter]) -> Result<bool, SetupError> {
        wfp::has_all(filters)
    }

    fn set_wfp_filters(&mut self, filters: &[WfpFilter], user_sid: &str) -> Result<(), SetupError> {
        wfp::set(filters, user_sid)
    }

    fn remove_wfp_filters(&mut self, filters: &[WfpFilter]) -> Result<(), SetupError> {
        wfp::remove(filters)
    }

    fn firewall_switches(&mut self) -> Result<crate::matching::FirewallSwitches, SetupError> {
        firewall::switches()
    }

    fn new_password(&mut self) -> Result<String, SetupError> {
        accounts::new_password()
    }

    fn protect(&mut self, secret: &[u8]) -> Result<Vec<u8>, SetupError> {
        dpapi::protect(secret)
    }

    fn unprotect(&mut self, blob: &[u8]) -> Result<Vec<u8>, SetupError> {
        dpapi::unprotect(blob)
    }

    fn read_file(&mut self, path: &Path) -> Result<Option<Vec<u8>>, SetupError> {
        files::read(path).map_err(|err| io_error("reading", path, err))
    }

    fn write_file(&mut self, path: &Path, content: &[u8]) -> Result<(), SetupError> {
        files::write(path, content).map_err(|err| io_error("writing", path, err))
    }

    fn append_file(&mut self, path: &Path, content: &[u8]) -> Result<(), SetupError> {
        files::append(path, content).map_err(|err| io_error("writing", path, err))
    }

    fn delete_file(&mut self, path: &Path) -> Result<(), SetupError> {
        files::delete(path).map_err(|err| io_error("deleting", path, err))
    }
}
