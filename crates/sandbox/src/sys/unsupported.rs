//! Platforms without an enforcement backend yet: only full-access runs.

use cordon_ipc::SandboxReport;

use crate::{EnforceError, Policy, Preset, Probe};

/// Refuses every confining policy.
pub fn enforce(policy: &Policy) -> Result<SandboxReport, EnforceError> {
    match policy.preset {
        Preset::FullAccess => Ok(crate::full_access_report()),
        preset => Err(EnforceError::Unsupported(preset)),
    }
}

/// Nothing to probe.
pub fn probe() -> Vec<Probe> {
    Vec::new()
}
