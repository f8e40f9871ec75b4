//! `cordon doctor`: what this machine can enforce, and for each policy
//! whether it can be enforced fully and what is missing.

use cordon::Preset;
use cordon::probe::Probe;
use serde_json::json;

/// One way of running a preset and what it lacks here.
struct Verdict {
    preset: Preset,
    /// The platform's mode (Windows: restricted-token, elevated), if it
    /// has more than one.
    mode: Option<&'static str>,
    missing: Vec<&'static str>,
}

/// Prints the report; the exit status is 0 when every preset can be
/// enforced fully (in at least one mode), 1 otherwise.
pub fn run(as_json: bool) -> anyhow::Result<i32> {
    let probes = cordon::probe::layers();
    let verdicts: Vec<Verdict> = Preset::ALL
        .into_iter()
        .flat_map(|preset| {
            let probes = &probes;
            cordon::probe::requirements(preset).into_iter().map(move |requirement| Verdict {
                preset,
                mode: requirement.mode,
                missing: requirement
                    .needs
                    .iter()
                    .copied()
                    .filter(|need| !probes.iter().any(|p| p.name == *need && p.available))
                    .collect(),
            })
        })
        .collect();
    let enforceable = |preset: Preset| verdicts.iter().any(|v| v.preset == preset && v.missing.is_empty());
    let defaults = default_limits(&probes);
    if as_json {
        let report = json!({
            "probes": probes,
            "default_limits": defaults.iter().map(|(name, value, here)| json!({
                "limit": name,
                "value": value,
                "applied_here": here,
            })).collect::<Vec<_>>(),
            "policies": verdicts.iter().map(|v| {
                let mut entry = json!({
                    "policy": v.preset.name(),
                    "fully_enforced": v.missing.is_empty(),
                    "missing": v.missing,
                });
                if let Some(mode) = v.mode {
                    entry["mode"] = json!(mode);
                }
                entry
            }).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&probes);
        println!();
        let names: Vec<String> = verdicts
            .iter()
            .map(|v| match v.mode {
                Some(mode) => format!("{} ({mode})", v.preset.name()),
                None => v.preset.name().to_string(),
            })
            .collect();
        let width = names.iter().map(String::len).max().unwrap_or(0).max(15) + 1;
        for (v, name) in verdicts.iter().zip(&names) {
            match (v.preset, v.missing.is_empty()) {
                (Preset::FullAccess, _) => println!("{name:<width$} nothing to enforce (no sandbox)"),
                (_, true) => println!("{name:<width$} can be enforced fully"),
                (_, false) => println!(
                    "{name:<width$} NOT fully: missing {} (runs only with --best-effort)",
                    v.missing.join(", ")
                ),
            }
        }
        let describe = |limits: &[&(&str, u64, bool)]| {
            let shown = |(name, value, _): &(&str, u64, bool)| match *name {
                "processes" => format!("{name}={value}"),
                _ => format!("{name}={}", crate::options::format_size(*value)),
            };
            limits.iter().map(|limit| shown(limit)).collect::<Vec<_>>().join(", ")
        };
        let (here, not_here): (Vec<_>, Vec<_>) = defaults.iter().partition(|(_, _, here)| *here);
        let why = if probes.iter().any(|p| p.name == "job limits" && p.available) {
            "no Windows equivalent"
        } else {
            "no writable cgroup"
        };
        let line = match (here.is_empty(), not_here.is_empty()) {
            (_, true) => format!("{} (all can be applied here)", describe(&here)),
            (true, false) => format!("{} skipped here ({why})", describe(&not_here)),
            (false, false) => {
                format!("{} can be applied; {} skipped here ({why})", describe(&here), describe(&not_here))
            }
        };
        let line = format!("{:<width$} {line}", "default limits");
        println!("{line}");
    }
    Ok(if Preset::ALL.into_iter().all(enforceable) { 0 } else { 1 })
}

/// The confining presets' default limits, each with whether this machine
/// can apply it (processes and memory need a writable cgroup; a default
/// that cannot be applied is skipped at launch, never fatal).
fn default_limits(probes: &[Probe]) -> Vec<(&'static str, u64, bool)> {
    let available = |name: &str| probes.iter().any(|p| p.name == name && p.available);
    // Windows: processes and memory in the runner's job; no file size limit.
    let job = available("job limits");
    let unified = available("cgroup v2") || job;
    let defaults = cordon::Limits::preset_defaults();
    let mut limits = Vec::new();
    if let Some(n) = defaults.processes {
        limits.push(("processes", n, unified || available("cgroup v1 pids")));
    }
    if let Some(n) = defaults.sandbox_memory {
        limits.push(("sandbox_memory", n, unified || available("cgroup v1 memory")));
    }
    if let Some(n) = defaults.file_size {
        limits.push(("file_size", n, !job));
    }
    limits
}

fn print_table(probes: &[Probe]) {
    let width = probes.iter().map(|p| p.name.len()).max().unwrap_or(0).max(22);
    for probe in probes {
        let mark = if probe.available { "yes" } else { "no" };
        println!("{:<width$} {:<4} {}", probe.name, mark, probe.detail);
    }
}
