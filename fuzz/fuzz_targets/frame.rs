//! The frame decoders over arbitrary bytes: the blocking `FrameReader` and
//! the async `MessageCodec` read the input as a stream, each in pieces of
//! varying size, with the default and the smallest maximum frame. They must
//! agree on every message and on the error that ends the stream, give only
//! decoding errors, hand out messages that survive a round trip, and never
//! allocate much more than the input and one maximum-size frame.
#![no_main]

use std::io::{self, Read};

use bytes::BytesMut;
use cordon_fuzz::{allocation_bound, assert_allocation_within, peak_allocation};
use cordon_ipc::{
    DEFAULT_MAX_FRAME, Error, FrameReader, MIN_MAX_FRAME, Message, MessageCodec, decode_body, encode_frame,
};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

/// Piece sizes the readers are fed in, cycling from an offset the input
/// picks.
const PIECES: [usize; 7] = [1, 3, 4, 5, 17, 255, 4096];

fuzz_target!(|data: &[u8]| {
    for max_frame in [DEFAULT_MAX_FRAME, MIN_MAX_FRAME] {
        let bound = allocation_bound(data.len(), 2 * (max_frame as usize + 4));
        let (sync, peak) = peak_allocation(|| sync_read_all(data, max_frame));
        assert_allocation_within(peak, bound, "FrameReader", data.len());
        let (codec, peak) = peak_allocation(|| codec_read_all(data, max_frame));
        assert_allocation_within(peak, bound, "MessageCodec", data.len());

        for (messages, error) in [&sync, &codec] {
            for message in messages {
                assert_round_trips(message);
            }
            if let Some(error) = error {
                assert!(is_decode_error(error), "not a decoding error: {error:?}");
            }
        }
        assert_eq!(sync.0, codec.0, "the readers disagree on the messages");
        assert_eq!(
            sync.1.map(|e| e.to_string()),
            codec.1.map(|e| e.to_string()),
            "the readers disagree on the error"
        );
    }
});

fn is_decode_error(error: &Error) -> bool {
    matches!(
        error,
        Error::Malformed(_)
            | Error::UnknownMessage(_)
            | Error::Truncated { .. }
            | Error::FrameTooLarge { .. }
    )
}

/// Whatever a reader accepts encodes to a frame that decodes to the same
/// message.
fn assert_round_trips(message: &Message) {
    let frame = encode_frame(message, u32::MAX).expect("an accepted message encodes");
    let again = decode_body(&frame[4..]).expect("a re-encoded message decodes");
    assert_eq!(&again, message, "a message changed in a round trip");
}

/// A reader that hands out its bytes in pieces of cycling sizes.
struct Pieces<'a> {
    data: &'a [u8],
    next: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let piece = PIECES[self.next % PIECES.len()];
        self.next += 1;
        let n = piece.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn sync_read_all(data: &[u8], max_frame: u32) -> (Vec<Message>, Option<Error>) {
    let mut reader = FrameReader::new(Pieces { data, next: data.len() }, max_frame);
    let mut messages = Vec::new();
    loop {
        match reader.read_message() {
            Ok(Some(message)) => messages.push(message),
            Ok(None) => return (messages, None),
            Err(error) => return (messages, Some(error)),
        }
    }
}

/// Feeds the codec piece by piece, decoding all it can after each (as
/// `FramedRead` does), then drains it with `decode_eof`.
fn codec_read_all(data: &[u8], max_frame: u32) -> (Vec<Message>, Option<Error>) {
    let mut codec = MessageCodec::new(max_frame);
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    let mut rest = data;
    let mut next = data.len() + 1;
    while !rest.is_empty() {
        let n = PIECES[next % PIECES.len()].min(rest.len());
        next += 1;
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => break,
                Err(error) => return (messages, Some(error)),
            }
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(message)) => messages.push(message),
            Ok(None) => {
                assert!(buf.is_empty(), "decode_eof gave Ok(None) with {} bytes left", buf.len());
                return (messages, None);
            }
            Err(error) => return (messages, Some(error)),
        }
    }
}
