//! The policy model: what commands in a sandbox may do. A [`Policy`] is built
//! and validated once by a [`PolicyBuilder`] (from a preset, flags, or a
//! `cordon.toml`), then only read: it travels to the runner as JSON and the
//! runner enforces exactly what it says.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Names that stay read-only inside every writable root that outlives the
/// sandbox (not its private temp directory), whether or not they exist when
/// it starts: what would otherwise make code run outside later. cordon's
/// own policy; git's directory (configuration, hooks) and what it reads
/// from the work tree; editor, direnv and agent configuration, which run
/// commands when a folder is opened or entered; and, for a home directory
/// made writable, what shells and git read at every start.
pub const DEFAULT_PROTECTED_NAMES: &[&str] = &[
    "cordon.toml",
    ".cordon",
    ".git",
    ".gitmodules",
    ".vscode",
    ".idea",
    ".envrc",
    ".mcp.json",
    ".claude",
    ".cursor",
    ".codex",
    ".agents",
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".gitconfig",
    ".ssh",
];

/// Directories that are never a writable root unless named as one
/// explicitly ([`PolicyBuilder::allow_write`]): they themselves, or (for
/// [`SYSTEM_TREES`]) anything beneath them. The user's home directory is
/// one too.
pub const SYSTEM_DIRECTORIES: &[&str] =
    &["/", "/home", "/root", "/var", "/var/home", "/var/tmp", "/opt", "/srv", "/mnt", "/media", "/tmp"];

/// Trees of the system that are never a writable root, nor anything in
/// them, unless named explicitly ([`PolicyBuilder::allow_write`]).
pub const SYSTEM_TREES: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var/cache",
    "/var/lib",
    "/var/log",
    "/var/mail",
    "/var/spool",
];

/// Credential stores in the home directory that the confining presets deny
/// (neither readable nor writable) unless given back with
/// [`PolicyBuilder::allow_read`]: keys, cloud and registry credentials,
/// password stores.
pub const CREDENTIAL_STORES: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".config/gh",
    ".config/hub",
    ".docker/config.json",
    ".kube",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".vault-token",
    ".password-store",
    ".local/share/keyrings",
    ".terraform.d/credentials.tfrc.json",
];

/// The system's own secrets, denied by the confining presets too: password
/// hashes, and the host's SSH keys (readable to a runner started as root).
pub const SYSTEM_SECRETS: &[&str] = &["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"];

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
pub const SECRET_MARKERS: &[&str] = &["KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL"];

/// Words (between `_`, `-` or `.`, case-insensitive) that make a variable's
/// name a secret's: too short to look for inside other words (`PAT` is in
/// `PATH`), so only whole (`GITHUB_PAT`, `MYSQL_PWD`, `NPM_AUTH`,
/// `SENTRY_DSN`).
pub const SECRET_WORDS: &[&str] = &["PAT", "PWD", "PASS", "AUTH", "DSN", "PRIVATE", "COOKIE"];

/// Names that hold no secret although they match: the shell's working
/// directories.
const NOT_SECRETS: &[&str] = &["PWD", "OLDPWD"];

/// Prefixes of values that are credentials whatever the variable is called
/// (GitHub, GitLab, Slack, npm, OpenAI and Anthropic tokens, AWS access keys).
pub const SECRET_VALUE_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "npm_",
    "sk-",
    "AKIA",
    "ASIA",
];

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

/// The process limit of the confining presets by default: processes and
/// threads in the sandbox at once, counted by its pids cgroup. A fork bomb
/// stops there; a parallel build (`make -j64`, a JVM's or rustc's threads)
/// stays well below it.
pub const DEFAULT_PROCESSES: u64 = 4096;

/// The file size limit of the confining presets by default (`RLIMIT_FSIZE`):
/// 64 GiB, beyond any build artifact, disk image or core dump a workspace
/// makes, and far below a 15 TB sparse file.
pub const DEFAULT_FILE_SIZE: u64 = 64 << 30;

/// The least memory a sandbox may be given (`memory`, `sandbox_memory`):
/// the cgroup holds the runner and its supervisor too, a few MiB each, and
/// below this a shell and its first command are killed before they start.
pub const MIN_MEMORY: u64 = 32 << 20;

/// The fewest open files a command may be limited to: stdin, stdout and
/// stderr.
pub const MIN_OPEN_FILES: u64 = 3;

impl FilesystemPolicy {
    /// The writable roots that hold files: all but the devices a confining
    /// policy may write (terminals, the null devices, a private `/dev/shm`).
    pub fn writable_dirs(&self) -> impl Iterator<Item = &PathBuf> {
        self.write.iter().filter(|path| !path.starts_with("/dev"))
    }
}

