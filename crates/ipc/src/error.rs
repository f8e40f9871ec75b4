//! The one error type of the protocol layer.

/// What went wrong on the channel. Every variant says which rule of the wire
/// format was broken, so a reader of the message knows whom to blame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The byte stream itself failed.
    #[error("i/o error on the channel: {0}")]
    Io(#[from] std::io::Error),
    /// A frame announced a body larger than the negotiated maximum. The reader
    /// stops here and never allocates the announced length.
    #[error("frame body of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The length the frame announced.
        len: u64,
        /// The maximum in force.
        max: u32,
    },
    /// The stream ended inside a frame (in the length prefix or the body).
    #[error("channel closed inside a frame: expected {expected} more bytes, got {got}")]
    Truncated {
        /// How many bytes the frame still needed.
        expected: usize,
        /// How many of them arrived before end of stream.
        got: usize,
    },
    /// A well-formed frame carried a message type this side does not know.
    #[error("unknown message type {0:?}")]
    UnknownMessage(String),
    /// A frame body was not a valid MessagePack `Message`.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A message could not be encoded.
    #[error("cannot encode message: {0}")]
    Encode(String),
    /// A message encodes to a body larger than the maximum in force, so it
    /// was not sent; nothing was written and the channel is unaffected.
    #[error("the {message} message is {len} bytes encoded, more than the maximum frame of {max} bytes")]
    MessageTooLarge {
        /// The message's type name.
        message: &'static str,
        /// Its encoded body length.
        len: usize,
        /// The maximum in force.
        max: u32,
    },
    /// The two sides share no protocol version.
    #[error(
        "no common protocol version: this side speaks {ours_min}..={ours_max}, the peer {theirs_min}..={theirs_max}"
    )]
    BadVersion {
        /// Lowest version this side speaks.
        ours_min: u32,
        /// Highest version this side speaks.
        ours_max: u32,
        /// Lowest version the peer speaks.
        theirs_min: u32,
        /// Highest version the peer speaks.
        theirs_max: u32,
    },
    /// The handshake token did not match the one handed to the runner.
    #[error("handshake token rejected")]
    BadToken,
    /// The runner answered the handshake with `HelloReject`.
    #[error("the runner rejected the handshake: {0}")]
    Rejected(String),
    /// The peer sent a message the protocol does not allow at this point.
    #[error("protocol violation: expected {expected}, got {got}")]
    Unexpected {
        /// What the protocol allows here.
        expected: &'static str,
        /// The message type that arrived (or "end of stream").
        got: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
