//! Windows path rules, applied to the text of a path so that they give the
//! same answer on every OS (on Linux, `C:\work` is a relative file name to
//! [`std::path::Path`]).
//!
//! The normal form names an object the way Windows compares names: `/` and
//! `\` are the same separator, a `\\?\` (or `\\?\UNC\`) prefix is dropped,
//! runs of separators are one, there is no trailing separator, and case does
//! not matter (it is folded with [`str::to_lowercase`]). Two paths with the
//! same normal form are the same path; `C:\` becomes `c:`.

use std::path::{Path, PathBuf};

/// Characters no component of a Windows path can hold (besides control
/// characters); `:` is allowed only after a drive letter, elsewhere it names
/// an alternate data stream.
const INVALID_IN_COMPONENT: &[char] = &['<', '>', '"', '|', '?', '*', ':'];

/// The path with `\` separators and without a `\\?\` prefix; case kept.
fn clean(path: &Path) -> String {
    let text = path.to_string_lossy().replace('/', "\\");
    let verbatim_unc = r"\\?\UNC\";
    if text.len() >= verbatim_unc.len()
        && text.is_char_boundary(verbatim_unc.len())
        && text[..verbatim_unc.len()].eq_ignore_ascii_case(verbatim_unc)
    {
        return format!(r"\\{}", &text[verbatim_unc.len()..]);
    }
    match text.strip_prefix(r"\\?\") {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

/// `path` as a program that does not read `\\?\` paths takes it
/// (`cmd.exe`): `\` separators, no `\\?\` prefix (`\\?\UNC\` becomes
/// `\\`), case kept.
///
/// ```
/// use std::path::Path;
/// use cordon_sandbox::windows::path::user_form;
///
/// assert_eq!(user_form(Path::new(r"\\?\C:\Work\t.bat")), r"C:\Work\t.bat");
/// assert_eq!(user_form(Path::new(r"\\?\UNC\srv\share\t.cmd")), r"\\srv\share\t.cmd");
/// ```
pub fn user_form(path: &Path) -> String {
    clean(path)
}

/// The normal form of `path` (see the module documentation).
///
/// ```
/// use std::path::Path;
/// use cordon_sandbox::windows::path::normalize;
///
/// assert_eq!(normalize(Path::new(r"\\?\C:\Work\Repo\")), r"c:\work\repo");
/// assert_eq!(normalize(Path::new("C:/work//repo")), r"c:\work\repo");
/// assert_eq!(normalize(Path::new(r"\\?\UNC\Server\Share\x")), r"\\server\share\x");
/// ```
pub fn normalize(path: &Path) -> String {
    let text = clean(path);
    let (lead, body) = match text.strip_prefix(r"\\") {
        Some(body) => (r"\\", body),
        None => ("", text.as_str()),
    };
    let mut out = String::from(lead);
    let mut after_separator = false;
    for c in body.chars() {
        if c == '\\' {
            if after_separator {
                continue;
            }
            after_separator = true;
        } else {
            after_separator = false;
        }
        out.push(c);
    }
    while out.len() > lead.len() && out.ends_with('\\') {
        out.pop();
    }
    out.to_lowercase()
}

/// Whether `path` is absolute by Windows rules: a drive and a root
/// (`C:\…`) or a UNC path (`\\server\share…`). `C:work` and `\work` are
/// relative to a current drive or directory, so they are not.
pub fn is_absolute(path: &Path) -> bool {
    let text = clean(path);
    let bytes = text.as_bytes();
    let drive = bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'\\';
    let unc = bytes.len() > 2 && bytes.starts_with(br"\\") && bytes[2] != b'\\';
    drive || unc
}

/// Whether `inner` is `outer` or lies beneath it; both in normal form.
pub fn is_within(inner: &str, outer: &str) -> bool {
    inner == outer || (inner.starts_with(outer) && inner[outer.len()..].starts_with('\\'))
}

/// `root\name`, with a Windows separator whatever the host OS.
pub fn join(root: &Path, name: &str) -> PathBuf {
    let root = root.to_string_lossy();
    PathBuf::from(format!("{}\\{name}", root.trim_end_matches(['\\', '/'])))
}

/// Why an absolute path in normal form is not canonical, if it is not:
/// `.` and `..` components, names Windows would silently change (trailing
/// dots or spaces), alternate data streams and invalid characters. Two such
/// spellings can name the same object, so a list of them cannot be checked
/// for duplicates.
pub fn non_canonical(normalized: &str) -> Option<&'static str> {
    let components: Vec<&str> = match normalized.strip_prefix(r"\\") {
        Some(unc) => unc.split('\\').collect(),
        // The drive (`c:`) is checked by `is_absolute`; its colon is allowed.
        None => normalized.split('\\').skip(1).collect(),
    };
    for component in components {
        if component == "." || component == ".." {
            return Some("it has . or .. components");
        }
        if component.ends_with(['.', ' ']) {
            return Some("a component ends with a dot or a space, which Windows drops");
        }
        if component.contains(INVALID_IN_COMPONENT) || component.contains(char::is_control) {
            return Some("a component holds a character Windows does not allow in names (or a stream name)");
        }
    }
    None
}

/// Whether a path in normal form is a whole volume: a drive (`c:`) or a
/// share (`\\server\share`).
pub fn is_volume_root(normalized: &str) -> bool {
    match normalized.strip_prefix(r"\\") {
        Some(unc) => unc.split('\\').count() <= 2,
        None => !normalized.contains('\\'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_form_ignores_case_separators_and_prefixes() {
        let same =
            [r"C:\Work\Repo", r"c:\work\repo\", "C:/Work/Repo", r"\\?\C:\WORK\Repo", r"C:\Work\\Repo\\"];
        for spelling in same {
            assert_eq!(normalize(Path::new(spelling)), r"c:\work\repo", "{spelling}");
        }
        assert_eq!(normalize(Path::new(r"C:\")), "c:");
        assert_eq!(normalize(Path::new(r"\\?\unc\srv\share\")), r"\\srv\share");
        assert_eq!(normalize(Path::new(r"\\Srv\Share\Dir")), r"\\srv\share\dir");
    }

    #[test]
    fn absolute_means_drive_and_root_or_unc() {
        for path in [r"C:\", r"C:\work", "d:/x", r"\\srv\share", r"\\?\C:\work", r"\\?\UNC\srv\share"] {
            assert!(is_absolute(Path::new(path)), "{path}");
        }
        for path in ["", "work", r"C:work", r"\work", "/work", r"1:\x", r"\\\x"] {
            assert!(!is_absolute(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn within_respects_component_boundaries() {
        assert!(is_within(r"c:\work\repo", r"c:\work"));
        assert!(is_within(r"c:\work", r"c:\work"));
        assert!(!is_within(r"c:\workshop", r"c:\work"));
        assert!(is_within(r"c:\work", "c:"));
    }

    #[test]
    fn join_uses_a_backslash() {
        assert_eq!(join(Path::new(r"C:\work\"), ".git"), PathBuf::from(r"C:\work\.git"));
        assert_eq!(join(Path::new("C:/work"), ".git"), PathBuf::from(r"C:/work\.git"));
    }

    #[test]
    fn spellings_that_alias_another_path_are_not_canonical() {
        for path in
            [r"c:\work\..\windows", r"c:\work\.\x", r"c:\work.", r"c:\work ", r"c:\work:stream", r"c:\a*b"]
        {
            assert!(non_canonical(path).is_some(), "{path}");
        }
        for path in [r"c:\work", r"c:\work\.git", r"\\srv\share\dir", r"c:\a b\c.d"] {
            assert_eq!(non_canonical(path), None, "{path}");
        }
    }

    #[test]
    fn volume_roots() {
        assert!(is_volume_root("c:"));
        assert!(is_volume_root(r"\\srv\share"));
        assert!(is_volume_root(r"\\srv"));
        assert!(!is_volume_root(r"c:\work"));
        assert!(!is_volume_root(r"\\srv\share\dir"));
    }
}
