//! Windows: `cmd.exe /c`, or PowerShell when the caller names it.

use std::collections::BTreeMap;

/// The argv running `cmd` through a shell.
pub(crate) fn shell_argv(
    shell: Option<&str>,
    login: bool,
    cmd: &str,
    env: &BTreeMap<String, String>,
) -> Vec<String> {
    let shell =
        shell.map(str::to_string).or_else(|| env.get("ComSpec").cloned()).unwrap_or_else(|| "cmd.exe".into());
    let name = shell.rsplit(['\\', '/']).next().unwrap_or(&shell).to_ascii_lowercase();
    if name.starts_with("powershell") || name.starts_with("pwsh") {
        let mut argv = vec![shell];
        if !login {
            argv.push("-NoProfile".into());
        }
        argv.extend(["-NonInteractive".into(), "-Command".into(), cmd.into()]);
        argv
    } else {
        vec![shell, "/c".into(), cmd.into()]
    }
}

/// PowerShell's profile is slow and rarely needed by a command.
pub(crate) const LOGIN_DEFAULT: bool = false;
