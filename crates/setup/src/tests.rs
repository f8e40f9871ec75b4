//! What setup does to a machine, end to end on an in-memory one.

use std::path::{Path, PathBuf};

use crate::plan::{
    DEFAULT_GROUP, DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER, DENIED_LOGON_RIGHTS, FoundWfpFilter,
    SetupMarker, WfpCondition,
};
use cordon_sandbox::windows::sddl::AceKind;

use super::*;
use crate::credentials::Credentials;
use crate::fake::FakeHost;
use crate::host::AccountKind;

const STATE: &str = r"C:\Users\alice\AppData\Local\cordon";
const MARKER: &str = r"C:\Users\alice\AppData\Local\cordon\setup.json";
const CREDENTIALS: &str = r"C:\Users\alice\AppData\Local\cordon\sandbox-users.dpapi";
const RULE: &str = "cordon: block outbound for CordonSandboxOffline";

/// Options protecting two names, so that plans stay short: the mechanics
/// are the same for every name.
fn options(roots: &[&str]) -> SetupOptions {
    SetupOptions {
        state_dir: Some(STATE.into()),
        protected_names: vec![".git".into(), ".cordon".into()],
        ..SetupOptions::new(roots.iter().map(PathBuf::from).collect())
    }
}

/// A machine with `C:\work` and its `.git`, set up for `C:\work`.
fn set_up() -> FakeHost {
    let mut host = FakeHost::with_dirs(&[r"C:\work", r"C:\work\.git"]);
    apply_on(&mut host, &options(&[r"C:\work"])).unwrap();
    host.log.clear();
    host
}

fn marker(host: &FakeHost) -> Option<SetupMarker> {
    let content = host.files.get(&path::normalize(Path::new(MARKER)))?;
    Some(serde_json::from_slice(content).unwrap())
}

fn group_sid(host: &FakeHost) -> String {
    host.sid(DEFAULT_GROUP).unwrap()
}

#[test]
fn apply_on_a_fresh_machine_makes_everything_and_writes_the_marker_last() {
    let mut host = FakeHost::with_dirs(&[r"C:\work", r"C:\work\.git"]);
    let report = apply_on(&mut host, &options(&[r"C:\work"])).unwrap();

    assert_eq!(
        host.log,
        vec![
            "create group CordonSandboxUsers".to_string(),
            "create user CordonSandboxOffline".into(),
            "create user CordonSandboxOnline".into(),
            "add CordonSandboxOffline to CordonSandboxUsers".into(),
            "add CordonSandboxOnline to CordonSandboxUsers".into(),
            "set registry CordonSandboxOffline".into(),
            "set registry CordonSandboxOnline".into(),
            format!("rights {} {}", host.sid(DEFAULT_OFFLINE_USER).unwrap(), DENIED_LOGON_RIGHTS.join(",")),
            format!("rights {} {}", host.sid(DEFAULT_ONLINE_USER).unwrap(), DENIED_LOGON_RIGHTS.join(",")),
            format!(r"add AllowModify C:\work {}", group_sid(&host)),
            format!(r"add DenyWrite C:\work\.git {}", group_sid(&host)),
            format!("firewall {RULE}"),
            format!("wfp 4 filters {}", host.sid(DEFAULT_OFFLINE_USER).unwrap()),
            format!("write {CREDENTIALS}"),
            format!("write {MARKER}"),
        ]
    );
    assert_eq!(host.rules[RULE], host.sid(DEFAULT_OFFLINE_USER).unwrap());
    assert_eq!(marker(&host).unwrap().writable_roots, vec![PathBuf::from(r"C:\work")]);
    let skipped: Vec<_> = report.skipped().collect();
    assert_eq!(skipped.len(), 1, "{report}");
    assert_eq!(skipped[0].0, r"keep C:\work\.cordon read-only for group CordonSandboxUsers");
    assert!(skipped[0].1.contains("does not exist yet"), "{report}");
}

#[test]
fn every_account_and_ace_setup_makes_is_the_groups() {
    let host = set_up();
    let group = group_sid(&host);
    for user in [DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER] {
        assert!(host.members[&DEFAULT_GROUP.to_lowercase()].contains(&user.to_lowercase()));
        assert_eq!(host.accounts[&user.to_lowercase()].comment, steps::user_comment(&host.caller_sid));
    }
    assert!(host.has_ace_of(r"C:\work", &group, AceKind::AllowModify));
    assert!(host.has_ace_of(r"C:\work\.git", &group, AceKind::DenyWrite));
    assert_eq!(host.aces.len(), 2);
}

