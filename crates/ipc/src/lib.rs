//! cordon's wire protocol.
//!
//! A cordon parent and the `cordon-runner` inside the sandbox talk over one
//! reliable byte stream. This crate is that protocol and nothing else: the
//! [`Message`] set, frames (a `u32` little-endian body length, then one
//! MessagePack message with named fields), the handshake rules, flow control,
//! a blocking [`FrameReader`]/[`FrameWriter`] and an async [`MessageCodec`]
//! for `tokio_util::codec`. It has no process or sandbox code; `docs/protocol.md`
//! in the repository describes the same format for implementers in other
//! languages.
//!
//! ```
//! use cordon_ipc::{FrameReader, FrameWriter, Message, DEFAULT_MAX_FRAME};
//!
//! let mut wire = Vec::new();
//! FrameWriter::new(&mut wire, DEFAULT_MAX_FRAME)
//!     .write_message(&Message::Stdin { id: 7, data: b"ls\n".to_vec() })?;
//! // 4-byte little-endian length, then the MessagePack body.
//! assert_eq!(u32::from_le_bytes(wire[..4].try_into().unwrap()) as usize, wire.len() - 4);
//!
//! let mut reader = FrameReader::new(wire.as_slice(), DEFAULT_MAX_FRAME);
//! assert_eq!(reader.read_message()?, Some(Message::Stdin { id: 7, data: b"ls\n".to_vec() }));
//! assert_eq!(reader.read_message()?, None); // clean end of stream
//! # Ok::<(), cordon_ipc::Error>(())
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "tokio")]
mod codec;
mod error;
mod flow;
mod frame;
mod handshake;
mod message;
pub mod oneshot;
mod os_bytes;
mod schema;

#[cfg(feature = "tokio")]
pub use codec::MessageCodec;
pub use error::{Error, Result};
pub use flow::FlowWindow;
pub use frame::{FrameReader, FrameWriter, LENGTH_PREFIX, decode_body, encode_body, encode_frame};
pub use handshake::{
    DEFAULT_MAX_FRAME, DEFAULT_STDIN_WINDOW, DEFAULT_WINDOW, MAX_FRAME_CAP, MIN_MAX_FRAME, Negotiated,
    PROTOCOL_VERSION, SUPPORTED_VERSIONS, TOKEN_ENV, accept_hello, negotiate_version, tokens_match,
};
pub use message::*;
pub use os_bytes::OsBytes;
