//! What this machine can enforce, layer by layer, found without confining
//! anything: what `cordon doctor` reports, and what a caller can check
//! before it asks for a policy without best effort.

pub use cordon_sandbox::Probe;

/// Probes every enforcement layer this platform has (on Linux: Landlock
/// and its ABI, seccomp, the namespaces, cgroups, …): one [`Probe`] each,
/// available or not, with the version or the reason. (On Windows the
/// offline user's network block is checked against the firewall as it is.)
pub fn layers() -> Vec<Probe> {
    crate::sys::checked_probes(cordon_sandbox::probe())
}

pub use cordon_sandbox::Requirement;

/// What a preset needs of [`layers`] to be enforced fully: one
/// [`Requirement`] per way this platform can run it (Windows: the
/// restricted-token and the elevated mode), any one of which is enough.
pub fn requirements(preset: crate::Preset) -> Vec<Requirement> {
    cordon_sandbox::requirements(preset)
}