#[test]
fn apply_twice_changes_nothing_the_second_time() {
    let mut host = set_up();
    let report = apply_on(&mut host, &options(&[r"C:\work"])).unwrap();
    assert_eq!(host.log, Vec::<String>::new());
    assert_eq!(report, SetupReport::default());
    assert_eq!(report.to_string(), "nothing to do\n");
}

#[test]
fn check_reports_every_step_pending_on_a_fresh_machine_and_none_after_apply() {
    let mut host = FakeHost::with_dirs(&[r"C:\work", r"C:\work\.git"]);
    host.elevated = false;
    let before = check_on(&mut host, &options(&[r"C:\work"])).unwrap();
    assert_eq!(before.marker_version, None);
    assert!(before.items.iter().all(|item| item.state == ItemState::Pending), "{before}");
    assert_eq!(before.items.len(), 16);
    assert!(host.log.is_empty(), "check changes nothing");

    host.elevated = true;
    apply_on(&mut host, &options(&[r"C:\work"])).unwrap();
    host.elevated = false;
    let after = check_on(&mut host, &options(&[r"C:\work"])).unwrap();
    assert!(after.is_complete(), "{after}");
    assert_eq!(after.marker_version, Some(SETUP_VERSION));
    let absent: Vec<&str> =
        after.items.iter().filter(|i| i.state == ItemState::Absent).map(|i| i.step.as_str()).collect();
    assert_eq!(absent, vec![r"keep C:\work\.cordon read-only for group CordonSandboxUsers"]);
}

#[test]
fn protected_path_created_after_setup_becomes_pending() {
    let mut host = set_up();
    host.paths.insert(path::normalize(Path::new(r"C:\work\.cordon")));
    let status = check_on(&mut host, &options(&[r"C:\work"])).unwrap();
    let pending: Vec<&str> = status.pending().map(|i| i.step.as_str()).collect();
    assert_eq!(pending, vec![r"keep C:\work\.cordon read-only for group CordonSandboxUsers"]);
}

#[test]
fn apply_without_elevation_is_refused_before_any_change() {
    let mut host = FakeHost::with_dirs(&[r"C:\work"]);
    host.elevated = false;
    let err = apply_on(&mut host, &options(&[r"C:\work"])).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotElevated);
    assert!(host.log.is_empty());
}

#[test]
fn apply_with_a_missing_root_fails_before_any_change() {
    let mut host = FakeHost::with_dirs(&[r"C:\work"]);
    let err = apply_on(&mut host, &options(&[r"C:\work", r"D:\missing"])).unwrap_err();
    assert_eq!(err.code, ErrorCode::PathMissing);
    assert!(err.message.contains(r"D:\missing"), "{err}");
    assert!(host.log.is_empty());
}

#[test]
fn invalid_options_are_the_plans_errors() {
    let mut host = FakeHost::with_dirs(&[]);
    let err = apply_on(&mut host, &options(&["relative"])).unwrap_err();
    assert_eq!(err.number(), 104);
    let err = check_on(&mut host, &options(&[r"C:\Users\alice"])).unwrap_err();
    assert_eq!(err.number(), 109, "{err}");
}

#[test]
fn existing_user_setup_did_not_make_is_never_adopted() {
    let mut host = FakeHost::with_dirs(&[r"C:\work"]);
    host.add_account(DEFAULT_OFFLINE_USER, "S-1-5-21-1-2-3-1010", AccountKind::User, "Alice's test account");
    let err = apply_on(&mut host, &options(&[r"C:\work"])).unwrap_err();
    assert_eq!(err.code, ErrorCode::ForeignAccount);
    assert!(err.message.contains("not made by cordon setup"), "{err}");
    assert!(host.log.is_empty());
}

#[test]
fn existing_group_setup_did_not_make_is_never_given_the_roots() {
    let mut host = FakeHost::with_dirs(&[r"C:\work"]);
    host.add_account(DEFAULT_GROUP, "S-1-5-21-1-2-3-1010", AccountKind::Group, "Family");
    let err = apply_on(&mut host, &options(&[r"C:\work"])).unwrap_err();
    assert_eq!(err.code, ErrorCode::ForeignAccount);
    assert!(host.log.is_empty());
}

