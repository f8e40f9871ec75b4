//! cordon-setup on Windows, through its public API.
//!
//! Under Wine these run for real: DPAPI, a look at an untouched machine,
//! the elevation query. What Wine does not do (local accounts that outlive
//! the process, DACLs, the firewall, logons, UAC) is tested by the ignored
//! tests, which say why and check the effect itself on a real Windows:
//! `cargo test -p cordon-setup --test windows -- --include-ignored` in an
//! elevated shell.

#![cfg(windows)]

use std::path::{Path, PathBuf};
use std::process::Command;

use cordon_sandbox::windows::integrity::Label;
use cordon_sandbox::windows::sddl::AceKind;
use cordon_sandbox::windows::token::AceStep;
use cordon_setup::credentials::{self, Credentials};
use cordon_setup::launches::LAUNCHES_FILE;
use cordon_setup::plan::{CREDENTIALS_FILE, DEFAULT_GROUP, DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER};
use cordon_setup::{ErrorCode, ItemState, LaunchChange, SetupOptions};

fn options(state: &Path, roots: &[&Path]) -> SetupOptions {
    SetupOptions {
        state_dir: Some(state.to_path_buf()),
        ..SetupOptions::new(roots.iter().map(|root| root.to_path_buf()).collect())
    }
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn passwords_survive_the_dpapi_store_and_only_blobs_reach_the_file() {
    let state = temp_dir();
    let mut stored = Credentials::new();
    stored.set_password(DEFAULT_OFFLINE_USER, "Offline#Password1").unwrap();
    stored.set_password(DEFAULT_ONLINE_USER, "Online#Password2").unwrap();
    stored.store(state.path()).unwrap();

    let file = std::fs::read_to_string(state.path().join(CREDENTIALS_FILE)).unwrap();
    assert!(!file.contains("Password"), "{file}");
    let hex_of = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    assert!(!file.contains(&hex_of("Offline#Password1")), "the password is protected, not encoded");

    let loaded = credentials::load(state.path()).unwrap();
    assert_eq!(loaded.users().collect::<Vec<_>>(), vec![DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER]);
    assert_eq!(loaded.password(DEFAULT_OFFLINE_USER).unwrap(), "Offline#Password1");
    assert_eq!(loaded.password(&DEFAULT_ONLINE_USER.to_uppercase()).unwrap(), "Online#Password2");
    assert_eq!(loaded.password("Nobody").unwrap_err().code, ErrorCode::Credentials);
}

#[test]
fn a_blob_that_is_not_dpapi_is_a_dpapi_error() {
    let state = temp_dir();
    let file = format!("{{\"version\": 1, \"users\": {{\"{DEFAULT_OFFLINE_USER}\": \"0102030405\"}}}}");
    std::fs::write(state.path().join(CREDENTIALS_FILE), file).unwrap();
    let loaded = credentials::load(state.path()).unwrap();
    assert_eq!(loaded.password(DEFAULT_OFFLINE_USER).unwrap_err().code, ErrorCode::Dpapi);
}

#[test]
fn check_on_a_machine_without_setup_reports_every_step_pending() {
    let state = temp_dir();
    let root = temp_dir();
    std::fs::create_dir(root.path().join(".git")).unwrap();
    let status = cordon_setup::check(&options(state.path(), &[root.path()])).unwrap();
    assert_eq!(status.marker_version, None);
    assert!(!status.is_complete());
    assert!(status.obsolete.is_empty());
    let not_pending: Vec<_> = status.items.iter().filter(|i| i.state != ItemState::Pending).collect();
    assert!(not_pending.is_empty(), "{status}");
    // Fourteen steps, and one for each protected name in the root.
    assert_eq!(status.items.len(), 14 + cordon_sandbox::DEFAULT_PROTECTED_NAMES.len(), "{status}");
    assert!(status.to_string().starts_with("pending  create group CordonSandboxUsers\n"), "{status}");
}

#[test]
fn is_elevated_answers() {
    let elevated = cordon_setup::is_elevated();
    assert_eq!(elevated, cordon_setup::is_elevated());
}

#[test]
fn refresh_before_any_setup_says_to_run_setup() {
    let state = temp_dir();
    let root = temp_dir();
    let err = cordon_setup::refresh(&options(state.path(), &[root.path()])).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotSetUp);
}

