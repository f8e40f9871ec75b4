//! Windows: the runner cannot confine itself once started; the parent
//! starts it in the sandbox context (a write-restricted token, or the
//! sandbox user of `cordon setup`). Here the runner checks that context
//! before it serves anything, and reports it.

use cordon_ipc::{LayerState, SandboxLayer, SandboxReport};
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::Security::{IsTokenRestricted, TOKEN_QUERY};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use crate::windows::setup::{DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER};
use crate::{EnforceError, Policy, Preset, Probe};

const HINT: &str = "start the runner through cordon (restricted-token or elevated mode), \
                    or pass --best-effort to run with what is there";

/// Checks the runner's security context against the policy.
pub fn enforce(policy: &Policy) -> Result<SandboxReport, EnforceError> {
    if policy.preset == Preset::FullAccess {
        return Ok(crate::full_access_report());
    }
    let restricted = token_is_restricted();
    let user = std::env::var("USERNAME").unwrap_or_default();
    let sandbox_user =
        [DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER].iter().any(|u| u.eq_ignore_ascii_case(&user));
    let layer = |name: &str, on: bool, detail: String| SandboxLayer {
        name: name.to_string(),
        state: if on { LayerState::Active } else { LayerState::Unavailable },
        detail,
    };
    let layers = vec![
        layer(
            "restricted-token",
            restricted,
            if restricted {
                "write-restricted token".into()
            } else {
                "the token has no restricting SIDs".into()
            },
        ),
        layer("sandbox-user", sandbox_user, format!("running as {user}")),
    ];
    if !restricted && !sandbox_user {
        let reason = "the runner runs neither under a restricted token nor as a sandbox user".to_string();
        if !policy.best_effort {
            return Err(EnforceError::Layer { layer: "restricted-token", reason, hint: HINT });
        }
    }
    let summary = if restricted || sandbox_user {
        format!("policy {}: runner in its sandbox context", policy.preset)
    } else {
        format!("policy {}: best effort, no sandbox context in force", policy.preset)
    };
    Ok(SandboxReport { policy: policy.preset.name().to_string(), layers, summary })
}

fn token_is_restricted() -> bool {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the current process's pseudo-handle; an out-pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return false;
    }
    // SAFETY: a live token handle, closed once.
    let restricted = unsafe { IsTokenRestricted(token) } != 0;
    unsafe { CloseHandle(token) };
    restricted
}

/// What the machine offers.
pub fn probe() -> Vec<Probe> {
    vec![Probe {
        name: "restricted tokens".into(),
        available: true,
        detail: "CreateRestrictedToken (WRITE_RESTRICTED)".into(),
    }]
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