#[test]
fn failure_midway_leaves_no_marker_and_a_second_run_finishes() {
    let mut host = FakeHost::with_dirs(&[r"C:\work"]);
    host.fail_on = Some("firewall".into());
    let err = apply_on(&mut host, &options(&[r"C:\work"])).unwrap_err();
    assert!(err.message.contains("injected"), "{err}");
    assert_eq!(marker(&host), None);
    assert!(!host.files.contains_key(&path::normalize(Path::new(CREDENTIALS))));

    // Without a marker nothing counts as done: the second run does every
    // step again, each of them idempotent.
    host.fail_on = None;
    host.log.clear();
    apply_on(&mut host, &options(&[r"C:\work"])).unwrap();
    assert_eq!(host.log.first().unwrap(), "create group CordonSandboxUsers");
    assert!(host.log.contains(&format!("firewall {RULE}")));
    assert_eq!(host.log.last().unwrap(), &format!("write {MARKER}"));
    assert_eq!(host.accounts.len(), 3);
    assert!(check_on(&mut host, &options(&[r"C:\work"])).unwrap().is_complete());
}

#[test]
fn stored_passwords_are_the_ones_the_users_were_given() {
    let mut host = set_up();
    let content = host.files[&path::normalize(Path::new(CREDENTIALS))].clone();
    let credentials = Credentials::from_json(&content, Path::new(CREDENTIALS)).unwrap();
    for user in [DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER] {
        let stored = credentials.password_with(&mut host, user).unwrap();
        assert_eq!(stored, host.passwords[&user.to_lowercase()]);
    }
    assert!(!String::from_utf8_lossy(&content).contains("Password#"), "the file holds blobs only");
}

#[test]
fn unreadable_credentials_give_both_users_new_passwords() {
    let mut host = set_up();
    host.files.insert(path::normalize(Path::new(CREDENTIALS)), b"{}".to_vec());
    let old = host.passwords.clone();
    apply_on(&mut host, &options(&[r"C:\work"])).unwrap();
    assert_eq!(
        host.log,
        vec![
            "create user CordonSandboxOffline".to_string(),
            "create user CordonSandboxOnline".into(),
            format!("write {CREDENTIALS}"),
        ]
    );
    assert_ne!(host.passwords, old);
    assert!(check_on(&mut host, &options(&[r"C:\work"])).unwrap().is_complete());
}

#[test]
fn dropped_root_stops_being_writable() {
    let mut host = FakeHost::with_dirs(&[r"C:\work", r"D:\tmp", r"D:\tmp\.git"]);
    apply_on(&mut host, &options(&[r"C:\work", r"D:\tmp"])).unwrap();
    let group = group_sid(&host);
    host.log.clear();

    apply_on(&mut host, &options(&[r"C:\work"])).unwrap();
    assert_eq!(
        host.log,
        vec![
            format!(r"remove AllowModify D:\tmp {group}"),
            format!(r"remove DenyWrite D:\tmp\.git {group}"),
            format!("write {MARKER}"),
        ]
    );
    assert!(!host.has_ace_of(r"D:\tmp", &group, AceKind::AllowModify));
    assert!(host.has_ace_of(r"C:\work", &group, AceKind::AllowModify));
}

#[test]
fn remove_undoes_everything() {
    let mut host = set_up();
    let sids: Vec<String> =
        [DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER].iter().map(|user| host.sid(user).unwrap()).collect();
    assert!(sids.iter().all(|sid| host.rights.contains_key(sid)), "setup denied their logons");
    // Their first logons made their profiles.
    host.profiles.extend(sids.iter().cloned());
    let report = remove_on(&mut host, Path::new(STATE)).unwrap();
    assert!(host.rights.is_empty(), "no rights left in the policy: {:?}", host.rights);
    assert!(host.wfp.is_empty(), "no filter left: {:?}", host.wfp);
    assert!(host.profiles.is_empty(), "no profile left: {:?}", host.profiles);
    let profile = host.log.iter().position(|line| line == &format!("delete profile {}", sids[0])).unwrap();
    let user = host.log.iter().position(|line| line == "delete user CordonSandboxOffline").unwrap();
    assert!(profile < user, "the profile goes while its SID still names an account: {:?}", host.log);
    assert!(host.accounts.is_empty(), "{:?}", host.accounts);
    assert!(host.aces.is_empty());
    assert!(host.rules.is_empty());
    assert!(host.registry.is_empty());
    assert!(host.files.is_empty());
    assert_eq!(host.log.last().unwrap(), &format!("delete {MARKER}"));
    assert!(
        report.to_string().contains("done     delete user CordonSandboxOffline and its profile"),
        "{report}"
    );
    let err = remove_on(&mut host, Path::new(STATE)).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotSetUp);
}

