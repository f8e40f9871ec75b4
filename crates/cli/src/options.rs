//! Options shared by `cordon run` and `cordon shell`, `cordon.toml`, and how
//! they become a [`Policy`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use cordon::{Limits, Policy, PolicyBuilder, Preset};

use crate::config::{ConfigFile, ConfigLimits, CountOrWord};

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
    /// At most N processes and threads of the commands (the runner's own
    /// not counted), or `unlimited` (default: 4096, where a pids cgroup can
    /// be made).
    #[arg(long, value_name = "N|unlimited", value_parser = parse_count_limit)]
    pub max_procs: Option<Limit>,
    /// Memory limit of each process's address space and of the sandbox
    /// (512M, 2G), or `unlimited` to lift the default (the sandbox's memory
    /// only: half the physical memory, where a memory cgroup can be made).
    #[arg(long, value_name = "SIZE|unlimited", value_parser = parse_size_limit)]
    pub memory: Option<Limit>,
    /// Memory limit of the whole sandbox only, none per process (what
    /// Node, JVMs and ASan need), or `unlimited`.
    #[arg(long, value_name = "SIZE|unlimited", value_parser = parse_size_limit)]
    pub sandbox_memory: Option<Limit>,
    /// Largest file a command may write (default 64G), or `unlimited`.
    #[arg(long, value_name = "SIZE|unlimited", value_parser = parse_size_limit)]
    pub file_size: Option<Limit>,
    /// CPU time limit per process (500ms, 2s, 1m; whole seconds are
    /// enforced), or `unlimited`.
    #[arg(long, value_name = "DURATION|unlimited", value_parser = parse_seconds_limit)]
    pub cpu_time: Option<Limit>,
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

/// A limit as a flag or `cordon.toml` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `unlimited`: no limit, not even the preset's default.
    Unlimited,
    /// At most this (a count, bytes or seconds).
    At(u64),
}

impl Limit {
    fn value(self) -> Option<u64> {
        match self {
            Limit::Unlimited => None,
            Limit::At(n) => Some(n),
        }
    }

    /// Whether it allows more than `default` (`None`: no default, so
    /// nothing to raise).
    fn raises(self, default: Option<u64>) -> bool {
        match (self, default) {
            (_, None) => false,
            (Limit::Unlimited, Some(_)) => true,
            (Limit::At(n), Some(d)) => n > d,
        }
    }

    /// The smaller of two limits on the same thing.
    fn min(a: Option<Limit>, b: Option<Limit>) -> Option<Limit> {
        match (a, b) {
            (Some(Limit::At(a)), Some(Limit::At(b))) => Some(Limit::At(a.min(b))),
            (Some(Limit::At(n)), _) | (_, Some(Limit::At(n))) => Some(Limit::At(n)),
            (a, b) => a.or(b),
        }
    }
}

/// The limits of the flags and the config file together, flags first.
#[derive(Debug, Default, Clone, Copy)]
struct LimitSettings {
    processes: Option<Limit>,
    memory: Option<Limit>,
    sandbox_memory: Option<Limit>,
    cpu_time: Option<Limit>,
    file_size: Option<Limit>,
    open_files: Option<Limit>,
}

impl LimitSettings {
    /// The config file's `[limits]`.
    fn of_file(limits: &ConfigLimits) -> anyhow::Result<LimitSettings> {
        let count = |value: &Option<CountOrWord>| {
            value
                .as_ref()
                .map(|v| match v {
                    CountOrWord::Count(n) => Ok(Limit::At(*n)),
                    CountOrWord::Word(word) => parse_count_limit(word),
                })
                .transpose()
                .map_err(anyhow::Error::msg)
        };
        let size =
            |s: &Option<String>| s.as_deref().map(parse_size_limit).transpose().map_err(anyhow::Error::msg);
        let secs = |s: &Option<String>| {
            s.as_deref().map(parse_seconds_limit).transpose().map_err(anyhow::Error::msg)
        };
        Ok(LimitSettings {
            processes: count(&limits.max_procs)?,
            memory: size(&limits.memory)?,
            sandbox_memory: size(&limits.sandbox_memory)?,
            cpu_time: secs(&limits.cpu_time)?,
            file_size: size(&limits.file_size)?,
            open_files: count(&limits.open_files)?,
        })
    }

    /// The flags' (`--max-procs`, `--memory`, …).
    fn of_flags(args: &SandboxArgs) -> LimitSettings {
        LimitSettings {
            processes: args.max_procs,
            memory: args.memory,
            sandbox_memory: args.sandbox_memory,
            cpu_time: args.cpu_time,
            file_size: args.file_size,
            open_files: None,
        }
    }

