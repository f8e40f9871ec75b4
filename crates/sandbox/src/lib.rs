//! cordon's sandbox policy and its enforcement.
//!
//! A [`Policy`] says what commands in a sandbox may do. It travels from the
//! parent to `cordon-runner` (on its command line, or inside a request file),
//! and the runner calls [`enforce`] on itself before it reads its first
//! request, so that it and everything it spawns live under the policy.
//!
//! This version knows the policy presets and enforces one of them:
//! `full-access`, which applies no confinement and says so. The confining
//! presets are refused with [`EnforceError::Unsupported`] rather than run
//! unconfined under a name that promises confinement.
//!
//! ```
//! use cordon_sandbox::{Policy, enforce};
//!
//! let policy: Policy = "full-access".parse()?;
//! let report = enforce(&policy)?;
//! assert!(report.layers.is_empty());
//!
//! let confining: Policy = "workspace-write".parse()?;
//! assert!(enforce(&confining).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use cordon_ipc::SandboxReport;
use serde::{Deserialize, Serialize};

/// What commands in the sandbox may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Read everything, write nothing, no network.
    ReadOnly,
    /// Read everything; write the working directory and a private temp
    /// directory (`.git` and other protected names stay read-only); no
    /// network.
    WorkspaceWrite,
    /// No sandbox at all. Explicit opt-in only.
    FullAccess,
}

impl Policy {
    /// Every preset, in order of increasing access.
    pub const ALL: [Policy; 3] = [Policy::ReadOnly, Policy::WorkspaceWrite, Policy::FullAccess];

    /// The preset's name, as written on command lines and in files.
    pub fn name(self) -> &'static str {
        match self {
            Policy::ReadOnly => "read-only",
            Policy::WorkspaceWrite => "workspace-write",
            Policy::FullAccess => "full-access",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy name that is not one of the presets.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown policy {0:?}: expected read-only, workspace-write or full-access")]
pub struct UnknownPolicy(pub String);

impl FromStr for Policy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Policy::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| UnknownPolicy(s.to_string()))
    }
}

/// Why a policy could not be put in force.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EnforceError {
    /// This build cannot enforce the policy at all.
    #[error(
        "policy {0} cannot be enforced: this build of cordon has no sandbox enforcement yet; \
         use --policy full-access to run without a sandbox"
    )]
    Unsupported(Policy),
}

/// Puts `policy` in force on the calling process (and so on everything it
/// spawns afterwards), and reports what is enforced.
pub fn enforce(policy: &Policy) -> Result<SandboxReport, EnforceError> {
    match policy {
        Policy::FullAccess => Ok(SandboxReport {
            policy: policy.name().to_string(),
            layers: Vec::new(),
            summary: "no enforcement: policy full-access runs commands without a sandbox".to_string(),
        }),
        other => Err(EnforceError::Unsupported(*other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(p.name().parse::<Policy>().unwrap(), p);
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.name()));
        }
        assert!("everything".parse::<Policy>().is_err());
    }

    #[test]
    fn only_full_access_is_enforceable_and_it_reports_no_layers() {
        let report = enforce(&Policy::FullAccess).unwrap();
        assert_eq!(report.policy, "full-access");
        assert!(report.layers.is_empty());
        assert!(matches!(enforce(&Policy::ReadOnly), Err(EnforceError::Unsupported(Policy::ReadOnly))));
        assert!(matches!(
            enforce(&Policy::WorkspaceWrite),
            Err(EnforceError::Unsupported(Policy::WorkspaceWrite))
        ));
    }
}
