//! What this machine can enforce, layer by layer, found without confining
//! anything: what `cordon doctor` reports, and what a caller can check
//! before it asks for a policy without best effort.

pub use cordon_sandbox::Probe;

/// Probes every enforcement layer this platform has (on Linux: Landlock
/// and its ABI, seccomp, the namespaces, cgroups, …): one [`Probe`] each,
/// available or not, with the version or the reason.
pub fn layers() -> Vec<Probe> {
    cordon_sandbox::probe()
}