/// Resource limits; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Processes (and threads) the sandbox may have at once.
    pub processes: Option<u64>,
    /// Memory, in bytes: the address space of each process (`RLIMIT_AS`)
    /// and the total of the sandbox (its cgroup). Runtimes that reserve
    /// more address space than they use (V8 and Node, JVMs, ASan, Go) fail
    /// under the first; [`sandbox_memory`](Self::sandbox_memory) sets only
    /// the second.
    pub memory: Option<u64>,
    /// Memory of the whole sandbox, in bytes: its cgroup's limit only, with
    /// no limit per process. With [`memory`](Self::memory) too, the smaller
    /// of the two is the sandbox's.
    #[serde(default)]
    pub sandbox_memory: Option<u64>,
    /// CPU time per process, in seconds.
    pub cpu_time: Option<u64>,
    /// Largest file a process may write, in bytes.
    pub file_size: Option<u64>,
    /// Open files per process.
    pub open_files: Option<u64>,
}

impl Limits {
    /// The default limits of the confining presets on this machine
    /// ([`Policy::default_limits`]): [`DEFAULT_PROCESSES`] processes and
    /// half the physical memory (rounded down to a MiB) for the whole
    /// sandbox, both in its cgroup, and files of [`DEFAULT_FILE_SIZE`].
    /// No address-space limit, no CPU time or open-file limit.
    pub fn preset_defaults() -> Limits {
        Limits {
            processes: Some(DEFAULT_PROCESSES),
            sandbox_memory: crate::sys::physical_memory().map(|bytes| (bytes / 2) & !((1 << 20) - 1)),
            file_size: Some(DEFAULT_FILE_SIZE),
            ..Limits::default()
        }
    }

    /// Refuses a limit no command could run under: no processes, no CPU
    /// time, fewer open files than [`MIN_OPEN_FILES`] or less memory than
    /// [`MIN_MEMORY`]. The error names the limit, the value and the least
    /// that is accepted.
    pub fn check(&self) -> Result<(), PolicyError> {
        let minimums = [
            ("process", self.processes, 1, "", "1 process"),
            ("memory", self.memory, MIN_MEMORY, " bytes", "32 MiB"),
            ("sandbox memory", self.sandbox_memory, MIN_MEMORY, " bytes", "32 MiB"),
            ("CPU time", self.cpu_time, 1, " s", "1 second"),
            ("open-file", self.open_files, MIN_OPEN_FILES, "", "3 (stdin, stdout and stderr)"),
        ];
        for (limit, value, minimum, unit, least) in minimums {
            if let Some(value) = value
                && value < minimum
            {
                return Err(PolicyError::Limit { limit, value: format!("{value}{unit}"), least });
            }
        }
        Ok(())
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// The memory limit of the whole sandbox: the smaller of
    /// [`memory`](Self::memory) and [`sandbox_memory`](Self::sandbox_memory).
    pub fn total_memory(&self) -> Option<u64> {
        match (self.memory, self.sandbox_memory) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// These limits without those `explicit` sets, which replace them: a
    /// default on a resource the caller limited has no say.
    pub fn superseded_by(&self, explicit: &Limits) -> Limits {
        let unless = |value: Option<u64>, replaced: bool| if replaced { None } else { value };
        Limits {
            processes: unless(self.processes, explicit.processes.is_some()),
            memory: unless(self.memory, explicit.memory.is_some()),
            sandbox_memory: unless(self.sandbox_memory, explicit.total_memory().is_some()),
            cpu_time: unless(self.cpu_time, explicit.cpu_time.is_some()),
            file_size: unless(self.file_size, explicit.file_size.is_some()),
            open_files: unless(self.open_files, explicit.open_files.is_some()),
        }
    }
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
            .filter(|(name, value)| {
                if self.clear {
                    CLEAR_ENV_KEEPS.contains(&name.as_str())
                } else {
                    !is_secret(name) && !is_secret_value(value)
                }
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.extend(explicit.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }
}

/// Whether a variable name marks a secret: it contains one of
/// [`SECRET_MARKERS`] or has one of [`SECRET_WORDS`] as a word.
pub fn is_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if NOT_SECRETS.contains(&upper.as_str()) {
        return false;
    }
    SECRET_MARKERS.iter().any(|marker| upper.contains(marker))
        || upper.split(['_', '-', '.']).any(|word| SECRET_WORDS.contains(&word))
}

/// Whether a variable's value is a credential by its shape: a URL with a
/// password in it (`postgres://user:pass@host/db`, a proxy
/// `http://user:pass@proxy:3128`), or a token with a known prefix
/// ([`SECRET_VALUE_PREFIXES`]) and no spaces.
pub fn is_secret_value(value: &str) -> bool {
    if let Some((_, rest)) = value.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && userinfo.contains(':')
        {
            return true;
        }
    }
    let token = value.trim();
    token.len() >= 16
        && !token.contains(char::is_whitespace)
        && SECRET_VALUE_PREFIXES.iter().any(|prefix| token.starts_with(prefix))
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
    /// Resource limits asked for: enforced, or the launch fails (unless
    /// best effort).
    pub limits: Limits,
    /// The preset's default limits ([`Limits::preset_defaults`]), less those
    /// [`limits`](Self::limits) replaces: applied where the machine allows
    /// (processes and memory need a cgroup) and named in the limits layer's
    /// detail where it does not, never failing the launch. None in a
    /// policy that does not mention them.
    pub default_limits: Limits,
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
    Full(Box<PolicyFields>),
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
    default_limits: Limits,
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
            PolicyRepr::Full(f) => {
                f.limits.check()?;
                let fs = &f.filesystem;
                // Relative to what? The runner's working directory is not the
                // writer's: every path of a written-out policy starts at a
                // root (on Windows `\dev\pts` is one too: rooted on the
                // current drive).
                let paths = fs.read.iter().chain(&fs.write).chain(&fs.deny).chain(&fs.protected);
                if let Some(path) = paths.into_iter().find(|path| !path.has_root()) {
                    return Err(PolicyError::Path {
                        what: "policy path",
                        path: path.clone(),
                        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an absolute path"),
                    });
                }
                Ok(Policy {
                    preset: f.preset,
                    filesystem: f.filesystem,
                    network: f.network,
                    limits: f.limits,
                    default_limits: f.default_limits,
                    env: f.env,
                    best_effort: f.best_effort,
                })
            }
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
            default_limits: Limits::default(),
            env: EnvPolicy::default(),
            best_effort: false,
        }
    }

