//! Unix: `$SHELL`, else `/bin/bash`, else `/bin/sh`, with `-lc` or `-c`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The argv running `cmd` through a shell.
pub(crate) fn shell_argv(
    shell: Option<&str>,
    login: bool,
    cmd: &str,
    env: &BTreeMap<String, String>,
) -> Vec<String> {
    let shell = match shell {
        Some(shell) => shell.to_string(),
        None => env
            .get("SHELL")
            .filter(|s| Path::new(s).is_file())
            .cloned()
            .or_else(|| {
                ["/bin/bash", "/bin/sh"].into_iter().find(|s| Path::new(s).is_file()).map(String::from)
            })
            .unwrap_or_else(|| "/bin/sh".into()),
    };
    let flag = if login { "-lc" } else { "-c" };
    vec![shell, flag.into(), cmd.into()]
}

/// Whether `login` defaults to true: a login shell reads the profile that
/// sets up `PATH` and tool managers, as in the user's own terminal.
pub(crate) const LOGIN_DEFAULT: bool = true;

/// A canonical path is already a working directory.
pub(crate) fn working_directory(canonical: PathBuf) -> PathBuf {
    canonical
}
