//! The policy model: what commands in a sandbox may do. A [`Policy`] is built
//! and validated once by a [`PolicyBuilder`] (from a preset, flags, or a
//! `cordon.toml`), then only read: it travels to the runner as JSON and the
//! runner enforces exactly what it says.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Names that stay read-only even inside a writable root.
pub const DEFAULT_PROTECTED_NAMES: &[&str] = &[".git", ".cordon"];

/// Devices every confining policy may write (terminals, the null device).
/// `/dev/pts` is the sandbox's own devpts instance where a mount namespace
/// is available; without one it is denied instead (see `sys::linux`).
pub const WRITABLE_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
    "/dev/random",
    "/dev/urandom",
];

/// Environment variables whose names contain one of these (case-insensitive)
/// are secrets: not passed to commands unless given explicitly.
pub const SECRET_MARKERS: &[&str] = &["KEY", "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL"];

/// What `--clear-env` keeps.
pub const CLEAR_ENV_KEEPS: &[&str] = &["PATH", "HOME", "TERM", "LANG"];

/// The starting points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Read everything, write nothing (but devices), no network.
    ReadOnly,
    /// Read everything; write the working directory and a private temp
    /// directory (protected names stay read-only); no network.
    WorkspaceWrite,
    /// No sandbox at all. Explicit opt-in only.
    FullAccess,
}

impl Preset {
    /// Every preset, in order of increasing access.
    pub const ALL: [Preset; 3] = [Preset::ReadOnly, Preset::WorkspaceWrite, Preset::FullAccess];

    /// The preset's name, as written on command lines and in files.
    pub fn name(self) -> &'static str {
        match self {
            Preset::ReadOnly => "read-only",
            Preset::WorkspaceWrite => "workspace-write",
            Preset::FullAccess => "full-access",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy name that is not one of the presets.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown policy {0:?}: expected read-only, workspace-write or full-access")]
pub struct UnknownPolicy(pub String);

impl FromStr for Preset {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| UnknownPolicy(s.to_string()))
    }
}

/// Filesystem access. Paths are absolute and canonical.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesystemPolicy {
    /// Read (and execute) everything not denied.
    pub read_everything: bool,
    /// Readable roots, when not everything is. With `read_everything` they
    /// grant nothing more, but name what must stay in view where the
    /// sandbox puts private directories in place of the host's (a
    /// `read-only` working directory under `/tmp`).
    pub read: Vec<PathBuf>,
    /// Writable roots (reading them is implied).
    pub write: Vec<PathBuf>,
    /// Neither readable nor writable.
    pub deny: Vec<PathBuf>,
    /// Read-only even though inside a writable root.
    pub protected: Vec<PathBuf>,
}

/// Resource limits; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Processes (and threads) the sandbox may have at once.
    pub processes: Option<u64>,
    /// Memory, in bytes.
    pub memory: Option<u64>,
    /// CPU time per process, in seconds.
    pub cpu_time: Option<u64>,
    /// Largest file a process may write, in bytes.
    pub file_size: Option<u64>,
    /// Open files per process.
    pub open_files: Option<u64>,
}

/// How a command's environment is made from the parent's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvPolicy {
    /// Start from almost nothing ([`CLEAR_ENV_KEEPS`]) instead of the
    /// parent's environment minus secrets.
    pub clear: bool,
}

impl EnvPolicy {
    /// The command's environment: the parent's, without secrets (or only
    /// [`CLEAR_ENV_KEEPS`] with `clear`), then `explicit` on top: what the
    /// user names explicitly always passes.
    pub fn apply(
        &self,
        parent: &BTreeMap<String, String>,
        explicit: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = parent
            .iter()
            .filter(
                |(name, _)| {
                    if self.clear { CLEAR_ENV_KEEPS.contains(&name.as_str()) } else { !is_secret(name) }
                },
            )
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.extend(explicit.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }
}

/// Whether a variable name marks a secret.
pub fn is_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|marker| upper.contains(marker))
}

/// What commands in a sandbox may do. Build it with [`PolicyBuilder`].
///
/// In JSON it is the object below, or just a preset's name (`"read-only"`),
/// which is built with the preset's defaults where it is read (for
/// `workspace-write`, around the reader's working directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "PolicyRepr")]
pub struct Policy {
    /// The preset it was built from.
    pub preset: Preset,
    /// Filesystem access.
    pub filesystem: FilesystemPolicy,
    /// Whether network access is allowed.
    pub network: bool,
    /// Resource limits.
    pub limits: Limits,
    /// The environment rule (applied by the parent, which builds each
    /// command's environment).
    pub env: EnvPolicy,
    /// Run even if some layer cannot be enforced (the report shows the gap).
    pub best_effort: bool,
}

/// The two JSON forms of a policy.
#[derive(Deserialize)]
#[serde(untagged)]
enum PolicyRepr {
    Preset(Preset),
    Full(PolicyFields),
}