    /// Whether this policy confines anything.
    pub fn is_confining(&self) -> bool {
        self.preset != Preset::FullAccess
    }

    /// The memory limit of the whole sandbox: the one asked for, else the
    /// default.
    pub fn total_memory(&self) -> Option<u64> {
        self.limits.total_memory().or_else(|| self.default_limits.total_memory())
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
    /// A writable root is reached through a symbolic link that a sandboxed
    /// command could have planted.
    #[error(
        "{what} {path} goes through the symbolic link {link} (to {target}), which a sandboxed command \
         could have planted: cordon makes writable only a directory named without such a link; name \
         {resolved} itself if that is what you mean"
    )]
    PlantedLink {
        /// Which setting named it.
        what: &'static str,
        /// The path as given.
        path: PathBuf,
        /// The link on the way.
        link: PathBuf,
        /// What the link points to.
        target: PathBuf,
        /// Where the path leads.
        resolved: PathBuf,
    },
    /// A writable root that is a system directory or the home directory,
    /// which only an explicit writable root may be.
    #[error(
        "{what} {path} is {kind}: cordon does not make it writable unless it is named as a writable \
         root itself (--allow-write {path}); run from a project directory instead"
    )]
    SystemDirectory {
        /// Which setting named it.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// "the root directory", "your home directory", "a system directory".
        kind: &'static str,
    },
    /// A `cordon.toml` could not be read or parsed.
    #[error("config {path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A limit below the least any command can run under (see
    /// [`Limits::check`]).
    #[error("a {limit} limit of {value} is too low: the least is {least}")]
    Limit {
        /// Which limit.
        limit: &'static str,
        /// The value asked for, with its unit.
        value: String,
        /// The least accepted, in words.
        least: &'static str,
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
    allow_read: Vec<PathBuf>,
    protected_names: Vec<String>,
    network: Option<bool>,
    limits: Limits,
    default_limits: Limits,
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
            allow_read: Vec::new(),
            protected_names: DEFAULT_PROTECTED_NAMES.iter().map(|s| s.to_string()).collect(),
            network: None,
            limits: Limits::default(),
            default_limits: Limits::preset_defaults(),
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

    /// Gives back a path that is denied by default ([`CREDENTIAL_STORES`],
    /// [`SYSTEM_SECRETS`]): every default deny at or beneath it is dropped.
    pub fn allow_read(mut self, path: impl Into<PathBuf>) -> Self {
        self.allow_read.push(path.into());
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

    /// Resource limits: enforced, or the launch fails (unless best
    /// effort). Each replaces the default on the same resource.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Replaces the preset's default limits ([`Limits::preset_defaults`]),
    /// which are applied where the machine allows and never fail a launch;
    /// `Limits::default()` lifts them all. `full-access` has none.
    pub fn default_limits(mut self, limits: Limits) -> Self {
        self.default_limits = limits;
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
    ///
    /// A writable root is the path the caller named: one reached through a
    /// symbolic link that a sandboxed command could have planted is refused
    /// ([`PolicyError::PlantedLink`]), and so are `/`, the home directory
    /// and the system's directories ([`SYSTEM_DIRECTORIES`],
    /// [`SYSTEM_TREES`]) unless named with [`allow_write`](Self::allow_write).
    /// Protected names are protected in every writable root but the temp
    /// directory, existing or not, and so are the `config` and `hooks` of
    /// every repository found in them (see [`crate::git`]).
    pub fn build(self) -> Result<Policy, PolicyError> {
        self.limits.check()?;
        let env = EnvPolicy { clear: self.clear_env };
        if self.preset == Preset::FullAccess {
            return Ok(Policy { env, ..Policy::full_access() });
        }
        let named: Vec<PathBuf> = self.write.iter().filter_map(|p| std::path::absolute(p).ok()).collect();
        let mut write = Vec::new();
        // The roots that outlive the sandbox, where protected names hold.
        let mut lasting = Vec::new();
        let mut read = Vec::new();
        if self.preset == Preset::WorkspaceWrite {
            let cwd = match &self.cwd {
                Some(cwd) => std::path::absolute(cwd),
                None => named_current_dir(),
            }
            .map_err(|source| PolicyError::Path {
                what: "working directory",
                path: ".".into(),
                source,
            })?;
            let explicit = named.contains(&cwd);
            let refuse = if explicit { Refuse::Nothing } else { Refuse::All };
            let cwd = writable_root("working directory", &cwd, refuse)?;
            write.push(cwd.clone());
            lasting.push(cwd);
            if let Some(tmp) = &self.temp_dir {
                write.push(writable_root("temp directory", tmp, Refuse::Directories)?);
            }
        } else if let Some(cwd) = &self.cwd {
            // Readable anyway; named so that it stays in view.
            let resolved = std::fs::canonicalize(cwd).map_err(|source| PolicyError::Path {
                what: "working directory",
                path: cwd.clone(),
                source,
            })?;
            read.push(resolved);
        } else if let Some(cwd) = std::env::current_dir().ok().and_then(|d| std::fs::canonicalize(d).ok()) {
            read.push(cwd);
        }
        for dir in &self.write {
            let root = writable_root("writable root", dir, Refuse::Nothing)?;
            write.push(root.clone());
            lasting.push(root);
        }
        let protected = protected_paths(&lasting, &self.protected_names);
        for device in WRITABLE_DEVICES {
            if Path::new(device).exists() {
                write.push(PathBuf::from(device));
            }
        }
        // A denied path that does not exist has nothing to hide yet: it is
        // kept (absolute) in the policy, but Landlock rules can only name
        // paths that exist, so one created later is not covered.
        let mut deny = self
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
        for secret in self.default_denies(&write)? {
            if !deny.contains(&secret) {
                deny.push(secret);
            }
        }
        write.sort();
        write.dedup();
        Ok(Policy {
            preset: self.preset,
            filesystem: FilesystemPolicy { read_everything: true, read, write, deny, protected },
            network: self.network.unwrap_or(false),
            default_limits: self.default_limits.superseded_by(&self.limits),
            limits: self.limits,
            env,
            best_effort: self.best_effort,
        })
    }
}

impl PolicyBuilder {
    /// The credential stores and system secrets that exist, less what
    /// [`allow_read`](Self::allow_read) gives back and what overlaps a
    /// writable root (a root the caller named inside one, or one inside a
    /// root, is the caller's explicit choice).
    fn default_denies(&self, write: &[PathBuf]) -> Result<Vec<PathBuf>, PolicyError> {
        let home = std::env::var_os("HOME").and_then(|h| std::fs::canonicalize(h).ok());
        let mut candidates: Vec<PathBuf> = SYSTEM_SECRETS.iter().map(PathBuf::from).collect();
        if let Ok(entries) = std::fs::read_dir("/etc/ssh") {
            candidates.extend(entries.flatten().map(|e| e.path()).filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("ssh_host_") && n.ends_with("_key"))
            }));
        }
        if let Some(home) = &home {
            candidates.extend(CREDENTIAL_STORES.iter().map(|store| home.join(store)));
            // Root's home, when the user's own is not in it.
            if !home.starts_with("/root") {
                candidates.push("/root".into());
            }
        }
        let given_back: Vec<PathBuf> =
            self.allow_read.iter().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())).collect();
        for path in &given_back {
            if let Some(store) = candidates.iter().find(|c| path.starts_with(c) && path != *c) {
                return Err(PolicyError::Path {
                    what: "readable path",
                    path: path.clone(),
                    source: std::io::Error::other(format!(
                        "it lies in {}, which is denied as a credential store; give back {} itself",
                        store.display(),
                        store.display()
                    )),
                });
            }
        }
        Ok(candidates
            .into_iter()
            .filter(|c| std::fs::symlink_metadata(c).is_ok())
            .filter(|c| !given_back.iter().any(|g| c.starts_with(g)))
            .filter(|c| !write.iter().any(|root| root.starts_with(c) || c.starts_with(root)))
            .filter_map(|c| std::fs::canonicalize(&c).ok())
            .collect())
    }
}

