//! Options shared by `cordon run` and `cordon shell`, `cordon.toml`, and how
//! they become a [`Policy`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use cordon::{Limits, Policy, PolicyBuilder, Preset};
use serde::Deserialize;

/// The config file looked for in the working directory.
pub const CONFIG_FILE: &str = "cordon.toml";

/// How the runner is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Bootstrap {
    /// A framed IPC channel to the runner (default).
    Ipc,
    /// The legacy one-shot path: a private JSON request file, the command
    /// on cordon's own stdio.
    RequestFile,
}

/// What every command that runs something accepts.
#[derive(Debug, Clone, Args)]
pub struct SandboxArgs {
    /// The sandbox policy: read-only, workspace-write (default) or full-access.
    #[arg(long, value_name = "POLICY", value_parser = parse_preset)]
    pub policy: Option<Preset>,
    /// Another writable directory (repeatable).
    #[arg(long = "allow-write", value_name = "DIR")]
    pub allow_write: Vec<PathBuf>,
    /// A path the command may neither read nor write (repeatable).
    #[arg(long, value_name = "PATH")]
    pub deny: Vec<PathBuf>,
    /// Give back a credential store denied by default, such as ~/.aws
    /// (repeatable).
    #[arg(long = "allow-read", value_name = "PATH")]
    pub allow_read: Vec<PathBuf>,
    /// Allow network access (default: off).
    #[arg(long)]
    pub network: bool,
    /// At most this many processes in the sandbox.
    #[arg(long, value_name = "N")]
    pub max_procs: Option<u64>,
    /// Memory limit (512M, 2G, …).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,
    /// CPU time limit per process (500ms, 2s, 1m; whole seconds are enforced).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub cpu_time: Option<Duration>,
    /// Start the command from almost no environment (PATH, HOME, TERM, LANG).
    #[arg(long)]
    pub clear_env: bool,
    /// Run even if some sandbox layer cannot be enforced (see --explain).
    #[arg(long)]
    pub best_effort: bool,
    /// Read the policy from this file instead of ./cordon.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective policy and what is enforced to stderr first.
    #[arg(long)]
    pub explain: bool,
    /// Working directory of the command.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Kill the command's whole tree after this long (500ms, 2s, 1m, 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Set an environment variable for the command (repeatable; always
    /// passed, even if its name looks like a secret).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// How to start the runner.
    #[arg(long, value_enum, default_value = "ipc")]
    pub bootstrap: Bootstrap,
    /// Windows: the runner's security context (default: elevated once
    /// `cordon setup` has run, restricted-token otherwise). Ignored elsewhere.
    #[arg(long, value_enum, value_name = "MODE")]
    pub windows_mode: Option<WindowsModeArg>,
}

/// `cordon.toml`: a policy that flags may override.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    policy: Option<String>,
    network: Option<bool>,
    #[serde(default)]
    allow_write: Vec<PathBuf>,
    #[serde(default)]
    deny: Vec<PathBuf>,
    #[serde(default)]
    allow_read: Vec<PathBuf>,
    protected: Option<Vec<String>>,
    clear_env: Option<bool>,
    best_effort: Option<bool>,
    #[serde(default)]
    limits: ConfigLimits,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigLimits {
    max_procs: Option<u64>,
    memory: Option<String>,
    cpu_time: Option<String>,
    file_size: Option<String>,
    open_files: Option<u64>,
}

/// `--windows-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WindowsModeArg {
    /// As the sandbox user of `cordon setup`.
    Elevated,
    /// As the current user under a write-restricted token.
    RestrictedToken,
}

impl From<WindowsModeArg> for cordon::WindowsMode {
    fn from(mode: WindowsModeArg) -> Self {
        match mode {
            WindowsModeArg::Elevated => cordon::WindowsMode::Elevated,
            WindowsModeArg::RestrictedToken => cordon::WindowsMode::RestrictedToken,
        }
    }
}

/// What the command will run under.
#[derive(Debug)]
pub struct Prepared {
    /// The policy.
    pub policy: Policy,
    /// The command's environment.
    pub env: BTreeMap<String, String>,
    /// The private temp directory (`TMPDIR`) of `workspace-write`, removed
    /// when dropped: held here so it lives as long as the command.
    pub temp_dir: Option<tempfile::TempDir>,
}

/// Where a config file was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// `cordon.toml` in the working directory.
    Workspace,
    /// Named with `--config`.
    Named,
}

