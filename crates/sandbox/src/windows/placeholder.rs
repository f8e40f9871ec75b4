//! Where a Windows launch puts placeholders: the empty directories that
//! stand for protected paths which do not exist yet, so that a deny ACE
//! (and, under a restricted token, a Medium label) can hold them and the
//! sandbox cannot create them (`git init .`, a planted `cordon.toml` or
//! `.vscode\tasks.json` that runs outside later).
//!
//! A placeholder is an empty directory with the hidden and system
//! attributes ([`ATTRIBUTES`]): no directory a user makes under a protected
//! name looks like that, so one a launch left behind (its client killed)
//! is known again, shared and removed. What creates, holds and removes
//! them is `cordon_sandbox::placeholders`, on Windows.

use std::path::{Path, PathBuf};

/// A placeholder's attributes: `FILE_ATTRIBUTE_HIDDEN |
/// FILE_ATTRIBUTE_SYSTEM`.
pub const ATTRIBUTES: u32 = 0x2 | 0x4;

/// What is at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Nothing.
    Missing,
    /// A placeholder ([`is_placeholder`]).
    Placeholder,
    /// A directory that is no placeholder.
    Directory,
    /// Anything else: a file, a link, what cannot be read.
    Other,
}

/// Whether a directory with these attributes, empty or not, is a
/// placeholder: it has both [`ATTRIBUTES`], is no reparse point
/// (`FILE_ATTRIBUTE_REPARSE_POINT`, `0x400`) and is empty.
pub fn is_placeholder(attributes: u32, empty: bool) -> bool {
    attributes & ATTRIBUTES == ATTRIBUTES && attributes & 0x400 == 0 && empty
}

/// Where the placeholders for `protected` go, each once: for a protected
/// path that does not exist, its first missing component, when that lies
/// in a directory (no placeholder: one beneath a placeholder is held by
/// it) inside one of `roots`; a placeholder already there is shared. A
/// path that exists, or lies beneath a file, needs none.
pub fn points(
    protected: &[PathBuf],
    roots: &[PathBuf],
    mut found: impl FnMut(&Path) -> Found,
) -> Vec<PathBuf> {
    let mut points: Vec<PathBuf> = Vec::new();
    for path in protected {
        let point = match found(path) {
            Found::Placeholder => Some(path.clone()),
            Found::Directory | Found::Other => None,
            Found::Missing => first_missing(path, &mut found),
        };
        if let Some(point) = point
            && roots.iter().any(|root| point.starts_with(root) && point != *root)
            && !points.contains(&point)
        {
            points.push(point);
        }
    }
    points
}

fn first_missing(path: &Path, found: &mut impl FnMut(&Path) -> Found) -> Option<PathBuf> {
    let mut missing = path;
    while let Some(parent) = missing.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        match found(parent) {
            Found::Missing => missing = parent,
            Found::Directory => return Some(missing.to_path_buf()),
            Found::Placeholder | Found::Other => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> [PathBuf; 1] {
        [PathBuf::from("/w")]
    }

    fn machine<'a>(entries: &'a [(&'a str, Found)]) -> impl FnMut(&Path) -> Found + 'a {
        move |path| {
            entries.iter().find(|(p, _)| Path::new(p) == path).map_or(Found::Missing, |(_, found)| *found)
        }
    }

    #[test]
    fn a_missing_protected_name_gets_a_placeholder_and_an_existing_one_none() {
        let found = machine(&[("/w", Found::Directory), ("/w/.git", Found::Directory)]);
        let protected =
            [PathBuf::from("/w/.git"), PathBuf::from("/w/.vscode"), PathBuf::from("/w/cordon.toml")];
        assert_eq!(
            points(&protected, &roots(), found),
            [PathBuf::from("/w/.vscode"), PathBuf::from("/w/cordon.toml")]
        );
    }

    #[test]
    fn the_placeholder_is_at_the_first_missing_component() {
        let found = machine(&[("/w", Found::Directory), ("/w/sub/.git", Found::Directory)]);
        let protected = [PathBuf::from("/w/a/b/hooks"), PathBuf::from("/w/a/c")];
        assert_eq!(points(&protected, &roots(), found), [PathBuf::from("/w/a")], "one placeholder, once");
    }

    #[test]
    fn a_placeholder_there_is_shared_and_what_lies_beneath_one_needs_none() {
        let found = machine(&[("/w", Found::Directory), ("/w/.git", Found::Placeholder)]);
        let protected = [PathBuf::from("/w/.git"), PathBuf::from("/w/.git/hooks")];
        assert_eq!(points(&protected, &roots(), found), [PathBuf::from("/w/.git")]);
    }

    #[test]
    fn nothing_is_made_beneath_a_file_or_outside_the_roots() {
        let found = machine(&[("/", Found::Directory), ("/w", Found::Directory), ("/w/.git", Found::Other)]);
        let protected = [PathBuf::from("/w/.git/hooks"), PathBuf::from("/gone/.git"), PathBuf::from("/w")];
        let roots = [PathBuf::from("/w"), PathBuf::from("/gone")];
        assert_eq!(points(&protected, &roots, found), Vec::<PathBuf>::new());
    }

    #[test]
    fn only_an_empty_hidden_system_directory_is_a_placeholder() {
        assert!(is_placeholder(0x10 | ATTRIBUTES, true));
        assert!(!is_placeholder(0x10 | ATTRIBUTES, false), "not empty");
        assert!(!is_placeholder(0x10 | 0x2, true), "hidden only");
        assert!(!is_placeholder(0x10 | ATTRIBUTES | 0x400, true), "a reparse point");
    }
}
