//! Enforcement, per platform. Each platform module provides:
//!
//! - `enforce(&Policy) -> Result<SandboxReport, EnforceError>`: confine the
//!   calling process (which must still be single-threaded) and everything it
//!   spawns afterwards, layer by layer, failing closed unless the policy asks
//!   for best effort.
//! - `probe() -> Vec<Probe>`: what the machine offers, for `cordon doctor`,
//!   without confining anything.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{enforce, probe};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{enforce, probe};

#[cfg(not(any(target_os = "linux", windows)))]
mod unsupported;
#[cfg(not(any(target_os = "linux", windows)))]
pub use unsupported::{enforce, probe};
