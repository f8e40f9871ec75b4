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

/// Nothing confining can run here.
pub fn requirements(preset: Preset) -> Vec<crate::Requirement> {
    let needs: &[&str] = if preset == Preset::FullAccess { &[] } else { &["a sandbox backend"] };
    vec![crate::Requirement { mode: None, needs }]
}

/// Not known here.
pub fn physical_memory() -> Option<u64> {
    None
}

/// Whether `a` and `b` resolve to the same path.
pub fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    std::fs::canonicalize(a).ok().is_some_and(|a| std::fs::canonicalize(b).ok() == Some(a))
}

/// No root here to tell apart: a system directory counts as only root's.
pub fn only_root_may_write(_dir: &std::path::Path) -> bool {
    true
}