/// A config file and where it came from.
#[derive(Debug, Default)]
struct Config {
    /// `None` when there is none.
    found: Option<(PathBuf, Origin)>,
    file: ConfigFile,
}

impl SandboxArgs {
    /// Reads the config, applies the flags, builds and validates the policy,
    /// and makes the command's environment.
    ///
    /// A config file may only narrow what the flags give (see
    /// [`SandboxArgs::widenings`]) when a sandboxed command could have
    /// written it: the working directory's `cordon.toml`, or a `--config`
    /// file inside a writable root. A `--config` file elsewhere may widen,
    /// and is then named on stderr at every launch.
    pub fn prepare(&self) -> anyhow::Result<Prepared> {
        let cwd = self.named_cwd()?;
        let config = self.read_config(&cwd)?;
        let file = &config.file;
        let preset = match (self.policy, &file.policy) {
            (Some(p), _) => p,
            (None, Some(name)) => parse_preset(name).map_err(anyhow::Error::msg)?,
            (None, None) => Preset::WorkspaceWrite,
        };
        let temp_dir = if preset == Preset::WorkspaceWrite {
            Some(crate::sys::private_dir("cordon-tmp-").context("creating the private temp dir")?)
        } else {
            None
        };
        let size = |s: &Option<String>| s.as_deref().map(parse_size).transpose().map_err(anyhow::Error::msg);
        let secs =
            |s: &Option<String>| s.as_deref().map(parse_duration).transpose().map_err(anyhow::Error::msg);
        let limits = Limits {
            processes: self.max_procs.or(file.limits.max_procs),
            memory: self.memory.or(size(&file.limits.memory)?),
            cpu_time: self.cpu_time.or(secs(&file.limits.cpu_time)?).map(|d| d.as_secs().max(1)),
            file_size: size(&file.limits.file_size)?,
            open_files: file.limits.open_files,
        };
        let mut builder = PolicyBuilder::new(preset)
            .cwd(&cwd)
            .network(self.network || file.network.unwrap_or(false))
            .limits(limits)
            .clear_env(self.clear_env || file.clear_env.unwrap_or(false))
            .best_effort(self.best_effort || file.best_effort.unwrap_or(false));
        // Added to the defaults, never in their place.
        if let Some(names) = &file.protected {
            let mut all: Vec<String> =
                cordon::DEFAULT_PROTECTED_NAMES.iter().map(|n| n.to_string()).collect();
            for name in names {
                if !all.contains(name) {
                    all.push(name.clone());
                }
            }
            builder = builder.protected_names(all);
        }
        if let Some(tmp) = &temp_dir {
            builder = builder.temp_dir(tmp.path());
        }
        for dir in file.allow_write.iter().chain(&self.allow_write) {
            builder = builder.allow_write(dir);
        }
        for path in file.deny.iter().chain(&self.deny) {
            builder = builder.deny(path);
        }
        for path in file.allow_read.iter().chain(&self.allow_read) {
            builder = builder.allow_read(path);
        }
        let policy = builder.build()?;
        if let Some((path, origin)) = &config.found {
            let widenings = self.widenings(file);
            if !widenings.is_empty() {
                let widened = widenings.join(", ");
                let writable_root = policy_root_holding(&policy, path);
                match (origin, writable_root) {
                    (Origin::Workspace, _) => anyhow::bail!(
                        "{} asks to widen the sandbox ({widened}), but the working directory's config may \
                         only narrow it: a sandboxed command could have written it. Pass the matching \
                         flags, or keep the config outside the workspace and name it with --config",
                        path.display()
                    ),
                    (Origin::Named, Some(root)) => anyhow::bail!(
                        "{} asks to widen the sandbox ({widened}), but it lies in the writable root {}, \
                         where a sandboxed command could have written it: a config there may only narrow \
                         the sandbox. Pass the matching flags, or keep the config elsewhere",
                        path.display(),
                        root.display()
                    ),
                    (Origin::Named, None) => {
                        eprintln!("cordon: {} widens the sandbox: {widened}", path.display())
                    }
                }
            }
        }
        let mut explicit: BTreeMap<String, String> = self.env.iter().cloned().collect();
        if let Some(tmp) = &temp_dir {
            explicit.entry("TMPDIR".into()).or_insert_with(|| tmp.path().display().to_string());
        }
        let env = policy.env.apply(&cordon::utf8_environment(), &explicit);
        Ok(Prepared { policy, env, temp_dir })
    }