/// The fields of [`Policy`], for deserializing its object form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFields {
    preset: Preset,
    filesystem: FilesystemPolicy,
    network: bool,
    limits: Limits,
    #[serde(default)]
    env: EnvPolicy,
    #[serde(default)]
    best_effort: bool,
}

impl TryFrom<PolicyRepr> for Policy {
    type Error = PolicyError;

    fn try_from(repr: PolicyRepr) -> Result<Self, Self::Error> {
        match repr {
            PolicyRepr::Preset(preset) => PolicyBuilder::new(preset).build(),
            PolicyRepr::Full(f) => Ok(Policy {
                preset: f.preset,
                filesystem: f.filesystem,
                network: f.network,
                limits: f.limits,
                env: f.env,
                best_effort: f.best_effort,
            }),
        }
    }
}

impl Policy {
    /// No sandbox at all.
    pub fn full_access() -> Policy {
        Policy {
            preset: Preset::FullAccess,
            filesystem: FilesystemPolicy::default(),
            network: true,
            limits: Limits::default(),
            env: EnvPolicy::default(),
            best_effort: false,
        }
    }

    /// Whether this policy confines anything.
    pub fn is_confining(&self) -> bool {
        self.preset != Preset::FullAccess
    }
}

/// Why a policy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A path the policy needs does not exist or cannot be resolved.
    #[error("{what} {path}: {source}")]
    Path {
        /// Which setting named it.
        what: &'static str,
        /// The path as given.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A `cordon.toml` could not be read or parsed.
    #[error("config {path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// Builds a [`Policy`]: a preset, then adjustments, then validation.
#[derive(Debug, Clone)]
pub struct PolicyBuilder {
    preset: Preset,
    cwd: Option<PathBuf>,
    temp_dir: Option<PathBuf>,
    write: Vec<PathBuf>,
    deny: Vec<PathBuf>,
    protected_names: Vec<String>,
    network: Option<bool>,
    limits: Limits,
    clear_env: bool,
    best_effort: bool,
}

impl PolicyBuilder {
    /// Starts from a preset.
    pub fn new(preset: Preset) -> Self {
        PolicyBuilder {
            preset,
            cwd: None,
            temp_dir: None,
            write: Vec::new(),
            deny: Vec::new(),
            protected_names: DEFAULT_PROTECTED_NAMES.iter().map(|s| s.to_string()).collect(),
            network: None,
            limits: Limits::default(),
            clear_env: false,
            best_effort: false,
        }
    }

    /// The working directory: writable under `workspace-write`.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// The private temp directory (`TMPDIR`): writable under
    /// `workspace-write`.
    pub fn temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.temp_dir = Some(dir.into());
        self
    }

    /// Another writable root.
    pub fn allow_write(mut self, dir: impl Into<PathBuf>) -> Self {
        self.write.push(dir.into());
        self
    }

    /// A path that may be neither read nor written.
    pub fn deny(mut self, path: impl Into<PathBuf>) -> Self {
        self.deny.push(path.into());
        self
    }

    /// Names kept read-only inside writable roots (replaces the default).
    pub fn protected_names(mut self, names: Vec<String>) -> Self {
        self.protected_names = names;
        self
    }

    /// Allows or forbids the network.
    pub fn network(mut self, allowed: bool) -> Self {
        self.network = Some(allowed);
        self
    }

    /// Resource limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// `--clear-env`.
    pub fn clear_env(mut self, clear: bool) -> Self {
        self.clear_env = clear;
        self
    }

    /// Run even where a layer cannot be enforced.
    pub fn best_effort(mut self, best_effort: bool) -> Self {
        self.best_effort = best_effort;
        self
    }

    /// Resolves every path and produces the policy.
    pub fn build(self) -> Result<Policy, PolicyError> {
        let env = EnvPolicy { clear: self.clear_env };
        if self.preset == Preset::FullAccess {
            return Ok(Policy { env, ..Policy::full_access() });
        }
        let resolve = |what: &'static str, path: &Path| {
            std::fs::canonicalize(path).map_err(|source| PolicyError::Path {
                what,
                path: path.to_path_buf(),
                source,
            })
        };
        let mut write = Vec::new();
        let mut read = Vec::new();
        if self.preset == Preset::WorkspaceWrite {
            let cwd = match &self.cwd {
                Some(cwd) => cwd.clone(),
                None => std::env::current_dir().map_err(|source| PolicyError::Path {
                    what: "working directory",
                    path: ".".into(),
                    source,
                })?,
            };
            write.push(resolve("working directory", &cwd)?);
            if let Some(tmp) = &self.temp_dir {
                write.push(resolve("temp directory", tmp)?);
            }
        } else if let Some(cwd) = &self.cwd {
            // Readable anyway; named so that it stays in view.
            read.push(resolve("working directory", cwd)?);
        } else if let Some(cwd) = std::env::current_dir().ok().and_then(|d| std::fs::canonicalize(d).ok()) {
            read.push(cwd);
        }
        for dir in &self.write {
            write.push(resolve("writable root", dir)?);
        }
        let mut protected = Vec::new();
        for root in &write {
            for name in &self.protected_names {
                let candidate = root.join(name);
                if candidate.exists() {
                    protected.push(candidate);
                }
            }
        }
        for device in WRITABLE_DEVICES {
            if Path::new(device).exists() {
                write.push(PathBuf::from(device));
            }
        }
        // A denied path that does not exist has nothing to hide yet: it is
        // kept (absolute) in the policy, but Landlock rules can only name
        // paths that exist, so one created later is not covered.
        let deny = self
            .deny
            .iter()
            .map(|p| match std::fs::canonicalize(p) {
                Ok(p) => Ok(p),
                Err(_) => std::path::absolute(p).map_err(|source| PolicyError::Path {
                    what: "denied path",
                    path: p.clone(),
                    source,
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        write.sort();
        write.dedup();
        Ok(Policy {
            preset: self.preset,
            filesystem: FilesystemPolicy { read_everything: true, read, write, deny, protected },
            network: self.network.unwrap_or(false),
            limits: self.limits,
            env,
            best_effort: self.best_effort,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_names_round_trip() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>().unwrap(), p);
        }
        assert!("everything".parse::<Preset>().is_err());
    }

    #[test]
    fn workspace_write_writes_cwd_and_temp_and_protects_git() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let policy =
            PolicyBuilder::new(Preset::WorkspaceWrite).cwd(dir.path()).temp_dir(tmp.path()).build().unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        assert!(policy.filesystem.write.contains(&cwd));
        assert!(policy.filesystem.write.contains(&tmp.path().canonicalize().unwrap()));
        // The terminal and null devices, where there are such paths.
        if cfg!(unix) {
            assert!(policy.filesystem.write.iter().any(|p| p == Path::new("/dev/null")));
        }
        assert_eq!(policy.filesystem.protected, vec![cwd.join(".git")]);
        assert!(policy.filesystem.read_everything);
        assert!(!policy.network);
    }

    #[test]
    fn read_only_writes_only_devices() {
        let policy = PolicyBuilder::new(Preset::ReadOnly).build().unwrap();
        assert!(policy.filesystem.write.iter().all(|p| p.starts_with("/dev")));
    }

    #[test]
    fn read_only_names_its_working_directory_as_a_read_root() {
        let dir = tempfile::tempdir().unwrap();
        let policy = PolicyBuilder::new(Preset::ReadOnly).cwd(dir.path()).build().unwrap();
        assert!(policy.filesystem.read_everything);
        assert_eq!(policy.filesystem.read, [dir.path().canonicalize().unwrap()]);
        let workspace = PolicyBuilder::new(Preset::WorkspaceWrite).cwd(dir.path()).build().unwrap();
        assert!(workspace.filesystem.read.is_empty(), "a writable root needs no read root");
        assert!(PolicyBuilder::new(Preset::ReadOnly).cwd("/no/such/dir").build().is_err());
    }

    #[test]
    fn a_missing_writable_root_is_an_error() {
        let err = PolicyBuilder::new(Preset::ReadOnly).allow_write("/no/such/dir").build().unwrap_err();
        assert!(err.to_string().contains("/no/such/dir"), "{err}");
    }

    #[test]
    fn secrets_are_filtered_unless_explicit() {
        let parent: BTreeMap<String, String> = [
            ("PATH", "/bin"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("github_token", "y"),
            ("DB_PASSWORD", "z"),
            ("MY_CREDENTIALS", "c"),
            ("API_KEY", "k"),
            ("EDITOR", "vi"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let explicit: BTreeMap<String, String> = [("API_KEY".to_string(), "given".to_string())].into();
        let env = EnvPolicy { clear: false }.apply(&parent, &explicit);
        assert_eq!(env.keys().collect::<Vec<_>>(), ["API_KEY", "EDITOR", "PATH"]);
        assert_eq!(env["API_KEY"], "given");
        let env = EnvPolicy { clear: true }.apply(&parent, &BTreeMap::new());
        assert_eq!(env.keys().collect::<Vec<_>>(), ["PATH"]);
    }

    #[test]
    fn a_preset_name_is_a_policy() {
        let policy: Policy = serde_json::from_str("\"full-access\"").unwrap();
        assert_eq!(policy, Policy::full_access());
        let policy: Policy = serde_json::from_str("\"read-only\"").unwrap();
        assert_eq!(policy.preset, Preset::ReadOnly);
        assert!(serde_json::from_str::<Policy>("\"everything\"").is_err());
    }

    #[test]
    fn policies_travel_as_json() {
        let policy = PolicyBuilder::new(Preset::ReadOnly).network(true).build().unwrap();
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), policy);
    }
}