/// The working directory as the user named it: `$PWD` when it is absolute
/// and is the same directory (so a directory entered through a symbolic
/// link keeps the link in its name, where the kernel's answer would have
/// resolved it), else the kernel's.
pub fn named_current_dir() -> std::io::Result<PathBuf> {
    let physical = std::env::current_dir()?;
    if let Some(pwd) = std::env::var_os("PWD").map(PathBuf::from)
        && pwd.is_absolute()
        && crate::sys::same_file(&pwd, &physical)
    {
        return Ok(pwd);
    }
    Ok(physical)
}

/// Which system directories a writable root may not be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refuse {
    /// Any: the caller named it as a writable root itself.
    Nothing,
    /// `/`, the home directory and [`SYSTEM_DIRECTORIES`]: for a temp
    /// directory, which is made fresh under `$TMPDIR` (which may lie in
    /// `/run/user/UID`, a [`SYSTEM_TREES`] entry).
    Directories,
    /// Those and everything in [`SYSTEM_TREES`]: for the working directory.
    All,
}

/// `path` as a writable root: absolute, reached through no symbolic link a
/// sandboxed command could have planted (see [`planted_link`]), and not a
/// system directory `refuse` names.
fn writable_root(what: &'static str, path: &Path, refuse: Refuse) -> Result<PathBuf, PolicyError> {
    let io_error = |source| PolicyError::Path { what, path: path.to_path_buf(), source };
    let absolute = std::path::absolute(path).map_err(io_error)?;
    let resolved = std::fs::canonicalize(&absolute).map_err(io_error)?;
    if let Some((link, target)) = planted_link(&absolute) {
        return Err(PolicyError::PlantedLink { what, path: path.to_path_buf(), link, target, resolved });
    }
    let kind = match refuse {
        Refuse::Nothing => None,
        Refuse::Directories => system_kind(&resolved).filter(|_| !in_system_tree(&resolved)),
        Refuse::All => system_kind(&resolved),
    };
    if let Some(kind) = kind {
        return Err(PolicyError::SystemDirectory { what, path: resolved, kind });
    }
    Ok(resolved)
}