    /// `self`, where it says nothing, `other`.
    fn or(self, other: LimitSettings) -> LimitSettings {
        LimitSettings {
            processes: self.processes.or(other.processes),
            memory: self.memory.or(other.memory),
            sandbox_memory: self.sandbox_memory.or(other.sandbox_memory),
            cpu_time: self.cpu_time.or(other.cpu_time),
            file_size: self.file_size.or(other.file_size),
            open_files: self.open_files.or(other.open_files),
        }
    }

    /// The limits asked for, and the preset's defaults less those lifted
    /// with `unlimited` (the policy builder drops those that a limit asked
    /// for replaces).
    fn resolve(self) -> (Limits, Limits) {
        let limits = Limits {
            processes: self.processes.and_then(Limit::value),
            memory: self.memory.and_then(Limit::value),
            sandbox_memory: self.sandbox_memory.and_then(Limit::value),
            cpu_time: self.cpu_time.and_then(Limit::value),
            file_size: self.file_size.and_then(Limit::value),
            open_files: self.open_files.and_then(Limit::value),
        };
        let mut defaults = Limits::preset_defaults();
        let lifted = |limit: Option<Limit>| limit == Some(Limit::Unlimited);
        if lifted(self.processes) {
            defaults.processes = None;
        }
        if lifted(self.memory) || lifted(self.sandbox_memory) {
            defaults.memory = None;
            defaults.sandbox_memory = None;
        }
        if lifted(self.cpu_time) {
            defaults.cpu_time = None;
        }
        if lifted(self.file_size) {
            defaults.file_size = None;
        }
        if lifted(self.open_files) {
            defaults.open_files = None;
        }
        (limits, defaults)
    }
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
    /// The sandbox's temp directory (`TMPDIR`); one of the host's is
    /// removed when dropped: held here so it lives as long as the command.
    pub temp_dir: crate::sys::SandboxTemp,
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
        let temp_dir = crate::sys::sandbox_temp(preset).context("creating the private temp dir")?;
        let file_limits = LimitSettings::of_file(&file.limits)?;
        let (limits, default_limits) = LimitSettings::of_flags(self).or(file_limits).resolve();
        let mut builder = PolicyBuilder::new(preset)
            .cwd(&cwd)
            .network(self.network || file.network.unwrap_or(false))
            .limits(limits)
            .default_limits(default_limits)
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
        if let Some(tmp) = temp_dir.host_dir() {
            builder = builder.temp_dir(tmp);
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
        for root in system_writable_roots(&policy) {
            eprintln!(
                "cordon: warning: {} is writable inside the sandbox: it holds what the system or your \
                 account runs ({}), which a command may change for every program after it",
                root.display(),
                what_it_holds(&root)
            );
        }
        if let Some((path, origin)) = &config.found {
            let widenings = self.widenings(file, &file_limits);
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
        for (name, value) in temp_dir.variables() {
            explicit.entry(name).or_insert(value);
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
    /// back, best effort, a limit raised above its default or lifted. (Its
    /// `protected` names only ever add to the defaults; its other limits
    /// only narrow.)
    fn widenings(&self, file: &ConfigFile, limits: &LimitSettings) -> Vec<String> {
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
        let defaults = Limits::preset_defaults();
        let raised = |key: &str, limit: Option<Limit>, default: Option<u64>, show: fn(u64) -> String| {
            let limit = limit.filter(|limit| limit.raises(default))?;
            let given = match limit {
                Limit::Unlimited => "\"unlimited\"".to_string(),
                Limit::At(n) => show(n),
            };
            Some(format!("limits.{key} = {given} (the default is {})", show(default?)))
        };
        let quoted_size = |n: u64| format!("\"{}\"", format_size(n));
        if self.max_procs.is_none() {
            widenings.extend(raised("max_procs", limits.processes, defaults.processes, |n| n.to_string()));
        }
        // Both bound the sandbox's memory; the smaller wins.
        if self.memory.is_none()
            && self.sandbox_memory.is_none()
            && Limit::min(limits.memory, limits.sandbox_memory)
                .is_some_and(|l| l.raises(defaults.sandbox_memory))
        {
            for (key, limit) in [("memory", limits.memory), ("sandbox_memory", limits.sandbox_memory)] {
                widenings.extend(raised(key, limit, defaults.sandbox_memory, quoted_size));
            }
        }
        if self.file_size.is_none() {
            widenings.extend(raised("file_size", limits.file_size, defaults.file_size, quoted_size));
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
    policy.filesystem.writable_dirs().find(|root| path.starts_with(root))
}

fn read_config_file(path: &Path) -> anyhow::Result<ConfigFile> {
    use std::io::Read;
    let reading = || format!("reading config {}", path.display());
    // One byte past the bound, for parse to refuse: never the whole of a
    // huge file.
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(crate::config::MAX_CONFIG_BYTES as u64 + 1).read_to_string(&mut text))
        .with_context(reading)?;
    ConfigFile::parse(&text).with_context(|| format!("config {}", path.display()))
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

/// `unlimited`, or what `parse` makes of `s`.
fn parse_limit(s: &str, parse: impl Fn(&str) -> Result<u64, String>) -> Result<Limit, String> {
    if s.trim() == "unlimited" { Ok(Limit::Unlimited) } else { parse(s).map(Limit::At) }
}

/// `64`, or `unlimited`.
fn parse_count_limit(s: &str) -> Result<Limit, String> {
    parse_limit(s, |s| {
        s.trim().parse().map_err(|_| format!("invalid count {s:?}: expected a number or unlimited"))
    })
}

/// `2G`, `512M`, or `unlimited`.
fn parse_size_limit(s: &str) -> Result<Limit, String> {
    parse_limit(s, parse_size)
}

/// `10m`, `30s` (whole seconds, at least one), or `unlimited`.
fn parse_seconds_limit(s: &str) -> Result<Limit, String> {
    parse_limit(s, |s| parse_duration(s).map(|d| d.as_secs().max(1)))
}

/// `bytes` as `parse_size` reads it: `64G`, `512M`, `100K` when exact,
/// else a number of bytes.
pub fn format_size(bytes: u64) -> String {
    for (unit, factor) in [("T", 1u64 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)] {
        if bytes >= factor && bytes % factor == 0 {
            return format!("{}{unit}", bytes / factor);
        }
    }
    bytes.to_string()
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

/// The writable roots that are system directories, inside one of the
/// system's trees, or the home directory: named with `--allow-write` (the
/// builder refuses them otherwise), and worth a word at every launch.
fn system_writable_roots(policy: &Policy) -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").and_then(|home| std::fs::canonicalize(home).ok());
    policy
        .filesystem
        .writable_dirs()
        .filter(|root| {
            cordon::SYSTEM_DIRECTORIES.iter().any(|dir| root.as_path() == Path::new(dir))
                || cordon::SYSTEM_TREES.iter().any(|tree| root.starts_with(tree))
                || home.as_deref() == Some(root.as_path())
        })
        .cloned()
        .collect()
}

/// What a system writable root holds, for the warning.
fn what_it_holds(root: &Path) -> &'static str {
    if root == Path::new("/") {
        "/etc, /usr, your home and everything else"
    } else if std::env::var_os("HOME").is_some_and(|home| Path::new(&home) == root) {
        "your shell's and tools' configuration"
    } else {
        "configuration or programs"
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

    /// `SandboxArgs` as the command line gives them.
    fn flags(args: &[&str]) -> SandboxArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            sandbox: SandboxArgs,
        }
        let argv = std::iter::once("cordon").chain(args.iter().copied());
        <Cli as clap::Parser>::try_parse_from(argv).unwrap().sandbox
    }

    fn config(text: &str) -> ConfigFile {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn limits_are_values_or_unlimited() {
        assert_eq!(parse_count_limit("64").unwrap(), Limit::At(64));
        assert_eq!(parse_count_limit("unlimited").unwrap(), Limit::Unlimited);
        assert!(parse_count_limit("lots").is_err());
        assert!(parse_count_limit("-1").is_err());
        assert_eq!(parse_size_limit("2G").unwrap(), Limit::At(2 << 30));
        assert_eq!(parse_size_limit("unlimited").unwrap(), Limit::Unlimited);
        assert!(parse_size_limit("infinite").is_err());
        assert_eq!(parse_seconds_limit("1500ms").unwrap(), Limit::At(1));
        assert_eq!(parse_seconds_limit("10m").unwrap(), Limit::At(600));
        assert_eq!(parse_seconds_limit("unlimited").unwrap(), Limit::Unlimited);
        assert_eq!(format_size(64 << 30), "64G");
        assert_eq!(format_size(12052 << 20), "12052M");
        assert_eq!(format_size(1000), "1000");
        let file = config(
            "[limits]\nmax_procs = \"unlimited\"\nmemory = \"unlimited\"\nfile_size = \"1G\"\nopen_files = 256\n",
        );
        let limits = LimitSettings::of_file(&file.limits).unwrap();
        assert_eq!(limits.processes, Some(Limit::Unlimited));
        assert_eq!(limits.memory, Some(Limit::Unlimited));
        assert_eq!(limits.file_size, Some(Limit::At(1 << 30)));
        assert_eq!(limits.open_files, Some(Limit::At(256)));
        let file = config("[limits]\nmax_procs = \"many\"\n");
        assert!(LimitSettings::of_file(&file.limits).is_err());
    }

    #[test]
    fn flags_set_limits_and_lift_defaults_over_the_config() {
        let resolve = |args: &[&str], text: &str| {
            let file = LimitSettings::of_file(&config(text).limits).unwrap();
            LimitSettings::of_flags(&flags(args)).or(file).resolve()
        };
        // Nothing given: no limit asked for, the preset's defaults.
        let (limits, defaults) = resolve(&[], "");
        assert!(limits.is_empty());
        assert_eq!(defaults, Limits::preset_defaults());
        // Values are limits asked for; `unlimited` lifts a default.
        let (limits, defaults) = resolve(&["--max-procs", "unlimited", "--memory", "2G"], "");
        assert_eq!(limits, Limits { memory: Some(2 << 30), ..Limits::default() });
        assert_eq!(defaults.processes, None);
        assert_eq!(defaults.file_size, Some(cordon::DEFAULT_FILE_SIZE));
        let (limits, defaults) = resolve(&["--memory", "unlimited", "--file-size", "unlimited"], "");
        assert!(limits.is_empty());
        assert_eq!((defaults.sandbox_memory, defaults.file_size), (None, None));
        assert_eq!(defaults.processes, Some(cordon::DEFAULT_PROCESSES));
        let (limits, _) = resolve(&["--sandbox-memory", "8G", "--cpu-time", "90s"], "");
        assert_eq!(limits, Limits { sandbox_memory: Some(8 << 30), cpu_time: Some(90), ..Limits::default() });
        // A flag wins over the file, either way.
        let text = "[limits]\nmax_procs = 64\nfile_size = \"unlimited\"\n";
        let (limits, defaults) = resolve(&["--max-procs", "unlimited"], text);
        assert_eq!(limits.processes, None);
        assert_eq!((defaults.processes, defaults.file_size), (None, None));
        let (limits, defaults) = resolve(&["--file-size", "1G"], text);
        assert_eq!((limits.processes, limits.file_size), (Some(64), Some(1 << 30)));
        assert_eq!(defaults.file_size, Some(cordon::DEFAULT_FILE_SIZE));
    }

    #[test]
    fn a_config_that_raises_or_lifts_a_default_limit_widens() {
        let widenings = |args: &[&str], text: &str| {
            let (args, file) = (flags(args), config(text));
            let limits = LimitSettings::of_file(&file.limits).unwrap();
            args.widenings(&file, &limits)
        };
        let default_memory = Limits::preset_defaults().sandbox_memory;
        for text in [
            "[limits]\nmax_procs = \"unlimited\"\n",
            "[limits]\nmax_procs = 100000\n",
            "[limits]\nfile_size = \"unlimited\"\n",
            "[limits]\nfile_size = \"1T\"\n",
            "[limits]\nmemory = \"unlimited\"\n",
            "[limits]\nsandbox_memory = \"unlimited\"\n",
        ] {
            if text.contains("memory") && default_memory.is_none() {
                continue;
            }
            let found = widenings(&[], text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert!(found[0].starts_with("limits.") && found[0].contains("(the default is"), "{found:?}");
        }
        assert_eq!(
            widenings(&[], "[limits]\nmax_procs = 100000\n"),
            ["limits.max_procs = 100000 (the default is 4096)"]
        );
        if let Some(memory) = default_memory {
            let above = format!("[limits]\nmemory = \"{}\"\n", format_size(memory + (1 << 20)));
            assert_eq!(widenings(&[], &above).len(), 1, "{above}");
            // The smaller of the two bounds the sandbox.
            let text = "[limits]\nmemory = \"unlimited\"\nsandbox_memory = \"1G\"\n";
            assert!(widenings(&[], text).is_empty());
        }
        // Narrowing, or limits that have no default, or what a flag settles.
        for (args, text) in [
            (&[][..], "[limits]\nmax_procs = 64\nmemory = \"1G\"\nfile_size = \"1G\"\n"),
            (&[][..], "[limits]\ncpu_time = \"unlimited\"\nopen_files = 100000\n"),
            (&["--max-procs", "unlimited"][..], "[limits]\nmax_procs = 100000\n"),
            (&["--memory", "2G"][..], "[limits]\nsandbox_memory = \"unlimited\"\n"),
        ] {
            assert!(widenings(args, text).is_empty(), "{args:?} {text}");
        }
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
        assert!(matches!(config.limits.max_procs, Some(CountOrWord::Count(64))));
        std::fs::write(&path, "polcy = \"read-only\"\n").unwrap();
        assert!(read_config_file(&path).is_err());
    }
}
