//! Privileges: every capability dropped (effective, permitted, inheritable,
//! ambient and, where the runner may, the bounding set), and
//! `no_new_privs`, so that no exec — of a setuid binary or a file with
//! capabilities — can give any back.

use caps::CapSet;
use cordon_ipc::SandboxLayer;

use super::active;
use crate::{Policy, Probe};

/// Drops every capability the runner holds.
pub fn drop_capabilities(_policy: &Policy) -> Result<SandboxLayer, String> {
    // The bounding set needs CAP_SETPCAP to shrink: root, or the owner of a
    // new user namespace, has it; an ordinary user holds nothing to drop.
    let may_shrink_bounding =
        caps::has_cap(None, CapSet::Effective, caps::Capability::CAP_SETPCAP).unwrap_or(false);
    if may_shrink_bounding {
        for cap in caps::all() {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| format!("dropping {cap} from the bounding set: {e}"))?;
        }
    }
    for set in [CapSet::Ambient, CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        caps::clear(None, set).map_err(|e| format!("clearing the {set:?} set: {e}"))?;
    }
    let left = caps::read(None, CapSet::Permitted).map_err(|e| e.to_string())?;
    if !left.is_empty() {
        return Err(format!("capabilities still permitted: {left:?}"));
    }
    let bounding = caps::read(None, CapSet::Bounding).map_err(|e| e.to_string())?;
    let detail = if bounding.is_empty() {
        "all dropped: effective, permitted, inheritable, ambient, bounding".to_string()
    } else {
        "none held (bounding set kept: no CAP_SETPCAP; no_new_privs blocks regaining any)".to_string()
    };
    Ok(active("capabilities", detail))
}

/// Sets `PR_SET_NO_NEW_PRIVS`, and makes the caller non-dumpable: its
/// commands share its uid and Landlock domain, and would otherwise be able
/// to read its memory, environment and descriptors through `/proc` (the
/// ptrace access check refuses a non-dumpable process to anyone without
/// `CAP_SYS_PTRACE`). Children are dumpable again after their `exec`.
pub fn no_new_privs(_policy: &Policy) -> Result<SandboxLayer, String> {
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("PR_SET_NO_NEW_PRIVS: {e}"))?;
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("PR_SET_DUMPABLE: {e}"))?;
    Ok(active(
        "no_new_privs",
        "set: setuid bits and file capabilities give nothing on exec; the runner is not dumpable",
    ))
}

/// Whether the caller is root (and so what dropping capabilities means).
pub fn probe() -> Probe {
    let uid = nix::unistd::geteuid();
    Probe {
        name: "running as root".into(),
        available: uid.is_root(),
        detail: if uid.is_root() {
            "uid 0: capabilities are dropped; process limits need a pids cgroup".into()
        } else {
            format!("uid {uid}: no capabilities to drop")
        },
    }
}