#[test]
fn remove_without_elevation_is_refused() {
    let mut host = set_up();
    host.elevated = false;
    assert_eq!(remove_on(&mut host, Path::new(STATE)).unwrap_err().code, ErrorCode::NotElevated);
    assert!(host.log.is_empty());
}

/// Replaces the marker with `edit` applied to it.
fn tamper(host: &mut FakeHost, edit: impl FnOnce(&mut SetupMarker)) {
    let mut marker = marker(host).unwrap();
    edit(&mut marker);
    host.files.insert(path::normalize(Path::new(MARKER)), serde_json::to_vec(&marker).unwrap());
}

#[test]
fn tampered_marker_cannot_make_remove_delete_another_user() {
    let mut host = set_up();
    host.add_account("alice", "S-1-5-21-1-2-3-1001", AccountKind::User, "");
    tamper(&mut host, |marker| marker.online_user = "alice".into());
    let err = remove_on(&mut host, Path::new(STATE)).unwrap_err();
    assert_eq!(err.code, ErrorCode::ForeignAccount);
    assert!(err.message.contains("nothing was removed"), "{err}");
    assert!(host.log.is_empty());
    assert!(host.accounts.contains_key("alice"));
}

#[test]
fn tampered_marker_cannot_make_remove_delete_a_builtin_group() {
    let mut host = set_up();
    host.add_account("Administrators", "S-1-5-32-544", AccountKind::Group, GROUP_COMMENT_OF_SETUP);
    tamper(&mut host, |marker| marker.group = "Administrators".into());
    let err = remove_on(&mut host, Path::new(STATE)).unwrap_err();
    assert_eq!(err.code, ErrorCode::ForeignAccount);
    assert!(host.log.is_empty());
}

const GROUP_COMMENT_OF_SETUP: &str = steps::GROUP_COMMENT;

#[test]
fn remove_deletes_only_users_in_the_markers_group() {
    let mut host = set_up();
    host.members.get_mut(&DEFAULT_GROUP.to_lowercase()).unwrap().remove(&DEFAULT_ONLINE_USER.to_lowercase());
    let err = remove_on(&mut host, Path::new(STATE)).unwrap_err();
    assert_eq!(err.code, ErrorCode::ForeignAccount);
    assert!(err.message.contains("not a member of CordonSandboxUsers"), "{err}");
    assert!(host.log.is_empty());
}

#[test]
fn marker_naming_another_state_directory_is_refused() {
    let mut host = set_up();
    tamper(&mut host, |marker| marker.state_dir = r"C:\Windows\System32".into());
    assert_eq!(remove_on(&mut host, Path::new(STATE)).unwrap_err().code, ErrorCode::BadMarker);
    assert_eq!(check_on(&mut host, &options(&[r"C:\work"])).unwrap_err().code, ErrorCode::BadMarker);
    host.files.insert(path::normalize(Path::new(MARKER)), b"{".to_vec());
    let err = apply_on(&mut host, &options(&[r"C:\work"])).unwrap_err();
    assert_eq!(err.code, ErrorCode::BadMarker);
    assert!(err.message.contains(MARKER), "{err}");
    assert!(host.log.is_empty());
}

#[test]
fn marker_of_a_newer_setup_is_refused() {
    let mut host = set_up();
    tamper(&mut host, |marker| marker.version = SETUP_VERSION + 1);
    assert_eq!(apply_on(&mut host, &options(&[r"C:\work"])).unwrap_err().code, ErrorCode::BadMarker);
    assert_eq!(refresh_on(&mut host, &options(&[r"C:\work"])).unwrap_err().code, ErrorCode::BadMarker);
    assert!(host.log.is_empty());
}

