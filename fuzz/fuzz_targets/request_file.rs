//! The request file of the one-shot bootstrap, as the runner reads it:
//! JSON of `OneShotRequest<Policy>`. What is accepted must serialize and
//! read back unchanged; unknown fields are refused.
#![no_main]

use cordon_fuzz::{allocation_bound, assert_allocation_within, peak_allocation};
use cordon_ipc::oneshot::OneShotRequest;
use cordon_sandbox::Policy;
use libfuzzer_sys::fuzz_target;

type Request = OneShotRequest<Policy>;

fuzz_target!(|data: &[u8]| {
    let (parsed, peak) = peak_allocation(|| serde_json::from_slice::<Request>(data));
    assert_allocation_within(peak, allocation_bound(data.len(), 0), "request file", data.len());
    let Ok(request) = parsed else {
        return;
    };
    let json = serde_json::to_string(&request).expect("a request serializes");
    let again: Request = serde_json::from_str(&json).expect("a serialized request reads back");
    assert_eq!(again, request, "a request changed in a round trip through {json}");
    // deny_unknown_fields: one more field makes the same request malformed.
    let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json).unwrap();
    object.insert("unknown_field".into(), serde_json::Value::Null);
    assert!(serde_json::from_value::<Request>(object.into()).is_err(), "an unknown field was accepted");
});
