//! The sandbox accounts' passwords, as setup stores them and as cordon's
//! elevated mode reads them back.
//!
//! The file is [`CREDENTIALS_FILE`] in the state directory, JSON:
//!
//! ```json
//! { "version": 1, "users": { "CordonSandboxOffline": "01000000d08c9ddf…" } }
//! ```
//!
//! Each value is the lower-case hex of a DPAPI blob (`CryptProtectData`,
//! user scope) of the password's UTF-8 bytes: only the Windows user who
//! ran setup can read the passwords back, and only on this machine. The
//! state directory is that user's too (`%LOCALAPPDATA%\cordon`).
//!
//! A client that starts a sandbox as a sandbox user needs two calls:
//!
//! ```no_run
//! # fn main() -> Result<(), cordon_setup::SetupError> {
//! let state_dir = cordon_setup::default_state_dir()?;
//! let credentials = cordon_setup::credentials::load(&state_dir)?;
//! let password = credentials.password("CordonSandboxOffline")?;
//! # let _ = password;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use cordon_sandbox::windows::accounts::CREDENTIALS_FILE;

use crate::host::Host;
use crate::{ErrorCode, SetupError, sys};

/// The version of the file format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The stored passwords of the sandbox accounts, still protected: a
/// password is unprotected only when [`Credentials::password`] asks for it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User name to DPAPI blob.
    users: BTreeMap<String, Vec<u8>>,
}

/// The file as JSON.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    users: BTreeMap<String, String>,
}

/// The credentials file of `state_dir`, parsed (nothing is unprotected yet).
/// A missing file is an error: setup has not stored credentials there.
pub fn load(state_dir: &Path) -> Result<Credentials, SetupError> {
    let path = file_path(state_dir);
    match crate::files::read(&path) {
        Ok(Some(bytes)) => Credentials::from_json(&bytes, &path),
        Ok(None) => Err(SetupError::new(
            ErrorCode::Credentials,
            format!("{} does not exist: run `cordon setup` first", path.display()),
        )),
        Err(err) => {
            Err(SetupError::new(ErrorCode::Credentials, format!("reading {}: {err}", path.display())))
        }
    }
}

/// Where `state_dir` keeps the credentials.
pub fn file_path(state_dir: &Path) -> PathBuf {
    state_dir.join(CREDENTIALS_FILE)
}

impl Credentials {
    /// No credentials.
    pub fn new() -> Self {
        Credentials::default()
    }

    /// The users with a stored password, sorted.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// The password of `user` (names compare as Windows compares them,
    /// ignoring case), unprotected with DPAPI. Only the Windows user who
    /// stored it can do this; elsewhere than Windows it is an error.
    pub fn password(&self, user: &str) -> Result<String, SetupError> {
        self.password_with(&mut sys::System, user)
    }

    /// Stores `password` for `user` (replacing the user's entry), protected
    /// with DPAPI for the Windows user running this process.
    pub fn set_password(&mut self, user: &str, password: &str) -> Result<(), SetupError> {
        self.set_password_with(&mut sys::System, user, password)
    }

    /// Writes the credentials to `state_dir` (creating it), replacing the
    /// file as a whole. The directory is kept from the sandbox's reads
    /// first (`sys::keep_from_sandbox`, inherited by the file written in
    /// it), or nothing is written: the restricted-token sandbox runs as
    /// this user, and DPAPI would decrypt the passwords for it.
    pub fn store(&self, state_dir: &Path) -> Result<(), SetupError> {
        let path = file_path(state_dir);
        let failed = |what: &str, path: &Path, err: std::io::Error| {
            SetupError::new(ErrorCode::Credentials, format!("{what} {}: {err}", path.display()))
        };
        std::fs::create_dir_all(state_dir).map_err(|e| failed("creating", state_dir, e))?;
        sys::keep_from_sandbox(state_dir)
            .map_err(|e| failed("keeping the sandbox from reading", state_dir, e))?;
        crate::files::write(&path, &self.to_json()).map_err(|e| failed("writing", &path, e))
    }

    pub(crate) fn password_with(&self, host: &mut impl Host, user: &str) -> Result<String, SetupError> {
        let blob = self.blob(user).ok_or_else(|| {
            SetupError::new(
                ErrorCode::Credentials,
                format!("no stored password for {user}: run `cordon setup` again"),
            )
        })?;
        let secret = host.unprotect(blob)?;
        String::from_utf8(secret).map_err(|_| {
            SetupError::new(ErrorCode::Credentials, format!("the stored password of {user} is not UTF-8"))
        })
    }

    pub(crate) fn set_password_with(
        &mut self,
        host: &mut impl Host,
        user: &str,
        password: &str,
    ) -> Result<(), SetupError> {
        let blob = host.protect(password.as_bytes())?;
        self.insert_blob(user, blob);
        Ok(())
    }

    fn blob(&self, user: &str) -> Option<&[u8]> {
        self.users.iter().find(|(name, _)| same_name(name, user)).map(|(_, blob)| blob.as_slice())
    }

    pub(crate) fn insert_blob(&mut self, user: &str, blob: Vec<u8>) {
        self.users.retain(|name, _| !same_name(name, user));
        self.users.insert(user.to_string(), blob);
    }

