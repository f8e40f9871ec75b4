//! Frames: a `u32` little-endian body length, then the body (one MessagePack
//! [`Message`]). This module has the body codec and a blocking reader and
//! writer over any `Read`/`Write`.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use serde::de::IgnoredAny;

use crate::{Error, Message, Result};

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

/// Decodes one frame body. A body that is valid MessagePack naming a message
/// type this version does not know gives [`Error::UnknownMessage`]; anything
/// else that is not a `Message` gives [`Error::Malformed`].
pub fn decode_body(body: &[u8]) -> Result<Message> {
    match decode_whole::<Message>(body) {
        Ok(message) => Ok(message),
        Err(err) => {
            // Tell "a message from a newer peer" apart from "garbage".
            if let Ok(map) = decode_whole::<BTreeMap<String, IgnoredAny>>(body)
                && map.len() == 1
                && let Some(name) = map.keys().next()
                && !Message::NAMES.contains(&name.as_str())
            {
                return Err(Error::UnknownMessage(name.clone()));
            }
            Err(Error::Malformed(err))
        }
    }
}

/// The deepest nesting a valid message has is 5; anything much deeper is
/// refused before it can exhaust the stack.
const MAX_DEPTH: usize = 32;

/// Decodes exactly one value that spans the whole body.
fn decode_whole<'de, T: serde::Deserialize<'de>>(body: &'de [u8]) -> std::result::Result<T, String> {
    let end = value_end(body, 0, MAX_DEPTH)?;
    if end != body.len() {
        return Err(format!("{} bytes after the end of the message", body.len() - end));
    }
    let mut de = rmp_serde::Deserializer::from_read_ref(body);
    de.set_max_depth(MAX_DEPTH);
    T::deserialize(&mut de).map_err(|e| e.to_string())
}

/// Where the MessagePack value starting at `at` ends: a structural walk
/// that copies nothing, so the length check and the depth limit cost no
/// more than a scan of the markers.
fn value_end(body: &[u8], at: usize, depth: usize) -> std::result::Result<usize, String> {
    use rmp::Marker;
    let truncated = || "message ends inside a value".to_string();
    let byte = *body.get(at).ok_or_else(truncated)?;
    let uint = |width: usize| -> std::result::Result<usize, String> {
        let bytes = body.get(at + 1..at + 1 + width).ok_or_else(truncated)?;
        Ok(bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize))
    };
    // (header bytes, payload bytes, nested values)
    let (header, payload, items) = match Marker::from_u8(byte) {
        Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => (1, 0, 0),
        Marker::U8 | Marker::I8 => (1, 1, 0),
        Marker::U16 | Marker::I16 => (1, 2, 0),
        Marker::U32 | Marker::I32 | Marker::F32 => (1, 4, 0),
        Marker::U64 | Marker::I64 | Marker::F64 => (1, 8, 0),
        Marker::FixStr(n) => (1, n as usize, 0),
        Marker::Str8 | Marker::Bin8 => (2, uint(1)?, 0),
        Marker::Str16 | Marker::Bin16 => (3, uint(2)?, 0),
        Marker::Str32 | Marker::Bin32 => (5, uint(4)?, 0),
        Marker::FixExt1 => (2, 1, 0),
        Marker::FixExt2 => (2, 2, 0),
        Marker::FixExt4 => (2, 4, 0),
        Marker::FixExt8 => (2, 8, 0),
        Marker::FixExt16 => (2, 16, 0),
        Marker::Ext8 => (3, uint(1)?, 0),
        Marker::Ext16 => (4, uint(2)?, 0),
        Marker::Ext32 => (6, uint(4)?, 0),
        Marker::FixArray(n) => (1, 0, n as usize),
        Marker::Array16 => (3, 0, uint(2)?),
        Marker::Array32 => (5, 0, uint(4)?),
        Marker::FixMap(n) => (1, 0, 2 * n as usize),
        Marker::Map16 => (3, 0, 2 * uint(2)?),
        Marker::Map32 => (5, 0, 2 * uint(4)?),
        Marker::Reserved => return Err("reserved MessagePack marker 0xc1".into()),
    };
    let mut end = at.checked_add(header).and_then(|e| e.checked_add(payload)).ok_or_else(truncated)?;
    if end > body.len() {
        return Err(truncated());
    }
    if items > 0 {
        if depth == 0 {
            return Err(format!("message nested deeper than {MAX_DEPTH} levels"));
        }
        for _ in 0..items {
            end = value_end(body, end, depth - 1)?;
        }
    }
    Ok(end)
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
