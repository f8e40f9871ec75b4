//! The `cordon` command on Windows, run as a user would run it (under Wine
//! by `scripts/test-windows`).
#![cfg(windows)]

use std::process::{Command, Output};

const CORDON: &str = env!("CARGO_BIN_EXE_cordon");

fn cordon(args: &[&str]) -> Output {
    Command::new(CORDON).args(args).output().expect("run cordon")
}

/// `cordon` without `HOME`, so that the presets deny no credential stores
/// of a home directory (the other denies depend on the machine: under Wine
/// the host's `/etc/shadow` is on drive Z:).
fn cordon_without_home(args: &[&str]) -> Output {
    Command::new(CORDON).args(args).env_remove("HOME").output().expect("run cordon")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

#[test]
fn run_streams_output_and_returns_the_exit_code() {
    let out = cordon(&[
        "run",
        "--policy",
        "full-access",
        "--",
        "cmd",
        "/c",
        "echo hello& echo oops 1>&2& exit /b 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert_eq!(stdout(&out).trim_end(), "hello");
    assert_eq!(String::from_utf8_lossy(&out.stderr).replace('\r', "").trim_end(), "oops");
}

#[test]
fn run_json_reports_the_whole_result() {
    let out = cordon(&["run", "--policy", "full-access", "--json", "--", "cmd", "/c", "echo hi& exit /b 2"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["exit_code"], 2);
    assert_eq!(report["stdout"].as_str().unwrap().trim_end(), "hi");
}

#[test]
fn a_missing_program_exits_127() {
    let out = cordon(&["run", "--policy", "full-access", "--", "no-such-program-anywhere"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
}

#[test]
fn the_request_file_bootstrap_runs_the_command_on_cordons_stdio() {
    let out = cordon(&[
        "run",
        "--policy",
        "full-access",
        "--bootstrap",
        "request-file",
        "--",
        "cmd",
        "/c",
        "echo via-request-file& exit /b 4",
    ]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(stdout(&out).trim_end(), "via-request-file");
}

#[test]
fn a_confining_policy_fails_closed_where_the_token_is_not_restricted() {
    // Under Wine the restricting SIDs are dropped, so the runner refuses;
    // on Windows the command runs under the restricted token. (With the
    // network: without it restricted-token mode refuses before that.)
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path().to_str().unwrap();
    let mode = ["--windows-mode", "restricted-token", "--network"];
    let args = [&["run", "--cwd", cwd][..], &mode, &["--", "cmd", "/c", "echo inside"]].concat();
    let out = cordon_without_home(&args);
    if is_wine() {
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot enforce the"), "the error says why: {err}");
    } else {
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert_eq!(stdout(&out).trim_end(), "inside");
    }
}

#[test]
fn the_sandbox_temp_directory_is_temp_and_tmp_too() {
    // Windows programs write `%TEMP%`, which for the user's own directory
    // is no writable root: the private one must be named there too.
    // (Best effort: under Wine the restricted token is refused otherwise.)
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path().to_str().unwrap();
    let args = [
        "run",
        "--cwd",
        cwd,
        "--windows-mode",
        "restricted-token",
        "--network",
        "--best-effort",
        "--",
        "cmd",
        "/c",
        "echo %TEMP%;%TMP%;%TMPDIR%",
    ];
    let out = cordon_without_home(&args);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let line = stdout(&out);
    let names: Vec<&str> = line.trim_end().split(';').collect();
    assert_eq!(names.len(), 3, "{line}");
    assert!(names[0].contains("cordon-tmp-"), "TEMP is the private directory: {line}");
    assert!(names.iter().all(|name| *name == names[0]), "one directory: {line}");
}

#[test]
fn a_missing_protected_name_is_held_by_a_placeholder_while_the_sandbox_runs() {
    // (Best effort: under Wine the restricted token is refused otherwise.)
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let cwd = dir.path().to_str().unwrap();
    let mode = ["--windows-mode", "restricted-token", "--network", "--best-effort"];
    let probe = "if exist .vscode\\ (echo placeholder) else (echo none)";
    let out = cordon_without_home(&[&["run", "--cwd", cwd][..], &mode, &["--", "cmd", "/c", probe]].concat());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out).trim_end(), "placeholder", "{out:?}");
    assert!(!dir.path().join(".vscode").exists(), "removed once the sandbox is gone");
    assert!(dir.path().join(".git").is_dir(), "what was there stays");
}

#[test]
fn a_policy_without_network_is_refused_in_restricted_token_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path().to_str().unwrap();
    let args = ["run", "--cwd", cwd, "--windows-mode", "restricted-token", "--", "cmd", "/c", "echo inside"];
    let out = cordon_without_home(&args);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(stdout(&out).is_empty(), "nothing ran: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("network") && err.contains("cordon setup"),
        "the error says why and what to do: {err}"
    );
}

#[test]
fn doctor_reports_each_preset_in_each_mode_and_what_restricted_tokens_lack() {
    let out = cordon(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor --json prints JSON");
    let policies = report["policies"].as_array().expect("policies");
    let entry = |policy: &str, mode: &str| {
        policies
            .iter()
            .find(|p| p["policy"] == policy && p["mode"] == mode)
            .unwrap_or_else(|| panic!("no {policy} ({mode}) in {report}"))
    };
    for preset in ["read-only", "workspace-write"] {
        let restricted = entry(preset, "restricted-token");
        assert_eq!(restricted["fully_enforced"], false, "{restricted}");
        let missing = restricted["missing"].as_array().unwrap();
        assert!(missing.iter().any(|m| m == "network off (restricted-token)"), "{restricted}");
        entry(preset, "elevated");
    }
    let probes = report["probes"].as_array().unwrap();
    let probe =
        |name: &str| probes.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no {name} probe"));
    assert_eq!(probe("job limits")["available"], true);
    assert_eq!(probe("denied reads (restricted-token)")["available"], false);
    // Without `cordon setup` no preset is enforced fully in any mode.
    let set_up = probe("sandbox users")["available"] == true;
    assert_eq!(out.status.code(), Some(if set_up { 0 } else { 1 }), "{out:?}");
}

fn is_wine() -> bool {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
    // SAFETY: lookups of a loaded module's export by NUL-terminated names.
    unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
    }
}

#[test]
fn setup_check_lists_what_is_pending_and_changes_nothing() {
    let state = tempfile::tempdir().expect("state dir");
    let root = tempfile::tempdir().expect("root");
    let args = [
        "setup",
        "--check",
        "--state-dir",
        state.path().to_str().unwrap(),
        "--root",
        root.path().to_str().unwrap(),
    ];
    let out = cordon(&args);
    assert_eq!(out.status.code(), Some(1), "pending steps: exit 1: {out:?}");
    let text = stdout(&out);
    assert!(text.contains("pending"), "{text}");
    assert!(text.contains("CordonSandboxOffline"), "{text}");
    assert_eq!(std::fs::read_dir(state.path()).unwrap().count(), 0, "check writes nothing");
    let json = cordon(&[&args[..], &["--json"]].concat());
    let status: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON status");
    assert!(status["items"].as_array().is_some_and(|items| !items.is_empty()), "{status}");
}

#[test]
fn the_request_file_bootstrap_carries_stdin_through_the_parents_pipes() {
    use std::io::Write;
    let mut child = Command::new(CORDON)
        .args(["run", "--policy", "full-access", "--bootstrap", "request-file", "--"])
        .args(["cmd", "/v:on", "/c", "set /p LINE=& echo got-!LINE!"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run cordon");
    child.stdin.take().unwrap().write_all(b"typed\r\n").unwrap();
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out).trim_end(), "got-typed");
}

#[test]
#[ignore = "needs real Windows, unelevated, and a person to accept the UAC prompt"]
fn an_unelevated_setup_elevates_cordon_itself_and_returns_its_exit_status() {
    // Removing needs elevation: cordon restarts itself through the UAC
    // prompt, and the elevated `cordon setup --remove` of a state
    // directory without a marker fails with E204 (not set up).
    let state = tempfile::tempdir().expect("tempdir");
    let out = cordon(&["setup", "--remove", "--state-dir", state.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(204), "{out:?}");
}

#[test]
fn a_launchs_changes_are_recorded_and_setup_remove_undoes_them() {
    // Its own state directory: other tests' launches record in theirs.
    let local = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path().to_str().unwrap();
    let cordon_here = |args: &[&str]| {
        Command::new(CORDON)
            .args(args)
            .env_remove("HOME")
            .env("LOCALAPPDATA", local.path())
            .output()
            .expect("run cordon")
    };
    // (Best effort: under Wine the restricted token is refused otherwise.)
    let mode = ["--windows-mode", "restricted-token", "--network", "--best-effort"];
    let out = cordon_here(&[&["run", "--cwd", cwd][..], &mode, &["--", "cmd", "/c", "echo x"]].concat());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let record_file = local.path().join("cordon").join("launches.jsonl");
    let record = std::fs::read_to_string(&record_file).expect("the launch recorded its changes");
    let lines: Vec<serde_json::Value> =
        record.lines().map(|line| serde_json::from_str(line).expect("one JSON object a line")).collect();
    // The paths as the policy resolved them (verbatim, `\\?\C:\…`).
    let name = dir.path().file_name().unwrap().to_str().unwrap();
    let on = |tail: &str, key: &str| {
        lines
            .iter()
            .any(|line| line["path"].as_str().is_some_and(|p| p.ends_with(tail)) && !line[key].is_null())
    };
    let root = format!("\\{name}");
    assert!(on(&root, "ace") && on(&root, "label"), "the root's grant and label: {record}");
    assert!(on(&format!("{root}\\.git"), "placeholder"), "the placeholder for .git: {record}");
    let again = cordon_here(&[&["run", "--cwd", cwd][..], &mode, &["--", "cmd", "/c", "echo x"]].concat());
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    let second = std::fs::read_to_string(&record_file).unwrap();
    let added: Vec<&str> = second.lines().filter(|line| !record.lines().any(|old| old == *line)).collect();
    assert!(second.starts_with(&record), "appended: {second}");
    assert!(
        added.len() == 2 && added.iter().all(|line| line.contains("cordon-tmp-")),
        "a second launch adds only its own temp directory's grant and label: {added:?}"
    );

    // Wine's token reads as elevated: `--remove` runs here, not through UAC.
    let removed = cordon_here(&["setup", "--remove"]);
    assert_eq!(removed.status.code(), Some(0), "{removed:?}");
    let report = stdout(&removed);
    assert!(report.lines().any(|line| line.starts_with("done ") && line.contains(name)), "{report}");
    assert!(!report.contains("kept "), "{report}");
    assert!(!record_file.exists(), "the record is gone with what it recorded");
    let nothing = cordon_here(&["setup", "--remove"]);
    assert_eq!(nothing.status.code(), Some(204), "nothing to remove: {nothing:?}");
}
