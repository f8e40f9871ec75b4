//! `cordon doctor`: what this machine can enforce, and for each policy
//! whether it can be enforced fully and what is missing.

use cordon::Preset;
use cordon::probe::Probe;
use serde_json::json;

/// What each confining preset needs, by probe name.
fn needs(preset: Preset) -> &'static [&'static str] {
    match preset {
        Preset::ReadOnly => &["landlock", "seccomp", "pid namespace"],
        Preset::WorkspaceWrite => &["landlock", "seccomp", "mount namespace", "pid namespace"],
        Preset::FullAccess => &[],
    }
}

/// Prints the report; the exit status is 0 when every preset can be
/// enforced fully, 1 otherwise.
pub fn run(as_json: bool) -> anyhow::Result<i32> {
    let probes = cordon::probe::layers();
    let verdicts: Vec<(Preset, Vec<&str>)> = Preset::ALL
        .into_iter()
        .map(|preset| {
            let missing = needs(preset)
                .iter()
                .copied()
                .filter(|need| !probes.iter().any(|p| p.name == *need && p.available))
                .collect();
            (preset, missing)
        })
        .collect();
    let defaults = default_limits(&probes);
    if as_json {
        let report = json!({
            "probes": probes,
            "default_limits": defaults.iter().map(|(name, value, here)| json!({
                "limit": name,
                "value": value,
                "applied_here": here,
            })).collect::<Vec<_>>(),
            "policies": verdicts.iter().map(|(preset, missing)| json!({
                "policy": preset.name(),
                "fully_enforced": missing.is_empty(),
                "missing": missing,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&probes);
        println!();
        for (preset, missing) in &verdicts {
            match (preset, missing.is_empty()) {
                (Preset::FullAccess, _) => println!("{:<16} nothing to enforce (no sandbox)", preset.name()),
                (_, true) => println!("{:<16} can be enforced fully", preset.name()),
                (_, false) => println!(
                    "{:<16} NOT fully: missing {} (runs only with --best-effort)",
                    preset.name(),
                    missing.join(", ")
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
        let line = match (here.is_empty(), not_here.is_empty()) {
            (_, true) => format!("{} (all can be applied here)", describe(&here)),
            (true, false) => format!("{} skipped here (no writable cgroup)", describe(&not_here)),
            (false, false) => format!(
                "{} can be applied; {} skipped here (no writable cgroup)",
                describe(&here),
                describe(&not_here)
            ),
        };
        let line = format!("{:<16} {line}", "default limits");
        println!("{line}");
    }
    Ok(if verdicts.iter().all(|(_, missing)| missing.is_empty()) { 0 } else { 1 })
}

/// The confining presets' default limits, each with whether this machine
/// can apply it (processes and memory need a writable cgroup; a default
/// that cannot be applied is skipped at launch, never fatal).
fn default_limits(probes: &[Probe]) -> Vec<(&'static str, u64, bool)> {
    let available = |name: &str| probes.iter().any(|p| p.name == name && p.available);
    let unified = available("cgroup v2");
    let defaults = cordon::Limits::preset_defaults();
    let mut limits = Vec::new();
    if let Some(n) = defaults.processes {
        limits.push(("processes", n, unified || available("cgroup v1 pids")));
    }
    if let Some(n) = defaults.sandbox_memory {
        limits.push(("sandbox_memory", n, unified || available("cgroup v1 memory")));
    }
    if let Some(n) = defaults.file_size {
        limits.push(("file_size", n, true));
    }
    limits
}

fn print_table(probes: &[Probe]) {
    for probe in probes {
        let mark = if probe.available { "yes" } else { "no" };
        println!("{:<22} {:<4} {}", probe.name, mark, probe.detail);
    }
}