#[test]
fn refresh_grants_an_owned_new_root_without_elevation() {
    let mut host = set_up();
    for dir in [r"D:\new", r"D:\new\.cordon"] {
        host.paths.insert(path::normalize(Path::new(dir)));
        host.owned.insert(path::normalize(Path::new(dir)));
    }
    host.elevated = false;
    let report = refresh_on(&mut host, &options(&[r"D:\new"])).unwrap();
    let group = group_sid(&host);
    assert_eq!(
        host.log,
        vec![
            format!(r"add AllowModify D:\new {group}"),
            format!(r"add DenyWrite D:\new\.cordon {group}"),
            format!("write {MARKER}"),
        ]
    );
    // D:\new\.git does not exist: nothing to deny, nothing done.
    assert_eq!(report.actions.len(), 3, "{report}");
    assert_eq!(
        marker(&host).unwrap().writable_roots,
        vec![PathBuf::from(r"C:\work"), PathBuf::from(r"D:\new")]
    );
    // The marker's roots stay: setup for C:\work and D:\new is complete.
    assert!(check_on(&mut host, &options(&[r"C:\work", r"D:\new"])).unwrap().is_complete());
    host.log.clear();
    refresh_on(&mut host, &options(&[r"d:\NEW\"])).unwrap();
    assert!(host.log.is_empty(), "{:?}", host.log);
}

#[test]
fn refresh_refuses_a_root_the_caller_does_not_own() {
    let mut host = set_up();
    host.paths.insert(path::normalize(Path::new(r"C:\shared")));
    host.elevated = false;
    let err = refresh_on(&mut host, &options(&[r"C:\shared"])).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotOwner);
    assert!(host.log.is_empty());
}

#[test]
fn refresh_needs_elevation_when_an_account_is_missing() {
    let mut host = set_up();
    host.accounts.remove(&DEFAULT_ONLINE_USER.to_lowercase());
    host.paths.insert(path::normalize(Path::new(r"D:\new")));
    host.owned.insert(path::normalize(Path::new(r"D:\new")));
    host.elevated = false;
    let err = refresh_on(&mut host, &options(&[r"D:\new"])).unwrap_err();
    assert_eq!(err.code, ErrorCode::NeedsElevation);
    assert!(err.message.contains("create user CordonSandboxOnline"), "{err}");
    assert!(host.log.is_empty());
}

#[test]
fn refresh_before_setup_says_to_run_setup() {
    let mut host = FakeHost::with_dirs(&[r"C:\work"]);
    let err = refresh_on(&mut host, &options(&[r"C:\work"])).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotSetUp);
    assert!(err.message.contains("run `cordon setup` first"), "{err}");
}

#[test]
fn state_directory_defaults_to_local_app_data() {
    let options = SetupOptions { state_dir: Some(r"D:\state".into()), ..SetupOptions::default() };
    assert_eq!(options.state_dir().unwrap(), PathBuf::from(r"D:\state"));
    assert_eq!(options.config().unwrap().state_dir, PathBuf::from(r"D:\state"));
    assert_eq!(SetupOptions::default().protected_names, cordon_sandbox::DEFAULT_PROTECTED_NAMES);
}

#[cfg(not(windows))]
#[test]
fn elsewhere_than_windows_every_entry_point_says_so() {
    let options = options(&[r"C:\work"]);
    assert_eq!(apply(&options).unwrap_err().code, ErrorCode::NotWindows);
    assert_eq!(check(&options).unwrap_err().code, ErrorCode::NotWindows);
    assert_eq!(refresh(&options).unwrap_err().code, ErrorCode::NotWindows);
    assert_eq!(remove(Path::new(STATE)).unwrap_err().code, ErrorCode::NotWindows);
    assert_eq!(elevate_and_wait(&[]).unwrap_err().code, ErrorCode::NotWindows);
    assert!(!is_elevated());
    let err = Credentials::new().set_password("u", "p").unwrap_err();
    assert_eq!(err.code, ErrorCode::NotWindows);
    assert!(err.message.contains("Windows machine"), "{err}");
}

#[test]
fn elevated_command_line_keeps_each_argument_whole() {
    let args: Vec<String> =
        ["apply", "--root", r"C:\my work", "--state-dir", r"C:\Users\a b\AppData\Local\cordon\", "--json"]
            .map(String::from)
            .to_vec();
    assert_eq!(
        command_parameters(&args),
        r#"apply --root "C:\my work" --state-dir "C:\Users\a b\AppData\Local\cordon\\" --json"#
    );
    assert_eq!(command_parameters(&[]), "");
    assert_eq!(command_parameters(&["".into()]), r#""""#);
}

#[test]
fn apply_fails_closed_when_the_firewall_is_off_for_a_profile() {
    let mut host = FakeHost::with_dirs(&[r"C:\work"]);
    host.firewall_off = [false, false, true];
    let err = apply_on(&mut host, &options(&[r"C:\work"])).unwrap_err();
    assert_eq!(err.code, ErrorCode::FirewallIneffective);
    assert_eq!(err.number(), 219);
    assert!(err.message.contains("public profile"), "{err}");
    // With the firewall on again, apply succeeds and changes nothing more.
    host.firewall_off = [false; 3];
    apply_on(&mut host, &options(&[r"C:\work"])).unwrap();
}

#[test]
fn the_launch_time_check_finds_a_rule_taken_away_after_setup() {
    let mut host = FakeHost::with_dirs(&[r"C:\work"]);
    apply_on(&mut host, &options(&[r"C:\work"])).unwrap();
    let rule = crate::plan::FirewallRule::block_outbound(DEFAULT_OFFLINE_USER);
    verify_block_on(&mut host, &rule).unwrap();
    host.rules.clear();
    let err = verify_block_on(&mut host, &rule).unwrap_err();
    assert_eq!(err.code, ErrorCode::FirewallIneffective);
    assert!(err.message.contains("missing"), "{err}");
    host.firewall_off = [true, false, false];
    let err = verify_block_on(&mut host, &rule).unwrap_err();
    assert!(err.message.contains("domain profile") && err.message.contains("missing"), "{err}");
}

/// The filters a version-3 setup made: the user, and loopback excepted.
fn loopback_excepted(host: &mut FakeHost) {
    for (_, found) in host.wfp.values_mut() {
        found.conditions = vec![WfpCondition::User, WfpCondition::Other];
    }
    tamper(host, |marker| marker.version = 3);
}

#[test]
fn a_launch_refuses_filters_that_leave_loopback_open_and_setup_replaces_them() {
    let mut host = set_up();
    let rule = crate::plan::FirewallRule::block_outbound(DEFAULT_OFFLINE_USER);
    loopback_excepted(&mut host);

    let err = verify_block_on(&mut host, &rule).unwrap_err();
    assert_eq!(err.code, ErrorCode::FirewallIneffective);
    assert!(
        err.message.contains("filtering-platform filters") && err.message.contains("older setup"),
        "{err}"
    );
    host.elevated = false;
    let status = check_on(&mut host, &options(&[r"C:\work"])).unwrap();
    let pending: Vec<&str> = status.pending().map(|i| i.step.as_str()).collect();
    assert_eq!(
        pending,
        vec![
            "filter every connection of CordonSandboxOffline, loopback included (filtering platform)"
                .to_string(),
            format!("write {MARKER}"),
        ]
    );

    host.elevated = true;
    apply_on(&mut host, &options(&[r"C:\work"])).unwrap();
    let offline = host.sid(DEFAULT_OFFLINE_USER).unwrap();
    assert_eq!(host.log, vec![format!("wfp 4 filters {offline}"), format!("write {MARKER}")]);
    verify_block_on(&mut host, &rule).unwrap();
    assert_eq!(marker(&host).unwrap().version, SETUP_VERSION);
}

#[test]
fn a_filter_blocks_all_it_should_only_on_its_layer_as_a_block_with_the_user_its_only_condition() {
    let filter = &crate::plan::WfpFilter::block_all(DEFAULT_OFFLINE_USER)[0];
    let whole =
        FoundWfpFilter { layer: Some(filter.layer), blocks: true, conditions: vec![WfpCondition::User] };
    assert!(filter.is_in_force(&whole));
    let other_layer = crate::plan::WfpLayer::ALL.into_iter().find(|l| *l != filter.layer);
    for partial in [
        FoundWfpFilter { conditions: vec![WfpCondition::User, WfpCondition::Other], ..whole.clone() },
        FoundWfpFilter { conditions: vec![], ..whole.clone() },
        FoundWfpFilter { conditions: vec![WfpCondition::Other], ..whole.clone() },
        FoundWfpFilter { blocks: false, ..whole.clone() },
        FoundWfpFilter { layer: None, ..whole.clone() },
        FoundWfpFilter { layer: other_layer, ..whole.clone() },
    ] {
        assert!(!filter.is_in_force(&partial), "{partial:?}");
    }
}

#[test]
fn a_second_windows_user_cannot_take_over_the_sandbox_accounts() {
    let mut host = set_up();
    let first = host.caller_sid.clone();
    host.caller_sid = "S-1-5-21-1004336348-1177238915-682003330-1002".into();
    host.log.clear();
    let err = apply_on(&mut host, &options(&[r"C:\work"])).unwrap_err();
    assert_eq!(err.code, ErrorCode::ForeignAccount);
    assert!(err.message.contains("another Windows user") && err.message.contains(&first), "{err}");
    assert!(host.log.is_empty(), "nothing changed: {:?}", host.log);
    // The user they were set up for may run setup again.
    host.caller_sid = first;
    apply_on(&mut host, &options(&[r"C:\work"])).unwrap();
}

#[test]
fn accounts_of_a_setup_before_they_named_their_user_are_still_setups() {
    let mut host = set_up();
    for user in [DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER] {
        host.accounts.get_mut(&user.to_lowercase()).unwrap().comment = steps::USER_COMMENT.into();
    }
    host.caller_sid = "S-1-5-21-1004336348-1177238915-682003330-1002".into();
    apply_on(&mut host, &options(&[r"C:\work"])).unwrap();
    remove_on(&mut host, Path::new(STATE)).unwrap();
    assert!(host.accounts.is_empty());
}

/// What a restricted-token launch on `C:\work` records and puts on it.
fn launch_on_work(host: &mut FakeHost) -> Vec<LaunchChange> {
    use cordon_sandbox::windows::integrity::Label;
    use cordon_sandbox::windows::token::AceStep;
    let capability = "S-1-15-3-1024-9-8-7-6-5-4-3-2";
    let grant =
        AceStep { path: PathBuf::from(r"C:\work"), sid: capability.into(), kind: AceKind::AllowModify };
    let deny =
        AceStep { path: PathBuf::from(r"C:\work\.git"), sid: capability.into(), kind: AceKind::DenyWrite };
    let changes = vec![
        LaunchChange::ace(&grant),
        LaunchChange::ace(&deny),
        LaunchChange::label(Path::new(r"C:\work"), Label::LowTree).unwrap(),
        LaunchChange::label(Path::new(r"C:\work\.git"), Label::MediumTree).unwrap(),
    ];
    launches::record_on(host, Path::new(STATE), &changes).unwrap();
    for step in [&grant, &deny] {
        host.add_ace(&step.path, &step.sid, step.kind).unwrap();
    }
    host.labels.insert(path::normalize(Path::new(r"C:\work")), Label::LowTree);
    host.labels.insert(path::normalize(Path::new(r"C:\work\.git")), Label::MediumTree);
    host.log.clear();
    changes
}

#[test]
fn remove_undoes_the_launches_changes_first_then_the_setup() {
    let mut host = set_up();
    let changes = launch_on_work(&mut host);
    let report = remove_on(&mut host, Path::new(STATE)).unwrap();
    assert!(host.aces.is_empty(), "{:?}", host.aces);
    assert!(host.labels.is_empty(), "{:?}", host.labels);
    assert!(host.files.is_empty(), "the record went too: {:?}", host.files.keys());
    let first_setup_step =
        report.actions.iter().position(|action| action.step.contains("CordonSandbox")).unwrap();
    assert_eq!(first_setup_step, changes.len(), "{report}");
    assert!(report.actions[..changes.len()].iter().all(|action| action.outcome == Outcome::Done), "{report}");
}

#[test]
fn launches_changes_alone_are_removed_without_elevation() {
    let mut host = FakeHost::with_dirs(&[r"C:\work", r"C:\work\.git"]);
    host.elevated = false;
    launch_on_work(&mut host);
    let report = remove_on(&mut host, Path::new(STATE)).unwrap();
    assert_eq!((report.actions.len(), report.kept().count()), (4, 0), "{report}");
    assert!(host.aces.is_empty() && host.labels.is_empty());
    assert_eq!(remove_on(&mut host, Path::new(STATE)).unwrap_err().code, ErrorCode::NotSetUp);
}

#[test]
fn a_setup_with_launches_is_not_touched_without_elevation() {
    let mut host = set_up();
    launch_on_work(&mut host);
    host.elevated = false;
    assert_eq!(remove_on(&mut host, Path::new(STATE)).unwrap_err().code, ErrorCode::NotElevated);
    assert!(host.log.is_empty(), "{:?}", host.log);
}
