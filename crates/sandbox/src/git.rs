//! Git repositories inside writable roots: what in them must stay
//! read-only, and what in a new one would run commands outside the sandbox.
//!
//! Git runs commands its configuration names — `core.fsmonitor` at every
//! `git status` (and at every git-aware prompt and editor scan), hooks at
//! commits and checkouts, filters and diff drivers on ordinary files — as
//! the user, outside any sandbox. A sandboxed command that can write a
//! repository's `config` or hooks directory can therefore run code outside
//! later. [`protected_paths`] names what the policy keeps read-only in the
//! repositories a writable root holds; [`executable_configuration`] says
//! what in a repository (say, one the sandbox created) would run commands.
//!
//! The configuration is read here without running `git`: a section and key
//! parser is enough to find the settings that matter, and running git on a
//! repository the sandbox may have written is what this module is meant to
//! make safe.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// How deep below a writable root repositories are looked for (the root is
/// depth 0, so `root/a/b/c/d/.git` is the deepest found).
pub const SEARCH_DEPTH: usize = 4;

/// How many directories one search visits at most; a workspace larger than
/// this is searched only in part (shallowest first).
const SEARCH_BUDGET: usize = 20_000;

/// Directories whose contents are not searched: dependency caches with
/// many entries and no repositories a user runs git in.
const SKIPPED: &[&str] = &[".git", "node_modules"];

/// A repository found under a writable root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Repository {
    /// The directory holding `.git` (the top of the work tree).
    pub work_tree: PathBuf,
    /// Whether `.git` is a file (`gitdir: …`, as in worktrees and
    /// submodules) rather than the repository's directory.
    pub git_file: bool,
}

impl Repository {
    /// The `.git` entry.
    pub fn dot_git(&self) -> PathBuf {
        self.work_tree.join(".git")
    }
}

/// Every repository at or below `root`, to [`SEARCH_DEPTH`], breadth first,
/// without following symbolic links.
pub fn repositories(root: &Path) -> Vec<Repository> {
    let mut found = Vec::new();
    let mut level = vec![root.to_path_buf()];
    let mut visited = 0;
    for depth in 0..=SEARCH_DEPTH {
        let mut next = Vec::new();
        for dir in level {
            visited += 1;
            if visited > SEARCH_BUDGET {
                return found;
            }
            let Ok(entries) = fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else { continue };
                let name = entry.file_name();
                if name == ".git" && (kind.is_dir() || kind.is_file()) {
                    found.push(Repository { work_tree: dir.clone(), git_file: kind.is_file() });
                }
                if kind.is_dir() && depth < SEARCH_DEPTH && !SKIPPED.iter().any(|s| name == *s) {
                    next.push(entry.path());
                }
            }
        }
        level = next;
    }
    found
}

/// What must stay read-only in `repo` so that nothing written there runs
/// later: a `.git` file itself (it names the repository's directory), or
/// the repository's `config` and `hooks`; and the hooks directory that
/// `core.hooksPath` names, in the repository's configuration or else in the
/// user's (`global`, see [`global_configs`]). Paths may not exist yet.
pub fn protected_paths(repo: &Repository, global: &[PathBuf]) -> Vec<PathBuf> {
    let dot_git = repo.dot_git();
    if repo.git_file {
        return vec![dot_git];
    }
    let mut paths = vec![dot_git.join("config"), dot_git.join("hooks")];
    let local = read_config(&dot_git.join("config"));
    let hooks_path = value_of(&local, "core.hookspath")
        .or_else(|| global.iter().rev().find_map(|path| value_of(&read_config(path), "core.hookspath")));
    if let Some(value) = hooks_path {
        paths.push(resolve(&repo.work_tree, &value));
    }
    paths
}

/// The user's own git configuration files, where they may set
/// `core.hooksPath` for every repository, in the order git reads them.
pub fn global_configs() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    let mut paths = Vec::new();
    if let Some(xdg) = xdg {
        paths.push(xdg.join("git/config"));
    }
    if let Some(home) = home {
        paths.push(home.join(".gitconfig"));
    }
    paths
}

