//! Windows: `cmd.exe /c`, or PowerShell when the caller names it. There is
//! no login shell: `login` changes nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The argv running `cmd` through a shell: `shell` as named, else
/// `%ComSpec%`, else `cmd.exe`. PowerShell (`powershell`, `pwsh`, by name or
/// path, with or without `.exe`) gets `-NoProfile -Command`: a profile is
/// slow and may print, and is nothing a command should depend on; not
/// `-NonInteractive`, so that a prompt can still be answered through
/// `write_stdin`.
pub(crate) fn shell_argv(
    shell: Option<&str>,
    _login: bool,
    cmd: &str,
    env: &BTreeMap<String, String>,
) -> Vec<String> {
    let shell = shell.map(str::to_string).or_else(|| comspec(env)).unwrap_or_else(|| "cmd.exe".into());
    if is_powershell(&shell) {
        vec![shell, "-NoProfile".into(), "-Command".into(), cmd.into()]
    } else {
        vec![shell, "/c".into(), cmd.into()]
    }
}

/// `ComSpec`, whatever the case of its name (Windows names are
/// case-insensitive).
fn comspec(env: &BTreeMap<String, String>) -> Option<String> {
    env.iter().find(|(k, v)| k.eq_ignore_ascii_case("ComSpec") && !v.is_empty()).map(|(_, v)| v.clone())
}

fn is_powershell(shell: &str) -> bool {
    let name = shell.rsplit(['\\', '/']).next().unwrap_or(shell).to_ascii_lowercase();
    let stem = name.strip_suffix(".exe").unwrap_or(&name);
    stem == "powershell" || stem == "pwsh"
}

/// What `login` is when the caller does not say; it changes nothing here.
pub(crate) const LOGIN_DEFAULT: bool = false;

/// `canonical` without the `\\?\` prefix that canonicalization gives:
/// `cmd.exe` refuses such a working directory ("UNC paths are not
/// supported") and starts in the Windows directory instead.
pub(crate) fn working_directory(canonical: PathBuf) -> PathBuf {
    let Some(text) = canonical.to_str() else { return canonical };
    if let Some(rest) = text.strip_prefix(r"\\?\UNC\") {
        return PathBuf::from(format!(r"\\{rest}"));
    }
    match text.strip_prefix(r"\\?\") {
        Some(rest) if rest.as_bytes().get(1) == Some(&b':') => PathBuf::from(rest),
        _ => canonical,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn cmd_from_comspec_is_the_default() {
        let argv = shell_argv(None, true, "echo hi", &env(&[("COMSPEC", r"C:\Windows\system32\cmd.exe")]));
        assert_eq!(argv, [r"C:\Windows\system32\cmd.exe", "/c", "echo hi"]);
        assert_eq!(shell_argv(None, false, "dir", &env(&[])), ["cmd.exe", "/c", "dir"]);
        assert_eq!(shell_argv(None, false, "dir", &env(&[("ComSpec", "")])), ["cmd.exe", "/c", "dir"]);
    }

    #[test]
    fn powershell_by_name_or_path_gets_no_profile_and_command() {
        for shell in
            ["powershell", "PowerShell.exe", "pwsh", r"C:\Program Files\PowerShell\7\pwsh.exe", "/x/pwsh"]
        {
            for login in [false, true] {
                assert_eq!(
                    shell_argv(Some(shell), login, "Get-Date", &env(&[])),
                    [shell, "-NoProfile", "-Command", "Get-Date"],
                    "{shell}, login {login}"
                );
            }
        }
    }

    #[test]
    fn another_named_shell_gets_slash_c() {
        assert_eq!(shell_argv(Some("cmd"), true, "ver", &env(&[])), ["cmd", "/c", "ver"]);
        assert_eq!(shell_argv(Some("pwshell.exe"), true, "x", &env(&[])), ["pwshell.exe", "/c", "x"]);
    }

    #[test]
    fn a_working_directory_has_no_verbatim_prefix() {
        let plain = |p: &str| working_directory(PathBuf::from(p));
        assert_eq!(plain(r"\\?\C:\Users\me\work"), PathBuf::from(r"C:\Users\me\work"));
        assert_eq!(plain(r"\\?\UNC\server\share\x"), PathBuf::from(r"\\server\share\x"));
        assert_eq!(plain(r"C:\work"), PathBuf::from(r"C:\work"));
        // A verbatim name with no drive has no other spelling.
        assert_eq!(plain(r"\\?\Volume{0a1b}\dir"), PathBuf::from(r"\\?\Volume{0a1b}\dir"));
    }
}
