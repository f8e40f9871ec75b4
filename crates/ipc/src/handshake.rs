//! The handshake rules, as pure functions both sides share.

use crate::{Error, Hello, Result};

/// The protocol version this crate implements.
pub const PROTOCOL_VERSION: u32 = 1;

/// The range of versions this crate speaks, lowest first.
pub const SUPPORTED_VERSIONS: (u32, u32) = (PROTOCOL_VERSION, PROTOCOL_VERSION);

/// The environment variable that carries the handshake token to the runner
/// at launch. The runner removes it before anything else; children never see
/// the runner's environment.
pub const TOKEN_ENV: &str = "CORDON_RUNNER_TOKEN";

/// Default maximum frame body: 1 MiB. What a peer that asks for nothing
/// larger gets; readers of this crate accept it before the handshake.
pub const DEFAULT_MAX_FRAME: u32 = 1 << 20;

/// The largest maximum frame a handshake settles on, whatever both sides
/// ask for: 64 MiB. The reference runner and client ask for this much, so a
/// `Spawn` may carry as much as `execve` accepts (Linux: at most 6 MiB of
/// arguments and environment). Readers allocate a body as it arrives, so
/// the large maximum costs memory only when such a frame is sent.
pub const MAX_FRAME_CAP: u32 = 64 << 20;

/// The smallest maximum frame a peer may ask for: every control message and
/// a useful output chunk must fit.
pub const MIN_MAX_FRAME: u32 = 4096;

/// Input a parent may have in flight per process before a `StdinAck`: 8 MiB.
pub const DEFAULT_STDIN_WINDOW: u32 = 8 << 20;

/// Default flow-control window per process: 256 KiB.
pub const DEFAULT_WINDOW: u32 = 256 * 1024;

/// What the handshake settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The version both sides speak.
    pub version: u32,
    /// The largest frame body either side may send.
    pub max_frame: u32,
    /// Flow-control window per process.
    pub window: u32,
}

/// The highest version both ranges contain.
pub fn negotiate_version(ours: (u32, u32), theirs: (u32, u32)) -> Result<u32> {
    let low = ours.0.max(theirs.0);
    let high = ours.1.min(theirs.1);
    if theirs.0 > theirs.1 || low > high {
        return Err(Error::BadVersion {
            ours_min: ours.0,
            ours_max: ours.1,
            theirs_min: theirs.0,
            theirs_max: theirs.1,
        });
    }
    Ok(high)
}

/// Compares two tokens in time independent of where they differ.
pub fn tokens_match(expected: &str, presented: &str) -> bool {
    let (a, b) = (expected.as_bytes(), presented.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The runner's side: checks a `Hello` against the token it was given and
/// its own limits. The frame maximum is the smallest of the parent's, the
/// runner's and [`MAX_FRAME_CAP`]. The error is what the runner puts in
/// `HelloReject`.
pub fn accept_hello(hello: &Hello, expected_token: &str, runner_max_frame: u32) -> Result<Negotiated> {
    let version = negotiate_version(SUPPORTED_VERSIONS, hello.versions)?;
    if !tokens_match(expected_token, &hello.token) {
        return Err(Error::BadToken);
    }
    let max_frame = hello.max_frame.min(runner_max_frame).min(MAX_FRAME_CAP);
    if max_frame < MIN_MAX_FRAME {
        return Err(Error::Malformed(format!(
            "max_frame {} is below the minimum of {MIN_MAX_FRAME} bytes",
            hello.max_frame
        )));
    }
    if hello.window == 0 {
        return Err(Error::Malformed("window must be at least 1 byte".into()));
    }
    Ok(Negotiated { version, max_frame, window: hello.window })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(versions: (u32, u32), token: &str, max_frame: u32) -> Hello {
        Hello { versions, token: token.into(), max_frame, window: DEFAULT_WINDOW }
    }

    #[test]
    fn picks_highest_common_version() {
        assert_eq!(negotiate_version((1, 3), (2, 5)).unwrap(), 3);
        assert_eq!(negotiate_version((1, 1), (1, 1)).unwrap(), 1);
    }

    #[test]
    fn disjoint_versions_are_refused() {
        assert!(matches!(negotiate_version((1, 1), (2, 3)), Err(Error::BadVersion { .. })));
        assert!(matches!(negotiate_version((1, 4), (3, 2)), Err(Error::BadVersion { .. })));
    }

    #[test]
    fn wrong_token_is_refused() {
        let err = accept_hello(&hello((1, 1), "nope", DEFAULT_MAX_FRAME), "secret", DEFAULT_MAX_FRAME);
        assert!(matches!(err, Err(Error::BadToken)));
        let err = accept_hello(&hello((1, 1), "secreT", DEFAULT_MAX_FRAME), "secret", DEFAULT_MAX_FRAME);
        assert!(matches!(err, Err(Error::BadToken)));
    }

    #[test]
    fn max_frame_is_the_smaller_and_not_below_minimum() {
        let n = accept_hello(&hello((1, 1), "t", 1 << 24), "t", DEFAULT_MAX_FRAME).unwrap();
        assert_eq!(n.max_frame, DEFAULT_MAX_FRAME);
        let n = accept_hello(&hello((1, 1), "t", 8192), "t", DEFAULT_MAX_FRAME).unwrap();
        assert_eq!(n.max_frame, 8192);
        assert!(accept_hello(&hello((1, 1), "t", 100), "t", DEFAULT_MAX_FRAME).is_err());
    }

    #[test]
    fn max_frame_never_exceeds_the_cap() {
        let n = accept_hello(&hello((1, 1), "t", u32::MAX), "t", u32::MAX).unwrap();
        assert_eq!(n.max_frame, MAX_FRAME_CAP);
    }
}
