//! The async codec: a `tokio_util::codec` `Decoder`/`Encoder` for frames, to
//! use with `FramedRead`/`FramedWrite` over any `AsyncRead`/`AsyncWrite`.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::frame::{LENGTH_PREFIX, RESERVE_AHEAD, check_length, decode_body};
use crate::{Error, Message, Result};

/// Frames ⇄ [`Message`]s, with a maximum body size enforced before any
/// allocation for the body.
#[derive(Debug, Clone)]
pub struct MessageCodec {
    max_frame: u32,
}

impl MessageCodec {
    /// A codec that refuses bodies larger than `max_frame` in both directions.
    pub fn new(max_frame: u32) -> Self {
        MessageCodec { max_frame }
    }

    /// Changes the maximum (after the handshake negotiated one).
    pub fn set_max_frame(&mut self, max_frame: u32) {
        self.max_frame = max_frame;
    }

    /// The maximum in force.
    pub fn max_frame(&self) -> u32 {
        self.max_frame
    }
}

impl Decoder for MessageCodec {
    type Item = Message;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>> {
        if src.len() < LENGTH_PREFIX {
            return Ok(None);
        }
        let prefix: [u8; LENGTH_PREFIX] = src[..LENGTH_PREFIX].try_into().expect("length checked");
        let len = check_length(prefix, self.max_frame)?;
        if src.len() < LENGTH_PREFIX + len {
            // Room for the rest of the body, but never more than
            // `RESERVE_AHEAD` beyond what has arrived: the maximum may be
            // large, and a peer announcing a big frame must send it before
            // it costs that much memory.
            src.reserve((LENGTH_PREFIX + len - src.len()).min(RESERVE_AHEAD));
            return Ok(None);
        }
        src.advance(LENGTH_PREFIX);
        let body = src.split_to(len);
        decode_body(&body).map(Some)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Message>> {
        match self.decode(src)? {
            Some(message) => Ok(Some(message)),
            None if src.is_empty() => Ok(None),
            None if src.len() < LENGTH_PREFIX => {
                Err(Error::Truncated { expected: LENGTH_PREFIX, got: src.len() })
            }
            None => {
                let prefix: [u8; LENGTH_PREFIX] = src[..LENGTH_PREFIX].try_into().expect("length checked");
                let expected = u32::from_le_bytes(prefix) as usize;
                Err(Error::Truncated { expected, got: src.len() - LENGTH_PREFIX })
            }
        }
    }
}

impl Encoder<Message> for MessageCodec {
    type Error = Error;

    fn encode(&mut self, message: Message, dst: &mut BytesMut) -> Result<()> {
        self.encode_ref(&message, dst)
    }
}

impl MessageCodec {
    /// Appends `message` as one frame to `dst`.
    pub fn encode_ref(&mut self, message: &Message, dst: &mut BytesMut) -> Result<()> {
        let start = dst.len();
        dst.put_u32_le(0);
        let mut writer = dst.writer();
        let encoded = rmp_serde::encode::write_named(&mut writer, message);
        let dst = writer.into_inner();
        if let Err(err) = encoded {
            dst.truncate(start);
            return Err(Error::Encode(err.to_string()));
        }
        let len = dst.len() - start - LENGTH_PREFIX;
        if len > self.max_frame as usize {
            dst.truncate(start);
            return Err(Error::MessageTooLarge { message: message.name(), len, max: self.max_frame });
        }
        dst[start..start + LENGTH_PREFIX].copy_from_slice(&(len as u32).to_le_bytes());
        Ok(())
    }
}
