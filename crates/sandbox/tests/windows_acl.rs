//! cordon's ACL writer on Windows refusing what it must not write through,
//! run as the user (under Wine by `scripts/test-windows`; Wine stores no
//! DACLs, so only the refusals, which happen before any write, are
//! checked here).
#![cfg(windows)]

use std::io::ErrorKind;
use std::path::Path;

use cordon_sandbox::windows::sddl::AceKind;

/// A capability SID, as the restricted-token launch grants.
const SID: &str = "S-1-15-3-1024-1-2-3-4-5-6-7-8";

fn refused(path: &Path, kind: AceKind) -> String {
    match cordon_sandbox::acl::add_ace(path, SID, kind) {
        Err(err) if err.kind() == ErrorKind::PermissionDenied => err.to_string(),
        other => panic!("{}: expected a refusal, got {other:?}", path.display()),
    }
}

/// A directory reached through a link, and the directory it leads to: one
/// made with `CreateSymbolicLinkW` where that works (Windows with
/// developer mode or as administrator), else one of the profile's folders
/// that is a link (Wine makes `Documents` and the like links to the Unix
/// home; its `CreateSymbolicLinkW` succeeds without making anything).
fn a_link(dir: &Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let target = dir.join("elsewhere");
    std::fs::create_dir_all(target.join("inner")).expect("mkdir");
    let link = dir.join("root");
    if std::os::windows::fs::symlink_dir(&target, &link).is_ok() && std::fs::symlink_metadata(&link).is_ok() {
        return Some((link, target));
    }
    let profile = std::path::PathBuf::from(std::env::var_os("USERPROFILE")?);
    ["Documents", "Desktop", "Downloads", "Music", "Pictures", "Videos"].iter().find_map(|name| {
        let folder = profile.join(name);
        let resolved = std::fs::canonicalize(&folder).ok()?;
        (resolved != std::fs::canonicalize(&profile).ok()?.join(name)).then_some((folder, resolved))
    })
}

#[test]
fn a_grant_or_deny_through_a_directory_link_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((link, target)) = a_link(dir.path()) else {
        eprintln!("SKIPPED a_grant_or_deny_through_a_directory_link_is_refused: no directory link here");
        return;
    };
    let mut paths = vec![link.clone()];
    if link.join("inner").is_dir() {
        paths.push(link.join("inner"));
    }
    for path in paths {
        for kind in [AceKind::AllowModify, AceKind::DenyWrite, AceKind::DenyAll] {
            let err = refused(&path, kind);
            // Windows names the link; Wine shows a Unix link as a plain
            // directory, and the handle's final path gives it away.
            assert!(err.contains("symbolic link") || err.contains("opens as"), "{err}");
        }
    }
    // A directory named as it is passes the checks.
    if target.join("inner").is_dir() {
        cordon_sandbox::acl::add_ace(&target.join("inner"), SID, AceKind::AllowModify)
            .expect("a plain directory");
    }
}

#[test]
fn a_grant_on_a_system_or_profile_root_is_refused() {
    let windows = std::env::var_os("SystemRoot").expect("SystemRoot");
    let mut roots = vec![Path::new(&windows).to_path_buf(), Path::new(&windows).join("System32")];
    roots.extend(std::env::var_os("USERPROFILE").map(Into::into));
    roots.push("C:\\".into());
    for root in roots {
        let err = refused(&root, AceKind::AllowModify);
        assert!(err.contains("no sandbox may be granted"), "{err}");
    }
}

#[test]
fn a_missing_path_is_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = cordon_sandbox::acl::add_ace(&dir.path().join("absent"), SID, AceKind::DenyWrite).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}
