//! `cordon doctor`: what this machine can enforce, and for each policy
//! whether it can be enforced fully and what is missing.

use cordon::Preset;
use cordon_sandbox::Probe;
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
    let probes = cordon_sandbox::probe();
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
    if as_json {
        let report = json!({
            "probes": probes,
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
    }
    Ok(if verdicts.iter().all(|(_, missing)| missing.is_empty()) { 0 } else { 1 })
}

fn print_table(probes: &[Probe]) {
    for probe in probes {
        let mark = if probe.available { "yes" } else { "no" };
        println!("{:<22} {:<4} {}", probe.name, mark, probe.detail);
    }
}
