//! The placeholders of protected paths that do not exist, on Windows
//! (under Wine by `scripts/test-windows`): made, shared by two launches,
//! never removed while one holds them, and removed by the last one out.
#![cfg(windows)]

use std::path::PathBuf;

use cordon_sandbox::placeholders::{hold, placeholder_points, remove_if_placeholder};

fn protected(root: &std::path::Path) -> Vec<PathBuf> {
    [".git", ".vscode", "cordon.toml"].iter().map(|name| root.join(name)).collect()
}

#[test]
fn a_placeholder_is_made_for_each_missing_path_and_held_until_the_last_launch_is_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    std::fs::create_dir(root.join(".git")).unwrap();
    let points = placeholder_points(&protected(&root), std::slice::from_ref(&root));
    assert_eq!(points, [root.join(".vscode"), root.join("cordon.toml")], "the existing .git needs none");

    let mut first = Some(hold(&points).expect("the placeholders are made"));
    assert_eq!(
        first.as_ref().unwrap().paths().collect::<Vec<_>>(),
        points.iter().map(PathBuf::as_path).collect::<Vec<_>>()
    );
    assert!(points.iter().all(|point| point.is_dir()));
    // A second launch on the same workspace knows them (by their
    // attributes) and shares them.
    let again = placeholder_points(&protected(&root), std::slice::from_ref(&root));
    assert_eq!(again, points);
    let second = hold(&again).expect("the placeholders are shared");
    assert_eq!(second.paths().count(), 2);
    if cordon_win::is_wine() {
        // Wine lets a directory that a handle without delete sharing holds
        // open be deleted (the delete waits for the handle to close);
        // Windows refuses it with a sharing violation.
        eprintln!("SKIPPED (Wine): a held placeholder resisting removal");
    } else {
        for point in &points {
            let err = std::fs::remove_dir(point).expect_err("a held placeholder cannot be removed");
            assert!(point.is_dir(), "{}: {err}", point.display());
            assert!(!remove_if_placeholder(point).unwrap_or(false), "not while held");
        }
        drop(first.take());
        assert!(points.iter().all(|point| point.is_dir()), "the second launch still holds them");
    }
    drop(second);
    // (Under Wine the first launch's removal was only deferred to here.)
    drop(first);
    assert!(points.iter().all(|point| !point.exists()), "the last one out removes them");
    assert!(root.join(".git").is_dir(), "what was there stays");
}

#[test]
fn a_directory_the_user_made_is_never_taken_for_a_placeholder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let points = placeholder_points(&protected(&root), std::slice::from_ref(&root));
    // Made between the look and the hold, as the user would.
    std::fs::create_dir(root.join(".vscode")).unwrap();
    let held = hold(&points).unwrap();
    assert!(!held.paths().any(|path| path == root.join(".vscode")));
    assert!(!remove_if_placeholder(&root.join(".vscode")).unwrap());
    drop(held);
    assert!(root.join(".vscode").is_dir(), "the user's directory stays");
    assert!(!root.join("cordon.toml").exists());
}
