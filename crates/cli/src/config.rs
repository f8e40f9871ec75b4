//! `cordon.toml`, as read from the file: the keys and their types, nothing
//! resolved yet (the `options` module of the command turns it into a
//! policy). Unknown keys are refused.
//!
//! Self-contained (std, serde and toml only): the `config_toml` fuzz target
//! includes this file as it is.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `cordon.toml`: a policy that flags may override.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The preset's name.
    pub policy: Option<String>,
    /// Allow network access.
    pub network: Option<bool>,
    /// More writable directories.
    #[serde(default)]
    pub allow_write: Vec<PathBuf>,
    /// Paths neither readable nor writable.
    #[serde(default)]
    pub deny: Vec<PathBuf>,
    /// Credential stores given back.
    #[serde(default)]
    pub allow_read: Vec<PathBuf>,
    /// Protected names, added to the defaults.
    pub protected: Option<Vec<String>>,
    /// Start from almost no environment.
    pub clear_env: Option<bool>,
    /// Run even if some layer cannot be enforced.
    pub best_effort: Option<bool>,
    /// `[limits]`.
    #[serde(default)]
    pub limits: ConfigLimits,
}

/// The largest `cordon.toml` read, in bytes. A configuration is a few
/// hundred bytes; the TOML parser may hold about a kilobyte for each byte
/// of a malformed one, so a larger file is refused before it is parsed.
pub const MAX_CONFIG_BYTES: usize = 64 << 10;

impl ConfigFile {
    /// Parses the text of a `cordon.toml` (at most [`MAX_CONFIG_BYTES`]).
    pub fn parse(text: &str) -> Result<ConfigFile, toml::de::Error> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(serde::de::Error::custom(format!(
                "too long: a cordon.toml is at most {MAX_CONFIG_BYTES} bytes"
            )));
        }
        toml::from_str(text)
    }
}

/// `[limits]`: each a value or `"unlimited"`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLimits {
    /// Processes and threads.
    pub max_procs: Option<CountOrWord>,
    /// Memory per process and of the sandbox (`"2G"`).
    pub memory: Option<String>,
    /// Memory of the sandbox only.
    pub sandbox_memory: Option<String>,
    /// CPU time per process (`"10m"`).
    pub cpu_time: Option<String>,
    /// Largest file (`"1G"`).
    pub file_size: Option<String>,
    /// Open files per process.
    pub open_files: Option<CountOrWord>,
}

/// A count in `cordon.toml`: `64`, or a word such as `"unlimited"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CountOrWord {
    /// A number.
    Count(u64),
    /// A word (`"unlimited"`, or a number written as a string).
    Word(String),
}
