//! The message decoder: one frame body to a `Message`. Whatever it accepts
//! must be a one-entry map (the envelope of docs/protocol.md §3.1), encode
//! again, and decode to the same message; what it refuses is `Malformed`, or
//! `UnknownMessage` naming a type this version does not have. It never
//! allocates much more than the body.
#![no_main]

use cordon_fuzz::{allocation_bound, assert_allocation_within, peak_allocation};
use cordon_ipc::{Error, Message, decode_body, encode_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let (decoded, peak) = peak_allocation(|| decode_body(body));
    assert_allocation_within(peak, allocation_bound(body.len(), 0), "decode_body", body.len());
    match decoded {
        Ok(message) => {
            assert!(is_one_entry_map(body), "accepted a body that is not a one-entry map: {message:?}");
            let encoded = encode_body(&message).expect("an accepted message encodes");
            let again = decode_body(&encoded).expect("a re-encoded message decodes");
            assert_eq!(again, message, "a message changed in a round trip");
            // The encoder is canonical: encoding what it wrote changes nothing.
            assert_eq!(encode_body(&again).unwrap(), encoded);
        }
        Err(Error::UnknownMessage(name)) => {
            assert!(!Message::NAMES.contains(&name.as_str()), "{name:?} is a known message type");
        }
        Err(Error::Malformed(_)) => {}
        Err(other) => panic!("decode_body gave a non-decoding error: {other:?}"),
    }
});

/// Whether `body` starts with a MessagePack map header of one entry.
fn is_one_entry_map(body: &[u8]) -> bool {
    matches!(body, [0x81, ..] | [0xde, 0, 1, ..] | [0xdf, 0, 0, 0, 1, ..])
}
