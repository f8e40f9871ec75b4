//! The sandbox policy as the runner reads it from `--policy-json`: a preset
//! name as a JSON string, or the policy object. What is accepted must
//! serialize and read back as the same policy; a preset name must give that
//! preset, built around the working directory (absolute paths only).
#![no_main]

use cordon_fuzz::{allocation_bound, assert_allocation_within, peak_allocation};
use cordon_sandbox::{Policy, Preset};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (parsed, peak) = peak_allocation(|| serde_json::from_slice::<Policy>(data));
    assert_allocation_within(peak, allocation_bound(data.len(), 0), "Policy from JSON", data.len());
    let Ok(policy) = parsed else {
        return;
    };
    let json = serde_json::to_string(&policy).expect("a policy serializes");
    let again: Policy = serde_json::from_str(&json).expect("a serialized policy reads back");
    assert_eq!(again, policy, "a policy changed in a round trip through {json}");
    if let Ok(name) = serde_json::from_slice::<String>(data) {
        let preset: Preset = name.parse().expect("only preset names are accepted as strings");
        assert_eq!(policy.preset, preset);
        let fs = &policy.filesystem;
        for path in fs.read.iter().chain(&fs.write).chain(&fs.deny).chain(&fs.protected) {
            assert!(path.is_absolute(), "{name} built a relative path {path:?}");
        }
        assert_eq!(policy.is_confining(), preset != Preset::FullAccess);
    }
});