/// The settings of the repository whose directory is `git_dir` that run
/// commands (`core.fsmonitor = …`, filters, diff drivers, aliases to shell
/// commands, includes of other files, …), as `key = value` lines, and its
/// hooks (files in `hooks/` that are not git's `.sample`s), as `hook NAME`.
/// Empty for a repository as `git init` or `git clone` leave it.
pub fn executable_configuration(git_dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = read_config(&git_dir.join("config"))
        .into_iter()
        .filter(|(key, value)| runs_commands(key, value))
        .map(|(key, value)| format!("{key} = {value}"))
        .collect();
    if let Ok(entries) = fs::read_dir(git_dir.join("hooks")) {
        let mut hooks: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| !name.ends_with(".sample"))
            .map(|name| format!("hook {name}"))
            .collect();
        hooks.sort();
        found.extend(hooks);
    }
    found
}

/// Repositories in `after` that are not in `before`, with what in each
/// would run commands (see [`executable_configuration`]); those with
/// nothing are left out.
pub fn new_executable_repositories(
    before: &BTreeSet<PathBuf>,
    after: &[Repository],
) -> Vec<(PathBuf, Vec<String>)> {
    after
        .iter()
        .filter(|repo| !repo.git_file && !before.contains(&repo.work_tree))
        .map(|repo| (repo.work_tree.clone(), executable_configuration(&repo.dot_git())))
        .filter(|(_, found)| !found.is_empty())
        .collect()
}

/// Whether a configuration entry names a command git would run.
fn runs_commands(key: &str, value: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    let (section, name) = (parts[0], parts[parts.len() - 1]);
    match (section, parts.len(), name) {
        // `true` and `false` choose the built-in daemon or none.
        ("core", 2, "fsmonitor") => !is_boolean(value),
        ("core", 2, "hookspath" | "sshcommand" | "pager" | "editor" | "askpass" | "gitproxy")
        | ("core", 2, "alternaterefscommand")
        | ("sequence", 2, "editor")
        | ("diff", 2, "external")
        | ("diff", 3, "textconv" | "command")
        | ("filter", 3, "clean" | "smudge" | "process")
        | ("merge", 3, "driver")
        | ("credential", _, "helper")
        | ("gpg", _, "program")
        | ("include", 2, "path")
        | ("includeif", 3, "path")
        | ("uploadpack", 2, "packobjectshook")
        | ("remote", 3, "uploadpack" | "receivepack") => true,
        ("alias", 2, _) => value.trim_start().starts_with('!'),
        ("pager", 2, _) => !is_boolean(value),
        _ => false,
    }
}

fn is_boolean(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "1" | "0" | ""
    )
}

/// A hooks path as git resolves it: `~/` from the home directory, a
/// relative one from the top of the work tree.
fn resolve(work_tree: &Path, value: &str) -> PathBuf {
    if let Some(rest) = value.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    work_tree.join(value)
}

fn value_of(entries: &[(String, String)], key: &str) -> Option<String> {
    entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// The entries of a git configuration file as (`section[.subsection].key`,
/// value) pairs, in file order; section and key lowercased as git compares
/// them. Nothing for a missing or unreadable file.
fn read_config(path: &Path) -> Vec<(String, String)> {
    let Ok(text) = fs::read_to_string(path) else { return Vec::new() };
    parse_config(&text)
}

fn parse_config(text: &str) -> Vec<(String, String)> {
    let mut entries = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let mut line = line.trim();
        if let Some(rest) = line.strip_prefix('[') {
            let Some((header, after)) = rest.split_once(']') else { continue };
            section = match header.split_once(char::is_whitespace) {
                // `[section "Subsection"]`: the subsection keeps its case.
                Some((name, sub)) => {
                    format!("{}.{}", name.to_ascii_lowercase(), sub.trim().trim_matches('"'))
                }
                // `[section.subsection]`, the old form: lowercased whole.
                None => header.to_ascii_lowercase(),
            };
            line = after.trim();
            if line.is_empty() {
                continue;
            }
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') || section.is_empty() {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key.trim(), unquote(value.trim())),
            // A bare key is boolean true.
            None => (line, "true".to_string()),
        };
        entries.push((format!("{section}.{}", key.to_ascii_lowercase()), value));
    }
    entries
}