    /// The file's content.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let file = File {
            version: FORMAT_VERSION,
            users: self.users.iter().map(|(name, blob)| (name.clone(), hex(blob))).collect(),
        };
        let mut json = serde_json::to_vec_pretty(&file).expect("a map of strings serialises");
        json.push(b'\n');
        json
    }

    /// Parses the file's content; `path` names it in errors.
    pub(crate) fn from_json(bytes: &[u8], path: &Path) -> Result<Credentials, SetupError> {
        let invalid = |why: String| {
            SetupError::new(
                ErrorCode::Credentials,
                format!(
                    "{} is not a cordon credentials file ({why}): run `cordon setup` again",
                    path.display()
                ),
            )
        };
        let file: File = serde_json::from_slice(bytes).map_err(|err| invalid(err.to_string()))?;
        if file.version != FORMAT_VERSION {
            return Err(invalid(format!("version {}, expected {FORMAT_VERSION}", file.version)));
        }
        let mut credentials = Credentials::new();
        for (name, text) in file.users {
            let blob = unhex(&text).ok_or_else(|| invalid(format!("the entry of {name} is not hex")))?;
            if credentials.blob(&name).is_some() {
                return Err(invalid(format!("{name} is listed twice")));
            }
            credentials.users.insert(name, blob);
        }
        Ok(credentials)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("users", &self.users.keys().collect::<Vec<_>>()).finish()
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;

    #[test]
    fn file_round_trips_with_its_blobs() {
        let mut credentials = Credentials::new();
        credentials.insert_blob("CordonSandboxOffline", vec![0x01, 0x00, 0xd0, 0x8c, 0xff]);
        credentials.insert_blob("CordonSandboxOnline", Vec::new());
        let json = credentials.to_json();
        let text = String::from_utf8(json.clone()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "version": 1,
                "users": { "CordonSandboxOffline": "0100d08cff", "CordonSandboxOnline": "" }
            })
        );
        assert_eq!(Credentials::from_json(&json, Path::new("f")).unwrap(), credentials);
    }

    #[test]
    fn passwords_go_through_protection_both_ways() {
        let mut host = FakeHost::default();
        let mut credentials = Credentials::new();
        credentials.set_password_with(&mut host, "CordonSandboxOffline", "Pa#5word").unwrap();
        assert_ne!(credentials.blob("CordonSandboxOffline").unwrap(), b"Pa#5word");
        let parsed = Credentials::from_json(&credentials.to_json(), Path::new("f")).unwrap();
        assert_eq!(parsed.password_with(&mut host, "cordonsandboxoffline").unwrap(), "Pa#5word");
    }

    #[test]
    fn a_new_password_replaces_the_entry_whatever_its_case() {
        let mut credentials = Credentials::new();
        credentials.insert_blob("cordonsandboxoffline", vec![1]);
        credentials.insert_blob("CordonSandboxOffline", vec![2]);
        assert_eq!(credentials.users().collect::<Vec<_>>(), vec!["CordonSandboxOffline"]);
        assert_eq!(credentials.blob("CORDONSANDBOXOFFLINE"), Some(&[2u8][..]));
    }

    #[test]
    fn missing_user_is_a_credentials_error() {
        let err =
            Credentials::new().password_with(&mut FakeHost::default(), "CordonSandboxOnline").unwrap_err();
        assert_eq!(err.code, ErrorCode::Credentials);
        assert!(err.message.contains("CordonSandboxOnline"), "{err}");
    }

    #[test]
    fn malformed_files_are_refused_with_their_path() {
        let path = Path::new(r"C:\state\sandbox-users.dpapi");
        for bad in [
            &b"not json"[..],
            br#"{"version": 2, "users": {}}"#,
            br#"{"version": 1, "users": {"a": "0g"}}"#,
            br#"{"version": 1, "users": {"a": "012"}}"#,
            br#"{"version": 1, "users": {"a": "01", "A": "02"}}"#,
            br#"{"version": 1, "users": {}, "extra": 1}"#,
            br#"{"users": {}}"#,
        ] {
            let err = Credentials::from_json(bad, path).unwrap_err();
            assert_eq!(err.code, ErrorCode::Credentials, "{}", String::from_utf8_lossy(bad));
            assert!(err.message.contains(r"C:\state\sandbox-users.dpapi"), "{err}");
        }
    }

    #[test]
    fn hex_is_lower_case_and_reversible() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)).unwrap(), bytes);
        assert_eq!(hex(&[0xab, 0x01]), "ab01");
        assert_eq!(unhex("AB01").unwrap(), vec![0xab, 0x01]);
        assert_eq!(unhex("é1"), None);
    }

    #[test]
    fn debug_shows_names_not_blobs() {
        let mut credentials = Credentials::new();
        credentials.insert_blob("CordonSandboxOffline", vec![0xde, 0xad]);
        let debug = format!("{credentials:?}");
        assert!(debug.contains("CordonSandboxOffline") && !debug.contains("222"), "{debug}");
    }

    #[test]
    fn loading_a_state_dir_without_credentials_says_to_run_setup() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err();
        assert_eq!(err.code, ErrorCode::Credentials);
        assert!(err.message.contains("cordon setup"), "{err}");
    }

    #[test]
    fn stored_file_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("nested").join("cordon");
        let mut credentials = Credentials::new();
        credentials.insert_blob("CordonSandboxOnline", vec![9, 8, 7]);
        credentials.store(&state).unwrap();
        assert_eq!(load(&state).unwrap(), credentials);
    }
}
