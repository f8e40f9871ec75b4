//! Linux enforcement. The layers run in an order where each one's setup is
//! still allowed by the ones before it: namespaces and mounts first (they
//! need privileges the later layers take away), then limits, capabilities,
//! `no_new_privs`, Landlock, and seccomp last (it forbids `mount` and
//! `unshare`).

mod host;
mod landlock;
mod limits;
mod namespaces;
mod pid_namespace;
mod placeholders;
mod privileges;
mod seccomp;

use cordon_ipc::{LayerState, SandboxLayer, SandboxReport};

use crate::{EnforceError, Policy, Probe};

pub use host::{only_root_may_write, physical_memory, same_file};
pub use limits::limit_command;
pub use pid_namespace::{host_pid, launched_pid};

/// A layer: its name, whether the policy cannot do without it, what to tell
/// the user when it is missing, how to apply it, and what its outcome
/// (applied or not) changes in the policy the later layers enforce.
struct Layer {
    name: &'static str,
    required: fn(&Policy) -> bool,
    hint: &'static str,
    apply: fn(&Policy) -> Result<SandboxLayer, String>,
    adjust: fn(&mut Policy, bool),
}

/// For the layers whose outcome changes nothing for the others.
fn unchanged(_: &mut Policy, _: bool) {}

const LAYERS: &[Layer] = &[
    Layer {
        name: "limits",
        // Only the limits asked for: the defaults never fail a launch.
        required: |p| !p.limits.is_empty(),
        hint: "the requested limits cannot be set here; drop them or pass --best-effort",
        apply: limits::apply,
        adjust: unchanged,
    },
    Layer {
        name: "namespaces",
        required: |p| !p.filesystem.protected.is_empty(),
        hint: "protected paths need a mount namespace: allow unprivileged user namespaces \
               (sysctl kernel.unprivileged_userns_clone=1, or the AppArmor userns restriction), \
               or pass --best-effort",
        apply: namespaces::apply,
        adjust: namespaces::adjust,
    },
    Layer {
        name: "capabilities",
        required: |_| true,
        hint: "the runner could not drop its capabilities",
        apply: privileges::drop_capabilities,
        adjust: unchanged,
    },
    Layer {
        name: "no_new_privs",
        required: |_| true,
        hint: "PR_SET_NO_NEW_PRIVS is refused; this kernel is too old for cordon",
        apply: privileges::no_new_privs,
        adjust: unchanged,
    },
    Layer {
        name: "landlock",
        required: |_| true,
        hint: "filesystem rules need Landlock (Linux 5.13+, enabled with lsm=landlock); \
               run `cordon doctor`, or pass --best-effort to run without filesystem confinement",
        apply: landlock::apply,
        adjust: unchanged,
    },
    Layer {
        name: "seccomp",
        required: |_| true,
        hint: "system-call filtering needs seccomp (CONFIG_SECCOMP_FILTER)",
        apply: seccomp::apply,
        adjust: unchanged,
    },
];

/// Applies every layer in order; see the module docs.
pub fn enforce(policy: &Policy) -> Result<SandboxReport, EnforceError> {
    limits::raise_open_files();
    if !policy.is_confining() {
        return Ok(crate::full_access_report());
    }
    let mut layers = Vec::new();
    let mut effective = policy.clone();
    for layer in LAYERS {
        if let Some(reason) = switched_off(layer.name) {
            layers.push(SandboxLayer {
                name: layer.name.to_string(),
                state: LayerState::Unavailable,
                detail: reason,
            });
            continue;
        }
        let outcome = (layer.apply)(&effective);
        (layer.adjust)(&mut effective, outcome.is_ok());
        let policy = &effective;
        match outcome {
            Ok(applied) => layers.push(applied),
            // Inside a PID namespace whose /proc is the host's, pids read
            // there would name other processes than the runner's: no policy
            // may run like that.
            Err(reason) if layer.name == "namespaces" && pid_namespace::entered() => {
                return Err(EnforceError::Layer {
                    layer: layer.name,
                    reason,
                    hint: "the PID namespace was entered but could not be completed; \
                           report this with the output of `cordon doctor`",
                });
            }
            Err(reason) => {
                if (layer.required)(policy) && !policy.best_effort {
                    let reason = reason.trim_end_matches('.').to_string();
                    return Err(EnforceError::Layer { layer: layer.name, reason, hint: layer.hint });
                }
                layers.push(SandboxLayer {
                    name: layer.name.to_string(),
                    state: LayerState::Unavailable,
                    detail: reason,
                });
            }
        }
    }
    let gaps: Vec<&str> = layers
        .iter()
        .filter(|l| matches!(l.state, LayerState::Unavailable | LayerState::Partial))
        .map(|l| l.name.as_str())
        .collect();
    let summary = if gaps.is_empty() {
        format!("policy {}: every layer enforced", policy.preset)
    } else {
        format!("policy {}: enforced with gaps in {}", policy.preset, gaps.join(", "))
    };
    Ok(SandboxReport { policy: policy.preset.name().to_string(), layers, summary })
}

/// Test builds only (feature `layer-switch`): with
/// `CORDON_TEST_ONLY_LAYER=NAME`, every confining layer but NAME is off, so
/// that a test shows what that layer stops on its own where the layers
/// overlap. What cordon ships has no such switch.
#[cfg(feature = "layer-switch")]
fn switched_off(name: &str) -> Option<String> {
    const SWITCHABLE: &[&str] = &["namespaces", "landlock", "seccomp"];
    let only = std::env::var("CORDON_TEST_ONLY_LAYER").ok()?;
    (SWITCHABLE.contains(&name) && name != only).then(|| format!("off (CORDON_TEST_ONLY_LAYER={only})"))
}

#[cfg(not(feature = "layer-switch"))]
fn switched_off(_: &str) -> Option<String> {
    None
}

/// What the machine offers.
pub fn probe() -> Vec<Probe> {
    let mut probes = vec![landlock::probe(), seccomp::probe()];
    probes.extend(namespaces::probe());
    probes.extend(limits::probe());
    probes.push(privileges::probe());
    probes
}

/// What each preset needs, by probe name.
pub fn requirements(preset: crate::Preset) -> Vec<crate::Requirement> {
    use crate::Preset;
    let needs: &[&str] = match preset {
        Preset::ReadOnly => &["landlock", "seccomp", "pid namespace"],
        Preset::WorkspaceWrite => &["landlock", "seccomp", "mount namespace", "pid namespace"],
        Preset::FullAccess => &[],
    };
    vec![crate::Requirement { mode: None, needs }]
}

/// A layer in force.
pub(crate) fn active(name: &str, detail: impl Into<String>) -> SandboxLayer {
    SandboxLayer { name: name.to_string(), state: LayerState::Active, detail: detail.into() }
}

/// A layer the policy does not ask for.
pub(crate) fn not_requested(name: &str, detail: impl Into<String>) -> SandboxLayer {
    SandboxLayer { name: name.to_string(), state: LayerState::NotRequested, detail: detail.into() }
}
