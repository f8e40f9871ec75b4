//! What a run leaves behind that would run code outside the sandbox later,
//! said on stderr when it ends. Protected paths keep the workspace's own
//! repository and the nested ones that existed read-only, but a repository
//! the sandbox creates (a clone, `git init` in a subdirectory) is its own to
//! write, configuration and hooks included — and git runs what those name
//! (`core.fsmonitor` at the next `git status` there). Such repositories must
//! keep working, so they are reported, not refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cordon::Policy;
use cordon::git::{self, Repository};

/// The repositories in the writable roots before the run.
#[derive(Debug)]
pub struct GitWatch {
    roots: Vec<PathBuf>,
    before: BTreeSet<PathBuf>,
}

impl GitWatch {
    /// Looks for repositories in `policy`'s writable roots that outlive the
    /// run (not the devices, not `temp_dir`).
    pub fn start(policy: &Policy, temp_dir: Option<&Path>) -> GitWatch {
        let roots: Vec<PathBuf> = policy
            .filesystem
            .writable_dirs()
            .filter(|root| Some(root.as_path()) != temp_dir)
            .cloned()
            .collect();
        let before = scan(&roots).into_iter().map(|repo| repo.work_tree).collect();
        GitWatch { roots, before }
    }

    /// Warns on stderr about every repository created since
    /// [`GitWatch::start`] whose configuration or hooks run commands.
    pub fn report(&self) {
        for (repo, found) in git::new_executable_repositories(&self.before, &scan(&self.roots)) {
            eprintln!(
                "cordon: warning: the sandbox created the git repository {} with configuration that runs \
                 commands outside the sandbox once git is used there: {}. Check it before running git in it.",
                repo.display(),
                found.join("; ")
            );
        }
    }
}

fn scan(roots: &[PathBuf]) -> Vec<Repository> {
    roots.iter().flat_map(|root| git::repositories(root)).collect()
}