/// The first symbolic link on the way to `path` (absolute) that a sandboxed
/// command could have planted, with its target: any link except one in a
/// system directory that only root may write (`/home` or `/var/run` as
/// links are the system's own).
fn planted_link(path: &Path) -> Option<(PathBuf, PathBuf)> {
    let mut prefix = PathBuf::new();
    for component in path.components() {
        prefix.push(component);
        let Ok(meta) = std::fs::symlink_metadata(&prefix) else { return None };
        if !meta.file_type().is_symlink() {
            continue;
        }
        let parent = prefix.parent().unwrap_or(Path::new("/"));
        if !system_owned(parent) {
            let target = std::fs::read_link(&prefix).unwrap_or_default();
            return Some((prefix, target));
        }
    }
    None
}

/// Whether `dir` is a system directory only root may change.
fn system_owned(dir: &Path) -> bool {
    let Ok(canonical) = std::fs::canonicalize(dir) else { return false };
    system_kind(&canonical).is_some() && crate::sys::only_root_may_write(&canonical)
}

/// What kind of directory no implicit writable root may be, if `dir`
/// (canonical) is one.
fn system_kind(dir: &Path) -> Option<&'static str> {
    if dir.parent().is_none() {
        return Some("the root directory");
    }
    let home = std::env::var_os("HOME").and_then(|home| std::fs::canonicalize(home).ok());
    if home.as_deref() == Some(dir) {
        return Some("your home directory");
    }
    let system = SYSTEM_DIRECTORIES.iter().any(|d| dir == Path::new(d)) || in_system_tree(dir);
    system.then_some("a system directory")
}

/// Whether `dir` lies in one of [`SYSTEM_TREES`] (and is not one of
/// [`SYSTEM_DIRECTORIES`] itself).
fn in_system_tree(dir: &Path) -> bool {
    SYSTEM_TREES.iter().any(|tree| dir.starts_with(tree))
        && !SYSTEM_DIRECTORIES.iter().any(|d| dir == Path::new(d))
}

/// The protected paths of `roots`: each of `names` in each root, and in
/// every repository found in them its `config`, `hooks` and hooks path (or
/// its `.git` file), kept when inside a root and not beneath another
/// protected path.
fn protected_paths(roots: &[PathBuf], names: &[String]) -> Vec<PathBuf> {
    let global = crate::git::global_configs();
    let mut paths: Vec<PathBuf> = Vec::new();
    for root in roots {
        paths.extend(names.iter().map(|name| root.join(name)));
        for repo in crate::git::repositories(root) {
            paths.extend(crate::git::protected_paths(&repo, &global));
        }
    }
    let mut paths: Vec<PathBuf> = paths
        .into_iter()
        .filter_map(|path| normalize(&path))
        .filter(|path| roots.iter().any(|root| path.starts_with(root) && path != root))
        .collect();
    paths.sort();
    paths.dedup();
    let outermost: Vec<PathBuf> =
        paths.iter().filter(|p| !paths.iter().any(|q| q != *p && p.starts_with(q))).cloned().collect();
    outermost
}

