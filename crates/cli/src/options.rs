//! Options shared by `cordon run` and `cordon shell`, and their parsing.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use cordon::Policy;

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
    /// The sandbox policy: read-only, workspace-write or full-access.
    #[arg(long, value_name = "POLICY", default_value = "workspace-write", value_parser = parse_policy)]
    pub policy: Policy,
    /// Working directory of the command.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Kill the command's whole tree after this long (500ms, 2s, 1m, 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Set an environment variable for the command (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// How to start the runner.
    #[arg(long, value_enum, default_value = "ipc")]
    pub bootstrap: Bootstrap,
}

impl SandboxArgs {
    /// Refuses what this build cannot do. The confining policies are not
    /// enforced yet, and cordon never runs a command unconfined under a name
    /// that promises confinement.
    pub fn check_policy(&self) -> anyhow::Result<()> {
        if self.policy != Policy::FullAccess {
            anyhow::bail!(
                "policy {} cannot be enforced by this build (no sandbox enforcement yet); \
                 pass --policy full-access to run without a sandbox",
                self.policy
            );
        }
        Ok(())
    }

    /// The command's environment: cordon's own plus `--env`.
    pub fn environment(&self) -> std::collections::BTreeMap<String, String> {
        let mut env = cordon::utf8_environment();
        env.extend(self.env.iter().cloned());
        env
    }
}

fn parse_policy(s: &str) -> Result<Policy, String> {
    s.parse().map_err(|e: cordon::UnknownPolicy| e.to_string())
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
    fn env_pairs() {
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(parse_env("A=").unwrap(), ("A".into(), "".into()));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("novalue").is_err());
    }
}
