//! The handshake: a frame body decoded as the parent's first message and
//! checked by the runner's rules (`accept_hello`), against the runner's own
//! token and against the token the `Hello` carries, with several runner
//! maximums. The outcome must be exactly what docs/protocol.md §5 says:
//! accepted if and only if the versions overlap, the token matches, the
//! smaller maximum frame is at least `MIN_MAX_FRAME` and the window is at
//! least 1; and then with the highest common version, the smaller maximum
//! and the parent's window. The first 16 bytes, read as two version ranges,
//! also check `negotiate_version` on its own.
#![no_main]

use cordon_ipc::{
    DEFAULT_MAX_FRAME, Error, Hello, MAX_FRAME_CAP, MIN_MAX_FRAME, Message, SUPPORTED_VERSIONS, accept_hello,
    decode_body, negotiate_version, tokens_match,
};
use libfuzzer_sys::fuzz_target;

/// The token the recorded sessions use, so seeds exercise the match.
const RUNNER_TOKEN: &str = "raw-token";

fuzz_target!(|data: &[u8]| {
    if let Some(words) = data.get(..16) {
        let word = |i: usize| u32::from_le_bytes(words[i * 4..i * 4 + 4].try_into().unwrap());
        check_negotiation((word(0), word(1)), (word(2), word(3)));
    }
    let Ok(Message::Hello(hello)) = decode_body(data) else {
        return;
    };
    for token in [RUNNER_TOKEN, hello.token.as_str()] {
        for runner_max in [0, MIN_MAX_FRAME, DEFAULT_MAX_FRAME, u32::MAX] {
            check_hello(&hello, token, runner_max);
        }
    }
});

fn check_negotiation(ours: (u32, u32), theirs: (u32, u32)) {
    let common = |v: u32| ours.0 <= v && v <= ours.1 && theirs.0 <= v && v <= theirs.1;
    let highest = ours.1.min(theirs.1);
    match negotiate_version(ours, theirs) {
        Ok(version) => {
            assert!(common(version), "{version} is not in {ours:?} and {theirs:?}");
            assert_eq!(version, highest, "not the highest common version of {ours:?} and {theirs:?}");
        }
        Err(Error::BadVersion { .. }) => {
            assert!(!common(highest), "{ours:?} and {theirs:?} share {highest}, yet were refused");
        }
        Err(other) => panic!("negotiate_version gave {other:?}"),
    }
}

fn check_hello(hello: &Hello, token: &str, runner_max: u32) {
    assert_eq!(tokens_match(token, &hello.token), token == hello.token);
    let (low, high) =
        (SUPPORTED_VERSIONS.0.max(hello.versions.0), SUPPORTED_VERSIONS.1.min(hello.versions.1));
    let versions_ok = hello.versions.0 <= hello.versions.1 && low <= high;
    let token_ok = token == hello.token;
    // protocol.md §5: the smaller of the two, never above the cap.
    let max_frame = hello.max_frame.min(runner_max).min(MAX_FRAME_CAP);
    let max_ok = max_frame >= MIN_MAX_FRAME;
    let window_ok = hello.window >= 1;
    match accept_hello(hello, token, runner_max) {
        Ok(negotiated) => {
            assert!(
                versions_ok && token_ok && max_ok && window_ok,
                "accepted {hello:?} (runner max {runner_max})"
            );
            assert_eq!(negotiated.version, high);
            assert_eq!(negotiated.max_frame, max_frame);
            assert_eq!(negotiated.window, hello.window);
        }
        // The checks come in this order; the first that fails names the error.
        Err(Error::BadVersion { .. }) => assert!(!versions_ok, "{hello:?}"),
        Err(Error::BadToken) => assert!(versions_ok && !token_ok, "{hello:?}"),
        Err(Error::Malformed(_)) => {
            assert!(versions_ok && token_ok && !(max_ok && window_ok), "{hello:?} (runner max {runner_max})")
        }
        Err(other) => panic!("accept_hello gave {other:?}"),
    }
}