#[test]
fn remove_without_a_marker_removes_nothing() {
    let state = temp_dir();
    let err = cordon_setup::remove(state.path()).unwrap_err();
    // Elevated (as under Wine) the marker is missing; otherwise elevation is.
    assert!(matches!(err.code, ErrorCode::NotSetUp | ErrorCode::NotElevated), "{err}");
}

/// What a restricted-token launch on `root` records: a grant and a Low
/// label on it, a deny and a Medium label on its `.git`.
fn launch_changes(root: &Path, sid: &str) -> Vec<LaunchChange> {
    let git = root.join(".git");
    vec![
        LaunchChange::ace(&AceStep { path: root.to_path_buf(), sid: sid.into(), kind: AceKind::AllowModify }),
        LaunchChange::ace(&AceStep { path: git.clone(), sid: sid.into(), kind: AceKind::DenyWrite }),
        LaunchChange::label(root, Label::LowTree).unwrap(),
        LaunchChange::label(&git, Label::MediumTree).unwrap(),
    ]
}

/// A logon SID, as restricted-token launches grant.
const LAUNCH_SID: &str = "S-1-5-5-0-123456";

#[test]
fn remove_with_only_launches_recorded_forgets_them_all() {
    let state = temp_dir();
    let root = temp_dir();
    std::fs::create_dir(root.path().join(".git")).unwrap();
    let gone = root.path().join("gone");
    let mut changes = launch_changes(root.path(), LAUNCH_SID);
    changes.push(LaunchChange::label(&gone, Label::LowTree).unwrap());
    cordon_setup::record_launch_changes(&state.path().join("new"), &changes).unwrap();
    cordon_setup::record_launch_changes(&state.path().join("new"), &changes).unwrap();
    let record = std::fs::read_to_string(state.path().join("new").join(LAUNCHES_FILE)).unwrap();
    assert_eq!(record.lines().count(), changes.len(), "each change once: {record}");

    let report = cordon_setup::remove(&state.path().join("new")).unwrap();
    assert_eq!(report.actions.len(), changes.len(), "{report}");
    assert_eq!(report.kept().count(), 0, "{report}");
    assert!(
        report.skipped().any(|(step, reason)| step.contains("gone") && reason.contains("no longer exists"))
    );
    assert!(!state.path().join("new").join(LAUNCHES_FILE).exists());
    let err = cordon_setup::remove(&state.path().join("new")).unwrap_err();
    assert!(matches!(err.code, ErrorCode::NotSetUp), "{err}");
}

// ---- What only a real Windows does ----

#[test]
#[ignore = "needs real Windows: Wine stores neither DACLs nor mandatory labels"]
fn undo_launches_takes_off_a_launchs_grants_and_labels() {
    let state = temp_dir();
    let root = temp_dir();
    let git = root.path().join(".git");
    std::fs::create_dir(&git).unwrap();
    let changes = launch_changes(root.path(), LAUNCH_SID);
    cordon_setup::record_launch_changes(state.path(), &changes).unwrap();
    cordon_sandbox::acl::add_ace(root.path(), LAUNCH_SID, AceKind::AllowModify).unwrap();
    cordon_sandbox::acl::add_ace(&git, LAUNCH_SID, AceKind::DenyWrite).unwrap();
    cordon_sandbox::acl::set_label(root.path(), Label::LowTree).unwrap();
    cordon_sandbox::acl::set_label(&git, Label::MediumTree).unwrap();
    let before = icacls(root.path());
    assert!(before.contains(LAUNCH_SID) && before.contains("Low Mandatory Level"), "{before}");

    let report = cordon_setup::undo_launches(state.path()).unwrap();
    assert_eq!(report.skipped().count() + report.kept().count(), 0, "{report}");
    for path in [root.path(), git.as_path()] {
        let after = icacls(path);
        assert!(!after.contains(LAUNCH_SID) && !after.contains("Mandatory Level"), "{after}");
    }
    assert!(!state.path().join(LAUNCHES_FILE).exists());
}