/// A value without its comment and surrounding quotes.
fn unquote(value: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(match next {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                }
            }
            '#' | ';' if !quoted => break,
            c => out.push(c),
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_sections_keys_and_values_parse_as_git_reads_them() {
        let text = "[core]\n\tbare = false\n\tfsmonitor = \"touch /tmp/x\" # planted\n\
                    [filter \"Lfs\"]\n  smudge = git-lfs smudge %f\n[Alias]\n st = status\n pwn = !sh -c 'id'\n\
                    [core] hooksPath = .githooks\n[user]\nsigningkey\n";
        let entries = parse_config(text);
        assert_eq!(
            entries,
            [
                ("core.bare", "false"),
                ("core.fsmonitor", "touch /tmp/x"),
                ("filter.Lfs.smudge", "git-lfs smudge %f"),
                ("alias.st", "status"),
                ("alias.pwn", "!sh -c 'id'"),
                ("core.hookspath", ".githooks"),
                ("user.signingkey", "true"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let running: Vec<&str> =
            entries.iter().filter(|(k, v)| runs_commands(k, v)).map(|(k, _)| k.as_str()).collect();
        assert_eq!(running, ["core.fsmonitor", "filter.Lfs.smudge", "alias.pwn", "core.hookspath"]);
    }

    #[test]
    fn a_boolean_fsmonitor_runs_nothing() {
        assert!(!runs_commands("core.fsmonitor", "true"));
        assert!(!runs_commands("core.fsmonitor", "false"));
        assert!(runs_commands("core.fsmonitor", ".git/fsmonitor-watchman"));
    }

    #[cfg(unix)]
    #[test]
    fn repositories_are_found_without_following_links_and_hooks_paths_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(root.join(".git/config"), "[core]\n\thooksPath = .husky/_\n").unwrap();
        fs::create_dir_all(root.join("vendor/lib/.git")).unwrap();
        fs::create_dir_all(root.join("worktree")).unwrap();
        fs::write(root.join("worktree/.git"), "gitdir: ../.git/worktrees/w\n").unwrap();
        fs::create_dir_all(root.join("node_modules/dep/.git")).unwrap();
        fs::create_dir_all(root.join("a/b/c/d/e/.git")).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        fs::create_dir_all(elsewhere.path().join(".git")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), root.join("link")).unwrap();

        let mut found = repositories(root);
        found.sort();
        let tops: Vec<(PathBuf, bool)> = found.iter().map(|r| (r.work_tree.clone(), r.git_file)).collect();
        assert_eq!(
            tops,
            [(root.to_path_buf(), false), (root.join("vendor/lib"), false), (root.join("worktree"), true)]
        );
        assert_eq!(
            protected_paths(&found[0], &[]),
            [root.join(".git/config"), root.join(".git/hooks"), root.join(".husky/_")]
        );
        assert_eq!(protected_paths(&found[2], &[]), [root.join("worktree/.git")]);
    }

    #[test]
    fn a_global_hooks_path_applies_where_the_repository_sets_none() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join(".git")).unwrap();
        let global = root.join("gitconfig");
        fs::write(&global, "[core]\nhooksPath = .githooks\n").unwrap();
        let repo = Repository { work_tree: root.to_path_buf(), git_file: false };
        assert_eq!(protected_paths(&repo, &[global])[2], root.join(".githooks"));
    }

    #[test]
    fn a_new_repository_with_an_fsmonitor_or_a_hook_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for name in ["clean", "planted", "hooked"] {
            fs::create_dir_all(root.join(name).join(".git/hooks")).unwrap();
            fs::write(root.join(name).join(".git/hooks/pre-commit.sample"), "#!/bin/sh\n").unwrap();
        }
        fs::write(root.join("planted/.git/config"), "[core]\n\tfsmonitor = sh -c 'id > /tmp/pwned'\n")
            .unwrap();
        fs::write(root.join("hooked/.git/hooks/post-checkout"), "#!/bin/sh\n").unwrap();
        let before: BTreeSet<PathBuf> = [root.join("hooked")].into();
        let reported = new_executable_repositories(&before, &repositories(root));
        assert_eq!(
            reported,
            [(root.join("planted"), vec!["core.fsmonitor = sh -c 'id > /tmp/pwned'".to_string()])]
        );
        let reported = new_executable_repositories(&BTreeSet::new(), &repositories(root));
        assert_eq!(reported.len(), 2, "{reported:?}");
    }
}