/// `path` with `.` and `..` taken out lexically (a hooks path may say
/// `../hooks`); `None` if it climbs above the root.
fn normalize(path: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other),
        }
    }
    Some(out)
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
        // Every protected name in the working directory, existing or not;
        // none in the temp directory, which does not outlive the sandbox.
        let mut expected: Vec<PathBuf> = DEFAULT_PROTECTED_NAMES.iter().map(|name| cwd.join(name)).collect();
        expected.sort();
        assert_eq!(policy.filesystem.protected, expected);
        assert!(policy.filesystem.read_everything);
        assert!(!policy.network);
    }

    #[test]
    fn nested_repositories_keep_their_config_and_hooks_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(cwd.join("sub/.git/hooks")).unwrap();
        std::fs::write(cwd.join("sub/.git/config"), "[core]\n\thooksPath = ../githooks\n").unwrap();
        let policy = PolicyBuilder::new(Preset::WorkspaceWrite).cwd(&cwd).build().unwrap();
        let protected = &policy.filesystem.protected;
        for path in ["sub/.git/config", "sub/.git/hooks", "githooks", ".git"] {
            assert!(protected.contains(&cwd.join(path)), "{path} is not protected: {protected:?}");
        }
        // Nothing beneath a path that is already protected.
        let nested = PolicyBuilder::new(Preset::WorkspaceWrite).cwd(cwd.join("sub")).build().unwrap();
        assert!(nested.filesystem.protected.contains(&cwd.join("sub/.git")));
        let dot_git = cwd.join("sub/.git");
        assert!(!nested.filesystem.protected.iter().any(|p| p.starts_with(&dot_git) && *p != dot_git));
    }

    #[cfg(unix)]
    #[test]
    fn a_writable_root_through_a_planted_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let outside = base.join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, base.join("pkg")).unwrap();
        std::os::unix::fs::symlink("/", base.join("root")).unwrap();
        for (path, target) in [(base.join("pkg"), &outside), (base.join("root"), &PathBuf::from("/"))] {
            let err = PolicyBuilder::new(Preset::WorkspaceWrite).cwd(&path).build().unwrap_err();
            assert!(matches!(&err, PolicyError::PlantedLink { link, .. } if *link == path), "{err}");
            assert!(err.to_string().contains(&target.display().to_string()), "{err}");
            let err = PolicyBuilder::new(Preset::ReadOnly).allow_write(path.join(".")).build().unwrap_err();
            assert!(matches!(err, PolicyError::PlantedLink { .. }), "{err}");
        }
        // The directory itself, named as it is, is fine.
        PolicyBuilder::new(Preset::WorkspaceWrite).cwd(&outside).build().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn system_directories_are_writable_only_when_named_explicitly() {
        for dir in ["/", "/etc", "/usr/lib", "/tmp", "/run"] {
            let err = PolicyBuilder::new(Preset::WorkspaceWrite).cwd(dir).build().unwrap_err();
            assert!(matches!(err, PolicyError::SystemDirectory { .. }), "{dir}: {err}");
        }
        if let Some(home) = std::env::var_os("HOME").filter(|h| Path::new(h).is_dir()) {
            let err = PolicyBuilder::new(Preset::WorkspaceWrite).cwd(&home).build().unwrap_err();
            assert!(err.to_string().contains("home directory"), "{err}");
        }
        let policy =
            PolicyBuilder::new(Preset::WorkspaceWrite).cwd("/tmp").allow_write("/tmp").build().unwrap();
        assert!(policy.filesystem.write.contains(&PathBuf::from("/tmp")));
        // A temp directory is made fresh, possibly under /run/user/UID: only
        // the system directories themselves are refused for it.
        let project = tempfile::tempdir().unwrap();
        let err = PolicyBuilder::new(Preset::WorkspaceWrite)
            .cwd(project.path())
            .temp_dir("/tmp")
            .build()
            .unwrap_err();
        assert!(matches!(err, PolicyError::SystemDirectory { .. }), "{err}");
        if Path::new("/dev/shm").is_dir() {
            PolicyBuilder::new(Preset::WorkspaceWrite)
                .cwd(project.path())
                .temp_dir("/dev/shm")
                .build()
                .unwrap();
        }
    }

    #[test]
    fn read_only_writes_only_devices() {
        let policy = PolicyBuilder::new(Preset::ReadOnly).build().unwrap();
        assert!(policy.filesystem.write.iter().all(|p| p.starts_with("/dev")));
    }

    #[cfg(unix)]
    #[test]
    fn a_written_out_policy_with_a_relative_path_or_a_hopeless_limit_is_refused() {
        let mut policy = PolicyBuilder::new(Preset::ReadOnly).build().unwrap();
        let good = serde_json::to_string(&policy).unwrap();
        assert!(serde_json::from_str::<Policy>(&good).is_ok());
        policy.filesystem.deny.push("secret".into());
        let err = serde_json::from_str::<Policy>(&serde_json::to_string(&policy).unwrap()).unwrap_err();
        assert!(err.to_string().contains("not an absolute path"), "{err}");
        policy.filesystem.deny.pop();
        policy.limits.memory = Some(1);
        let err = serde_json::from_str::<Policy>(&serde_json::to_string(&policy).unwrap()).unwrap_err();
        assert!(err.to_string().contains("too low"), "{err}");
    }

    #[test]
    fn a_limit_no_command_could_run_under_is_refused_with_the_least_accepted() {
        let refused = [
            (
                Limits { processes: Some(0), ..Limits::default() },
                "a process limit of 0 is too low: the least is 1 process",
            ),
            (
                Limits { memory: Some(1), ..Limits::default() },
                "a memory limit of 1 bytes is too low: the least is 32 MiB",
            ),
            (
                Limits { sandbox_memory: Some(4 << 20), ..Limits::default() },
                "sandbox memory limit of 4194304 bytes",
            ),
            (Limits { cpu_time: Some(0), ..Limits::default() }, "a CPU time limit of 0 s"),
            (
                Limits { open_files: Some(2), ..Limits::default() },
                "the least is 3 (stdin, stdout and stderr)",
            ),
        ];
        for (limits, message) in refused {
            let err = limits.check().unwrap_err().to_string();
            assert!(err.contains(message), "{limits:?}: {err}");
            let built = PolicyBuilder::new(Preset::ReadOnly).limits(limits).build();
            assert!(matches!(built, Err(PolicyError::Limit { .. })), "{built:?}");
        }
        let least = Limits {
            processes: Some(1),
            memory: Some(MIN_MEMORY),
            sandbox_memory: Some(MIN_MEMORY),
            cpu_time: Some(1),
            file_size: Some(0),
            open_files: Some(MIN_OPEN_FILES),
        };
        assert!(least.check().is_ok());
    }

    // Unix's secrets: under Wine `/etc/shadow` is the host's file on drive Z:.
    #[cfg(unix)]
    #[test]
    fn the_systems_secrets_are_denied_unless_given_back() {
        if !Path::new("/etc/shadow").exists() {
            eprintln!("SKIPPED the_systems_secrets_are_denied_unless_given_back: no /etc/shadow here");
            return;
        }
        let shadow = PathBuf::from("/etc/shadow");
        let policy = PolicyBuilder::new(Preset::ReadOnly).build().unwrap();
        assert!(policy.filesystem.deny.contains(&shadow), "{:?}", policy.filesystem.deny);
        let policy = PolicyBuilder::new(Preset::ReadOnly).allow_read("/etc/shadow").build().unwrap();
        assert!(!policy.filesystem.deny.contains(&shadow));
        assert!(Policy::full_access().filesystem.deny.is_empty());
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
        assert!(
            !is_secret("PATH") && !is_secret("PWD") && !is_secret("OLDPWD") && !is_secret("GIT_AUTHOR_NAME")
        );
        let env = EnvPolicy { clear: false }.apply(&parent, &explicit);
        assert_eq!(env.keys().collect::<Vec<_>>(), ["API_KEY", "EDITOR", "PATH"]);
        assert_eq!(env["API_KEY"], "given");
        let env = EnvPolicy { clear: true }.apply(&parent, &BTreeMap::new());
        assert_eq!(env.keys().collect::<Vec<_>>(), ["PATH"]);
    }

    #[test]
    fn secrets_are_known_by_whole_words_and_by_the_shape_of_their_values() {
        for name in [
            "GITHUB_PAT",
            "GH_PAT",
            "MYSQL_PWD",
            "PASSWD",
            "AUTH",
            "NPM_AUTH",
            "DOCKER_AUTH_CONFIG",
            "SENTRY_DSN",
            "SSH_AUTH_SOCK",
            "db-pass",
        ] {
            assert!(is_secret(name), "{name}");
        }
        for value in [
            "postgres://app:hunter2@db.internal:5432/app",
            "http://user:p%40ss@proxy.corp:3128",
            "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
            "github_pat_11ABCDEFG0123456789",
            "AKIAIOSFODNN7EXAMPLE",
            "sk-ant-api03-0123456789abcdef",
        ] {
            assert!(is_secret_value(value), "{value}");
        }
        for value in [
            "https://github.com/org/repo",
            "http://proxy.corp:3128",
            "ssh://git@github.com/org/repo",
            "/usr/bin:/bin",
            "sk-",
            "en_US.UTF-8",
        ] {
            assert!(!is_secret_value(value), "{value}");
        }
        let parent: BTreeMap<String, String> = [("DATABASE_URL", "postgres://a:b@h/d"), ("HOME", "/home/me")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let env = EnvPolicy { clear: false }.apply(&parent, &BTreeMap::new());
        assert_eq!(env.keys().collect::<Vec<_>>(), ["HOME"]);
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
    fn confining_presets_have_default_limits_and_full_access_none() {
        let dir = tempfile::tempdir().unwrap();
        for preset in [Preset::ReadOnly, Preset::WorkspaceWrite] {
            let policy = PolicyBuilder::new(preset).cwd(dir.path()).build().unwrap();
            assert!(policy.limits.is_empty(), "{preset}: no limit asked for");
            let defaults = &policy.default_limits;
            assert_eq!(defaults.processes, Some(DEFAULT_PROCESSES), "{preset}");
            assert_eq!(defaults.file_size, Some(DEFAULT_FILE_SIZE), "{preset}");
            // Never an address-space limit by default: it breaks V8, JVMs,
            // ASan and Go, which reserve far more than they use.
            assert_eq!(defaults.memory, None, "{preset}");
            assert_eq!((defaults.cpu_time, defaults.open_files), (None, None), "{preset}");
            if cfg!(target_os = "linux") {
                let total = crate::sys::physical_memory().unwrap();
                let memory = defaults.sandbox_memory.expect("half the physical memory");
                assert!(memory <= total / 2 && memory > total / 2 - (1 << 20), "{memory} of {total}");
                assert_eq!(memory % (1 << 20), 0);
                assert_eq!(policy.total_memory(), Some(memory));
            }
        }
        let full = PolicyBuilder::new(Preset::FullAccess).build().unwrap();
        assert!(full.default_limits.is_empty() && full.limits.is_empty());
    }

    #[test]
    fn an_explicit_limit_replaces_its_default_and_defaults_can_be_lifted() {
        let explicit = Limits { processes: Some(64), memory: Some(1 << 30), ..Limits::default() };
        let policy = PolicyBuilder::new(Preset::ReadOnly).limits(explicit.clone()).build().unwrap();
        assert_eq!(policy.limits, explicit);
        // No default on what the caller limited; the file size default stays.
        assert_eq!(policy.default_limits.processes, None);
        assert_eq!(policy.default_limits.sandbox_memory, None);
        assert_eq!(policy.default_limits.file_size, Some(DEFAULT_FILE_SIZE));
        assert_eq!(policy.total_memory(), Some(1 << 30));
        // sandbox_memory replaces the memory default too, and with memory
        // the smaller of the two is the sandbox's.
        let both = Limits { memory: Some(4 << 30), sandbox_memory: Some(2 << 30), ..Limits::default() };
        assert_eq!(both.total_memory(), Some(2 << 30));
        let policy = PolicyBuilder::new(Preset::ReadOnly)
            .limits(Limits { sandbox_memory: Some(2 << 30), ..Limits::default() })
            .build()
            .unwrap();
        assert_eq!(policy.default_limits.sandbox_memory, None);
        assert_eq!(policy.total_memory(), Some(2 << 30));
        // Lifted, one or all.
        let lifted = Limits { processes: None, ..Limits::preset_defaults() };
        let policy = PolicyBuilder::new(Preset::ReadOnly).default_limits(lifted).build().unwrap();
        assert_eq!(policy.default_limits.processes, None);
        assert_eq!(policy.default_limits.file_size, Some(DEFAULT_FILE_SIZE));
        let policy = PolicyBuilder::new(Preset::ReadOnly).default_limits(Limits::default()).build().unwrap();
        assert!(policy.default_limits.is_empty());
    }

    #[test]
    fn a_policy_without_default_limits_in_its_json_has_none() {
        // As a policy was written before default limits and sandbox_memory
        // existed: it meant no limit but those named, and still does.
        let json = r#"{"preset": "read-only",
            "filesystem": {"read_everything": true, "read": [], "write": [], "deny": [], "protected": []},
            "network": false,
            "limits": {"processes": 64, "memory": null, "cpu_time": null, "file_size": null, "open_files": null}}"#;
        let policy: Policy = serde_json::from_str(json).unwrap();
        assert_eq!(policy.limits, Limits { processes: Some(64), ..Limits::default() });
        assert!(policy.default_limits.is_empty());
        // A preset's name is built with the preset's defaults.
        let policy: Policy = serde_json::from_str("\"read-only\"").unwrap();
        assert_eq!(policy.default_limits.processes, Some(DEFAULT_PROCESSES));
        // And a policy with them travels whole.
        let built = PolicyBuilder::new(Preset::ReadOnly).build().unwrap();
        let json = serde_json::to_value(&built).unwrap();
        assert_eq!(json["default_limits"]["processes"], DEFAULT_PROCESSES);
        assert_eq!(json["limits"]["sandbox_memory"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<Policy>(json).unwrap(), built);
    }

    #[test]
    fn policies_travel_as_json() {
        let policy = PolicyBuilder::new(Preset::ReadOnly).network(true).build().unwrap();
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), policy);
    }
}