    /// The command's working directory as the user named it (through
    /// `$PWD` for the current one, so a link on the way is seen).
    fn named_cwd(&self) -> anyhow::Result<PathBuf> {
        let here = cordon::named_current_dir().context("reading the working directory")?;
        Ok(match &self.cwd {
            Some(dir) => here.join(dir),
            None => here,
        })
    }

    /// What `file` would give beyond the flags alone: a wider preset than
    /// the default, the network, writable roots, credential stores given
    /// back, best effort. (Its
    /// `protected` names only ever add to the defaults.)
    fn widenings(&self, file: &ConfigFile) -> Vec<String> {
        let mut widenings = Vec::new();
        let rank = |preset: Preset| Preset::ALL.iter().position(|p| *p == preset);
        if self.policy.is_none()
            && let Some(preset) = file.policy.as_deref().and_then(|name| parse_preset(name).ok())
            && rank(preset) > rank(Preset::WorkspaceWrite)
        {
            widenings.push(format!("policy = {preset:?}", preset = preset.name()));
        }
        if file.network == Some(true) && !self.network {
            widenings.push("network = true".into());
        }
        if !file.allow_write.is_empty() {
            let dirs: Vec<String> =
                file.allow_write.iter().map(|d| format!("{:?}", d.display().to_string())).collect();
            widenings.push(format!("allow_write = [{}]", dirs.join(", ")));
        }
        if !file.allow_read.is_empty() {
            let paths: Vec<String> =
                file.allow_read.iter().map(|d| format!("{:?}", d.display().to_string())).collect();
            widenings.push(format!("allow_read = [{}]", paths.join(", ")));
        }
        if file.best_effort == Some(true) && !self.best_effort {
            widenings.push("best_effort = true".into());
        }
        widenings
    }

    fn read_config(&self, cwd: &Path) -> anyhow::Result<Config> {
        let (path, origin) = match &self.config {
            Some(path) => (path.clone(), Origin::Named),
            None => {
                let candidate = cwd.join(CONFIG_FILE);
                // A directory there is no config (it may be the empty
                // placeholder a sandbox holds a missing protected name with).
                if !candidate.is_file() {
                    return Ok(Config::default());
                }
                (candidate, Origin::Workspace)
            }
        };
        let file = read_config_file(&path)?;
        Ok(Config { found: Some((path, origin)), file })
    }
}

/// The writable root of `policy` that holds `path`, if any (devices aside).
fn policy_root_holding<'a>(policy: &'a Policy, path: &Path) -> Option<&'a PathBuf> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    policy
        .filesystem
        .write
        .iter()
        .filter(|root| !cordon::WRITABLE_DEVICES.iter().any(|d| Path::new(d) == root.as_path()))
        .find(|root| path.starts_with(root))
}

fn read_config_file(path: &Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config {}", path.display()))
}

fn parse_preset(s: &str) -> Result<Preset, String> {
    s.parse().map_err(|e: cordon::UnknownPolicy| e.to_string())
}

/// Parses `512M`, `2G`, `100k`, or a bare number of bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: u64 = number.parse().map_err(|_| format!("invalid size {s:?}: expected e.g. 512M, 2G"))?;
    let factor: u64 = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("invalid size {s:?}: unknown unit {unit:?} (use K, M, G)")),
    };
    value.checked_mul(factor).ok_or_else(|| format!("invalid size {s:?}: too large"))
}

/// Parses `500ms`, `2s`, `1m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 =
        number.parse().map_err(|_| format!("invalid duration {s:?}: expected e.g. 500ms, 2s, 1m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("invalid duration {s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("invalid --env {s:?}: expected KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("2x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("100k").unwrap(), 100 << 10);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("M").is_err());
    }

    #[test]
    fn env_pairs() {
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(parse_env("A=").unwrap(), ("A".into(), "".into()));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("novalue").is_err());
    }

    #[test]
    fn config_files_parse_and_refuse_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cordon.toml");
        std::fs::write(
            &path,
            "policy = \"read-only\"\nnetwork = true\n[limits]\nmax_procs = 64\nmemory = \"1G\"\n",
        )
        .unwrap();
        let config = read_config_file(&path).unwrap();
        assert_eq!(config.policy.as_deref(), Some("read-only"));
        assert_eq!(config.limits.max_procs, Some(64));
        std::fs::write(&path, "polcy = \"read-only\"\n").unwrap();
        assert!(read_config_file(&path).is_err());
    }
}
