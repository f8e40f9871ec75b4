//! Frames: a `u32` little-endian body length, then the body (one MessagePack
//! [`Message`]). This module has the body codec and a blocking reader and
//! writer over any `Read`/`Write`.

use std::io::{self, Read, Write};

use serde::Deserialize;

use crate::{Error, Message, Result, schema};

/// Bytes in the length prefix.
pub const LENGTH_PREFIX: usize = 4;

/// Encodes `message` as a frame body (MessagePack, named fields).
pub fn encode_body(message: &Message) -> Result<Vec<u8>> {
    rmp_serde::to_vec_named(message).map_err(|e| Error::Encode(e.to_string()))
}

/// Encodes `message` as a whole frame (prefix and body), refusing bodies
/// larger than `max_frame`.
pub fn encode_frame(message: &Message, max_frame: u32) -> Result<Vec<u8>> {
    let mut frame = Vec::with_capacity(64);
    frame.extend_from_slice(&[0; LENGTH_PREFIX]);
    rmp_serde::encode::write_named(&mut frame, message).map_err(|e| Error::Encode(e.to_string()))?;
    let len = frame.len() - LENGTH_PREFIX;
    if len > max_frame as usize {
        return Err(Error::MessageTooLarge { message: message.name(), len, max: max_frame });
    }
    frame[..LENGTH_PREFIX].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(frame)
}

/// Decodes one frame body, strictly: the body must be exactly one message
/// in the one encoding docs/protocol.md gives each of its values (see the
/// `schema` module). A body that is valid MessagePack naming a message type
/// this version does not know gives [`Error::UnknownMessage`]; anything else
/// that is not a `Message` gives [`Error::Malformed`].
pub fn decode_body(body: &[u8]) -> Result<Message> {
    schema::check(body).map_err(|refusal| match refusal {
        schema::Refusal::Unknown(name) => Error::UnknownMessage(name),
        schema::Refusal::Malformed(why) => Error::Malformed(why),
    })?;
    let mut de = rmp_serde::Deserializer::from_read_ref(body);
    de.set_max_depth(schema::MAX_DEPTH);
    Message::deserialize(&mut de).map_err(|e| Error::Malformed(e.to_string()))
}

/// The most a reader allocates for a frame body beyond the bytes that have
/// arrived: a large negotiated maximum costs memory only when a frame that
/// large is actually sent.
pub(crate) const RESERVE_AHEAD: usize = 1 << 20;

/// Checks a length prefix against the maximum, before anything is allocated.
pub(crate) fn check_length(prefix: [u8; LENGTH_PREFIX], max_frame: u32) -> Result<usize> {
    let len = u32::from_le_bytes(prefix);
    if len > max_frame {
        return Err(Error::FrameTooLarge { len: len.into(), max: max_frame });
    }
    if len == 0 {
        return Err(Error::Malformed("empty frame body".into()));
    }
    Ok(len as usize)
}

/// Reads frames from a blocking byte stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    max_frame: u32,
    body: Vec<u8>,
}

impl<R: Read> FrameReader<R> {
    /// A reader that refuses bodies larger than `max_frame`.
    pub fn new(inner: R, max_frame: u32) -> Self {
        FrameReader { inner, max_frame, body: Vec::new() }
    }

    /// Changes the maximum (after the handshake negotiated one).
    pub fn set_max_frame(&mut self, max_frame: u32) {
        self.max_frame = max_frame;
    }

    /// The next message; `Ok(None)` on end of stream at a frame boundary.
    pub fn read_message(&mut self) -> Result<Option<Message>> {
        let mut prefix = [0u8; LENGTH_PREFIX];
        let got = read_full(&mut self.inner, &mut prefix)?;
        if got == 0 {
            return Ok(None);
        }
        if got < LENGTH_PREFIX {
            return Err(Error::Truncated { expected: LENGTH_PREFIX, got });
        }
        let len = check_length(prefix, self.max_frame)?;
        self.body.clear();
        // Grown as the body arrives (see `RESERVE_AHEAD`).
        self.body.reserve(len.min(RESERVE_AHEAD));
        let got = (&mut self.inner).take(len as u64).read_to_end(&mut self.body)?;
        if got < len {
            return Err(Error::Truncated { expected: len, got });
        }
        decode_body(&self.body).map(Some)
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The underlying stream.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// Reads until `buf` is full or the stream ends; returns how much was read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Writes frames to a blocking byte stream.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    max_frame: u32,
}

impl<W: Write> FrameWriter<W> {
    /// A writer that refuses to send bodies larger than `max_frame`.
    pub fn new(inner: W, max_frame: u32) -> Self {
        FrameWriter { inner, max_frame }
    }

    /// Changes the maximum (after the handshake negotiated one).
    pub fn set_max_frame(&mut self, max_frame: u32) {
        self.max_frame = max_frame;
    }

    /// Writes one message as one frame and flushes.
    pub fn write_message(&mut self, message: &Message) -> Result<()> {
        let frame = encode_frame(message, self.max_frame)?;
        self.inner.write_all(&frame)?;
        self.inner.flush()?;
        Ok(())
    }

    /// The underlying stream, e.g. to write raw bytes.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The underlying stream.
    pub fn into_inner(self) -> W {
        self.inner
    }
}