/// `net user NAME` succeeds: the account exists on the machine.
fn user_exists(name: &str) -> bool {
    Command::new("net").args(["user", name]).output().unwrap().status.success()
}

/// `net localgroup NAME`: its output, if the group exists.
fn group_members(name: &str) -> Option<String> {
    let output = Command::new("net").args(["localgroup", name]).output().unwrap();
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// What `icacls` says about a path's ACL.
fn icacls(path: &Path) -> String {
    let output = Command::new("icacls").arg(path).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The ACE line of the group in `icacls` output, if any.
fn group_ace(path: &Path) -> Option<String> {
    icacls(path).lines().find(|line| line.contains(DEFAULT_GROUP)).map(str::to_string)
}

/// Runs `cmd /c COMMAND` as `user` (with its stored password) in `dir`;
/// its exit code.
fn run_as(user: &str, password: &str, dir: &Path, command: &str) -> u32 {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Foundation::CloseHandle;
    use windows_sys::Win32::System::Threading::{
        CREATE_NO_WINDOW, CreateProcessWithLogonW, GetExitCodeProcess, INFINITE, LOGON_WITH_PROFILE,
        PROCESS_INFORMATION, STARTUPINFOW, WaitForSingleObject,
    };
    let wide = |s: &str| s.encode_utf16().chain([0]).collect::<Vec<u16>>();
    let mut line = wide(&format!("cmd.exe /d /c {command}"));
    let dir: Vec<u16> = dir.as_os_str().encode_wide().chain([0]).collect();
    let startup = STARTUPINFOW { cb: size_of::<STARTUPINFOW>() as u32, ..Default::default() };
    let mut info = PROCESS_INFORMATION::default();
    // SAFETY: NUL-terminated strings that outlive the call; out-pointers.
    let ok = unsafe {
        CreateProcessWithLogonW(
            wide(user).as_ptr(),
            wide(".").as_ptr(),
            wide(password).as_ptr(),
            LOGON_WITH_PROFILE,
            std::ptr::null(),
            line.as_mut_ptr(),
            CREATE_NO_WINDOW,
            std::ptr::null(),
            dir.as_ptr(),
            &startup,
            &mut info,
        )
    };
    assert_ne!(ok, 0, "CreateProcessWithLogonW as {user}: {}", std::io::Error::last_os_error());
    let mut code = 0u32;
    // SAFETY: live handles from CreateProcessWithLogonW, closed once.
    unsafe {
        WaitForSingleObject(info.hProcess, INFINITE);
        GetExitCodeProcess(info.hProcess, &mut code);
        CloseHandle(info.hThread);
        CloseHandle(info.hProcess);
    }
    code
}

/// A writable root with a `.git` directory, and a state directory.
struct Machine {
    state: tempfile::TempDir,
    root: tempfile::TempDir,
}

impl Machine {
    fn new() -> Machine {
        let machine = Machine { state: temp_dir(), root: temp_dir() };
        std::fs::create_dir(machine.git()).unwrap();
        machine
    }

    fn git(&self) -> PathBuf {
        self.root.path().join(".git")
    }

    fn options(&self) -> SetupOptions {
        options(self.state.path(), &[self.root.path()])
    }
}

#[test]
#[ignore = "needs real Windows, elevated: Wine keeps a new local account inside the creating process and \
            neither stores DACLs nor has a firewall"]
fn apply_sets_up_the_machine_and_remove_undoes_it() {
    assert!(cordon_setup::is_elevated(), "run this test in an elevated shell");
    let machine = Machine::new();

    let report = cordon_setup::apply(&machine.options()).unwrap();
    assert!(!report.actions.is_empty());
    for user in [DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER] {
        assert!(user_exists(user), "{user}");
    }
    let members = group_members(DEFAULT_GROUP).expect("the group exists");
    assert!(members.contains(DEFAULT_OFFLINE_USER) && members.contains(DEFAULT_ONLINE_USER), "{members}");
    let grant = group_ace(machine.root.path()).expect("the root names the group");
    assert!(grant.contains("(OI)(CI)(M)"), "{grant}");
    let deny = group_ace(&machine.git()).expect(".git names the group");
    assert!(deny.contains("(DENY)"), "{deny}");
    let rule = Command::new("netsh")
        .args([
            "advfirewall",
            "firewall",
            "show",
            "rule",
            "name=cordon: block outbound for CordonSandboxOffline",
        ])
        .output()
        .unwrap();
    assert!(rule.status.success(), "the firewall rule exists");
    let stored = credentials::load(machine.state.path()).unwrap();
    assert!(stored.password(DEFAULT_OFFLINE_USER).is_ok());

    let status = cordon_setup::check(&machine.options()).unwrap();
    assert!(status.is_complete(), "{status}");
    let again = cordon_setup::apply(&machine.options()).unwrap();
    assert!(again.actions.is_empty(), "a second apply changes nothing: {again}");

    cordon_setup::remove(machine.state.path()).unwrap();
    for user in [DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER] {
        assert!(!user_exists(user), "{user}");
    }
    assert_eq!(group_members(DEFAULT_GROUP), None);
    assert_eq!(group_ace(machine.root.path()), None);
    assert_eq!(group_ace(&machine.git()), None);
    assert!(!machine.state.path().join(CREDENTIALS_FILE).exists());
    let status = cordon_setup::check(&machine.options()).unwrap();
    assert!(status.items.iter().all(|item| item.state == ItemState::Pending), "{status}");
}

#[test]
#[ignore = "needs real Windows, elevated: Wine's logons are stubs and it does not enforce DACLs"]
fn sandbox_user_writes_a_root_but_not_its_git_directory() {
    assert!(cordon_setup::is_elevated(), "run this test in an elevated shell");
    let machine = Machine::new();
    cordon_setup::apply(&machine.options()).unwrap();
    let password = credentials::load(machine.state.path()).unwrap().password(DEFAULT_OFFLINE_USER).unwrap();
    let root = machine.root.path();

    let wrote = run_as(DEFAULT_OFFLINE_USER, &password, root, "echo x> ok.txt");
    let refused = run_as(DEFAULT_OFFLINE_USER, &password, root, r"echo x> .git\hook.txt");
    let deleted = run_as(DEFAULT_OFFLINE_USER, &password, root, "rmdir .git");
    cordon_setup::remove(machine.state.path()).unwrap();

    assert_eq!(wrote, 0, "the sandbox user may write the root");
    assert!(root.join("ok.txt").exists());
    assert_ne!(refused, 0, "the sandbox user may not write .git");
    assert!(!machine.git().join("hook.txt").exists());
    assert!(machine.git().exists(), "nor delete it (exit {deleted})");
}

#[test]
#[ignore = "needs real Windows, elevated: Wine does not filter traffic by firewall rules"]
fn offline_user_gets_an_outbound_block_rule_that_remove_deletes() {
    assert!(cordon_setup::is_elevated(), "run this test in an elevated shell");
    let machine = Machine::new();
    cordon_setup::apply(&machine.options()).unwrap();
    let output = Command::new("netsh")
        .args([
            "advfirewall",
            "firewall",
            "show",
            "rule",
            "name=cordon: block outbound for CordonSandboxOffline",
            "verbose",
        ])
        .output()
        .unwrap();
    cordon_setup::remove(machine.state.path()).unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    for expected in ["Out", "Block", "Any", "Yes"] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let after = Command::new("netsh")
        .args([
            "advfirewall",
            "firewall",
            "show",
            "rule",
            "name=cordon: block outbound for CordonSandboxOffline",
        ])
        .output()
        .unwrap();
    assert!(!after.status.success(), "remove deletes the rule");
}

#[test]
#[ignore = "needs real Windows, elevated: Wine has no Base Filtering Engine"]
fn offline_user_gets_filtering_platform_filters_that_remove_deletes() {
    assert!(cordon_setup::is_elevated(), "run this test in an elevated shell");
    let machine = Machine::new();
    cordon_setup::apply(&machine.options()).unwrap();
    let filters = |file: &Path| {
        let status = Command::new("netsh")
            .args(["wfp", "show", "filters"])
            .arg(format!("file={}", file.display()))
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read_to_string(file).unwrap()
    };
    let dir = temp_dir();
    let during = filters(&dir.path().join("during.xml"));
    cordon_setup::remove(machine.state.path()).unwrap();
    let after = filters(&dir.path().join("after.xml"));
    for layer in ["connect-v4", "connect-v6", "recv-accept-v4", "recv-accept-v6"] {
        let name = format!("cordon: block {layer} for {DEFAULT_OFFLINE_USER}");
        assert!(during.contains(&name), "{name} is there after setup");
        assert!(!after.contains(&name), "{name} is gone after remove");
    }
}

#[test]
#[ignore = "needs real Windows, elevated: Wine has no local security policy"]
fn sandbox_accounts_are_denied_every_logon_but_the_interactive_one() {
    assert!(cordon_setup::is_elevated(), "run this test in an elevated shell");
    let machine = Machine::new();
    cordon_setup::apply(&machine.options()).unwrap();
    let dir = temp_dir();
    let export = dir.path().join("rights.inf");
    let exported = Command::new("secedit")
        .args(["/export", "/areas", "USER_RIGHTS", "/cfg"])
        .arg(&export)
        .status()
        .unwrap();
    cordon_setup::remove(machine.state.path()).unwrap();
    assert!(exported.success());
    // secedit writes UTF-16.
    let bytes = std::fs::read(&export).unwrap();
    let units: Vec<u16> = bytes.chunks_exact(2).map(|pair| u16::from_le_bytes([pair[0], pair[1]])).collect();
    let text = String::from_utf16_lossy(&units);
    for right in cordon_setup::plan::DENIED_LOGON_RIGHTS {
        let line = text.lines().find(|line| line.starts_with(right)).unwrap_or_default();
        assert!(line.matches("*S-1-5-21-").count() >= 2, "{right} names both accounts: {line:?}");
    }
    let interactive =
        text.lines().find(|line| line.starts_with("SeDenyInteractiveLogonRight")).unwrap_or_default();
    assert!(!interactive.contains("*S-1-5-21-"), "cordon's own logon stays allowed: {interactive:?}");
}

#[test]
#[ignore = "needs real Windows, elevated, on a test machine: it turns the firewall off for the public profile \
            and back on"]
fn a_launch_checks_that_the_firewall_enforces_the_offline_block() {
    assert!(cordon_setup::is_elevated(), "run this test in an elevated shell");
    let machine = Machine::new();
    cordon_setup::apply(&machine.options()).unwrap();
    let profile = |state: &str| {
        let status = Command::new("netsh")
            .args(["advfirewall", "set", "publicprofile", "state", state])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let before = cordon_setup::verify_offline_block(DEFAULT_OFFLINE_USER);
    profile("off");
    let off = cordon_setup::verify_offline_block(DEFAULT_OFFLINE_USER);
    profile("on");
    cordon_setup::remove(machine.state.path()).unwrap();
    before.expect("in force after setup");
    let err = off.expect_err("refused with the public profile off");
    assert_eq!(err.code, ErrorCode::FirewallIneffective);
    assert!(err.message.contains("public profile"), "{err}");
    let gone = cordon_setup::verify_offline_block(DEFAULT_OFFLINE_USER).expect_err("no rule after remove");
    assert!(gone.message.contains("does not exist") || gone.message.contains("missing"), "{gone}");
}

#[test]
#[ignore = "needs real Windows, unelevated: under Wine the token reads as elevated"]
fn apply_in_an_unelevated_process_is_refused() {
    assert!(!cordon_setup::is_elevated(), "run this test in an unelevated shell");
    let machine = Machine::new();
    let err = cordon_setup::apply(&machine.options()).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotElevated);
    assert!(!user_exists(DEFAULT_OFFLINE_USER));
}
