//! Property and unit tests of the wire format, through the public API only:
//! `encode_frame`/`encode_body`/`decode_body`, the blocking
//! `FrameReader`/`FrameWriter` and the async `MessageCodec`.
//!
//! The codec half needs the default `tokio` feature (it brings `tokio-util`
//! and `bytes`); without it this file compiles to nothing.
#![cfg(feature = "tokio")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};

use bytes::BytesMut;
use cordon_ipc::{
    DEFAULT_MAX_FRAME, DEFAULT_WINDOW, Error, ErrorKind, Exited, FrameReader, FrameWriter, Hello, HelloAck,
    LENGTH_PREFIX, LayerState, MIN_MAX_FRAME, Message, MessageCodec, OsBytes, ProcessStatus, SandboxLayer,
    SandboxReport, Signal, Size, Spawn, SpawnError, SpawnErrorKind, Stream, decode_body, encode_body,
    encode_frame,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestRunner;
use serde::de::IgnoredAny;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use tokio_util::codec::{Decoder, Encoder};

// ---------------------------------------------------------------------------
// Strategies for `Message`
// ---------------------------------------------------------------------------

fn id() -> impl Strategy<Value = u64> + Clone {
    prop_oneof![0u64..16, any::<u64>(), Just(u64::MAX)]
}

/// Short strings: plain ASCII, arbitrary Unicode scalar values (including
/// NUL, control characters and astral-plane characters), or empty.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z0-9_./ -]{0,16}",
        vec(any::<char>(), 0..24).prop_map(|chars| chars.into_iter().collect()),
        "[αβγ日本語🦀é\u{0}\u{7f}\u{feff}]{1,8}",
    ]
    .boxed()
}

/// Arguments, environment and paths: text, or any bytes (valid UTF-8 or not).
fn os_bytes() -> BoxedStrategy<OsBytes> {
    prop_oneof![
        text().prop_map(OsBytes::from),
        vec(any::<u8>(), 0..24).prop_map(OsBytes::from),
        Just(OsBytes::from(vec![0xff])),
    ]
    .boxed()
}

/// Byte payloads: empty, around the bin8/bin16 boundary, or up to 4 KiB.
fn data() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![Just(Vec::new()), vec(any::<u8>(), 0..=300), vec(any::<u8>(), 0..=4096)].boxed()
}

fn hello() -> impl Strategy<Value = Hello> {
    ((any::<u32>(), any::<u32>()), text(), any::<u32>(), any::<u32>())
        .prop_map(|(versions, token, max_frame, window)| Hello { versions, token, max_frame, window })
}

fn layer_state() -> impl Strategy<Value = LayerState> {
    select(vec![LayerState::Active, LayerState::Partial, LayerState::Unavailable, LayerState::NotRequested])
}

fn sandbox_report() -> impl Strategy<Value = SandboxReport> {
    (
        text(),
        vec(
            (text(), layer_state(), text()).prop_map(|(name, state, detail)| SandboxLayer {
                name,
                state,
                detail,
            }),
            0..4,
        ),
        text(),
    )
        .prop_map(|(policy, layers, summary)| SandboxReport { policy, layers, summary })
}

fn hello_ack() -> impl Strategy<Value = HelloAck> {
    (
        any::<u32>(),
        text(),
        any::<u32>(),
        text(),
        sandbox_report(),
        vec(text(), 0..4),
        (any::<u32>(), any::<u32>(), any::<u32>()),
    )
        .prop_map(
            |(
                version,
                runner_version,
                pid,
                platform,
                sandbox,
                features,
                (max_frame, window, stdin_window),
            )| {
                HelloAck {
                    version,
                    runner_version,
                    pid,
                    platform,
                    sandbox,
                    features,
                    max_frame,
                    window,
                    stdin_window,
                }
            },
        )
}

fn spawn() -> impl Strategy<Value = Spawn> {
    (
        id(),
        vec(os_bytes(), 0..6),
        proptest::option::of(os_bytes()),
        btree_map(os_bytes(), os_bytes(), 0..6),
        proptest::option::of((any::<u16>(), any::<u16>()).prop_map(|(rows, cols)| Size { rows, cols })),
        any::<bool>(),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(id, argv, cwd, env, tty, stdin, timeout_ms)| Spawn {
            id,
            argv,
            cwd,
            env,
            tty,
            stdin,
            timeout_ms,
        })
}

fn signal() -> impl Strategy<Value = Signal> {
    select(vec![Signal::Interrupt, Signal::Terminate, Signal::Kill, Signal::Hangup])
}

fn stream() -> impl Strategy<Value = Stream> {
    select(vec![Stream::Stdout, Stream::Stderr, Stream::Pty])
}

fn spawn_error() -> impl Strategy<Value = SpawnError> {
    (
        select(vec![
            SpawnErrorKind::NotFound,
            SpawnErrorKind::NotExecutable,
            SpawnErrorKind::BadCwd,
            SpawnErrorKind::InvalidRequest,
            SpawnErrorKind::Os,
        ]),
        text(),
        proptest::option::of(any::<i32>()),
    )
        .prop_map(|(kind, message, os_code)| SpawnError { kind, message, os_code })
}

fn exited() -> impl Strategy<Value = Exited> {
    (
        id(),
        proptest::option::of(any::<i32>()),
        proptest::option::of(any::<i32>()),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(id, code, signal, timed_out, duration_ms)| Exited {
            id,
            code,
            signal,
            timed_out,
            duration_ms,
        })
}

fn process_status() -> impl Strategy<Value = ProcessStatus> {
    (
        id(),
        any::<u32>(),
        vec(os_bytes(), 0..4),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(id, pid, argv, tty, running, elapsed_ms, unacked_bytes, awaiting_input)| {
            ProcessStatus { id, pid, argv, tty, running, elapsed_ms, unacked_bytes, awaiting_input }
        })
}

fn error_kind() -> impl Strategy<Value = ErrorKind> {
    select(vec![ErrorKind::UnknownProcess, ErrorKind::InvalidRequest, ErrorKind::Protocol, ErrorKind::Os])
}

/// Every `Message` variant, with arbitrary contents.
fn message() -> BoxedStrategy<Message> {
    prop_oneof![
        hello().prop_map(Message::Hello),
        hello_ack().prop_map(Message::HelloAck),
        text().prop_map(|reason| Message::HelloReject { reason }),
        spawn().prop_map(Message::Spawn),
        (id(), data()).prop_map(|(id, data)| Message::Stdin { id, data }),
        id().prop_map(|id| Message::CloseStdin { id }),
        (id(), any::<u16>(), any::<u16>()).prop_map(|(id, rows, cols)| Message::Resize { id, rows, cols }),
        (id(), signal()).prop_map(|(id, signal)| Message::Signal { id, signal }),
        id().prop_map(|id| Message::Terminate { id }),
        id().prop_map(|id| Message::Poll { id }),
        Just(Message::List {}),
        (id(), any::<u64>()).prop_map(|(id, bytes)| Message::Ack { id, bytes }),
        Just(Message::Shutdown {}),
        (id(), any::<u32>()).prop_map(|(id, pid)| Message::Spawned { id, pid }),
        (id(), spawn_error()).prop_map(|(id, error)| Message::SpawnFailed { id, error }),
        (id(), stream(), data()).prop_map(|(id, stream, data)| Message::Output { id, stream, data }),
        (id(), any::<u64>()).prop_map(|(id, bytes)| Message::StdinAck { id, bytes }),
        exited().prop_map(Message::Exited),
        process_status().prop_map(Message::Status),
        vec(process_status(), 0..5).prop_map(|processes| Message::Processes { processes }),
        (proptest::option::of(id()), error_kind(), text()).prop_map(|(id, kind, message)| Message::Error {
            id,
            kind,
            message
        }),
    ]
    .boxed()
}

/// The variant's wire name, spelled out again. The match has no wildcard on
/// purpose: a new variant fails to compile here until the strategy above
/// learns it too.
fn variant_name(message: &Message) -> &'static str {
    match message {
        Message::Hello(_) => "Hello",
        Message::HelloAck(_) => "HelloAck",
        Message::HelloReject { .. } => "HelloReject",
        Message::Spawn(_) => "Spawn",
        Message::Stdin { .. } => "Stdin",
        Message::CloseStdin { .. } => "CloseStdin",
        Message::Resize { .. } => "Resize",
        Message::Signal { .. } => "Signal",
        Message::Terminate { .. } => "Terminate",
        Message::Poll { .. } => "Poll",
        Message::List {} => "List",
        Message::Ack { .. } => "Ack",
        Message::Shutdown {} => "Shutdown",
        Message::Spawned { .. } => "Spawned",
        Message::SpawnFailed { .. } => "SpawnFailed",
        Message::Output { .. } => "Output",
        Message::StdinAck { .. } => "StdinAck",
        Message::Exited(_) => "Exited",
        Message::Status(_) => "Status",
        Message::Processes { .. } => "Processes",
        Message::Error { .. } => "Error",
    }
}

// ---------------------------------------------------------------------------
// Arbitrary MessagePack values, to build bodies the encoder would never write
// ---------------------------------------------------------------------------

/// A MessagePack value; maps keep their entries in order (duplicates allowed).
#[derive(Debug, Clone)]
enum Val {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Bin(Vec<u8>),
    Arr(Vec<Val>),
    Map(Vec<(Val, Val)>),
}

impl Serialize for Val {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Nil => serializer.serialize_unit(),
            Val::Bool(b) => serializer.serialize_bool(*b),
            Val::Int(i) => serializer.serialize_i64(*i),
            Val::UInt(u) => serializer.serialize_u64(*u),
            Val::Float(f) => serializer.serialize_f64(*f),
            Val::Str(s) => serializer.serialize_str(s),
            Val::Bin(b) => serializer.serialize_bytes(b),
            Val::Arr(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Val::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

fn s(text: &str) -> Val {
    Val::Str(text.into())
}

fn map(entries: Vec<(&str, Val)>) -> Val {
    Val::Map(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

fn to_body(value: &Val) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("a Val always serializes")
}

/// Prefix `body` with its length, as a frame.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut frame = (body.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(body);
    frame
}

const FIELD_NAMES: &[&str] = &[
    "id",
    "data",
    "stream",
    "versions",
    "token",
    "max_frame",
    "window",
    "version",
    "runner_version",
    "pid",
    "platform",
    "sandbox",
    "features",
    "policy",
    "layers",
    "summary",
    "name",
    "state",
    "detail",
    "argv",
    "cwd",
    "env",
    "tty",
    "rows",
    "cols",
    "stdin",
    "timeout_ms",
    "signal",
    "bytes",
    "error",
    "kind",
    "message",
    "os_code",
    "code",
    "timed_out",
    "duration_ms",
    "running",
    "elapsed_ms",
    "unacked_bytes",
    "awaiting_input",
    "processes",
    "reason",
];

const ENUM_VALUES: &[&str] = &[
    "stdout",
    "stderr",
    "pty",
    "interrupt",
    "terminate",
    "kill",
    "hangup",
    "not_found",
    "os",
    "active",
    "partial",
    "not_requested",
    "unknown_process",
    "protocol",
];

fn val() -> impl Strategy<Value = Val> {
    let leaf = prop_oneof![
        Just(Val::Nil),
        any::<bool>().prop_map(Val::Bool),
        any::<i64>().prop_map(Val::Int),
        prop_oneof![0u64..300, any::<u64>()].prop_map(Val::UInt),
        any::<f64>().prop_map(Val::Float),
        select(ENUM_VALUES).prop_map(s),
        text().prop_map(Val::Str),
        vec(any::<u8>(), 0..16).prop_map(Val::Bin),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Val::Arr),
            vec((prop_oneof![select(FIELD_NAMES).prop_map(s), inner.clone()], inner), 0..5)
                .prop_map(Val::Map),
        ]
    })
}

/// Bodies that look like messages: mostly `{name: {field: value, …}}` with
/// real message and field names, sometimes anything at all.
fn message_like() -> impl Strategy<Value = Val> {
    let name = prop_oneof![4 => select(Message::NAMES).prop_map(s), 1 => text().prop_map(Val::Str)];
    let fields = vec((select(FIELD_NAMES).prop_map(s), val()), 0..8).prop_map(Val::Map);
    let body = prop_oneof![3 => fields, 1 => val()];
    prop_oneof![4 => (name, body).prop_map(|(n, b)| Val::Map(vec![(n, b)])), 1 => val()]
}

// ---------------------------------------------------------------------------
// Helpers driving the two readers
// ---------------------------------------------------------------------------

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, max_shrink_iters: 2048, ..ProptestConfig::default() }
}

/// The errors a reader may give for bytes that are not a valid stream.
fn is_decode_error(error: &Error) -> bool {
    matches!(
        error,
        Error::Malformed(_)
            | Error::UnknownMessage(_)
            | Error::Truncated { .. }
            | Error::FrameTooLarge { .. }
    )
}

/// Reads messages with the blocking reader until end of stream or an error.
fn sync_read_all(reader: impl Read, max_frame: u32) -> (Vec<Message>, Option<Error>) {
    let mut reader = FrameReader::new(reader, max_frame);
    let mut messages = Vec::new();
    loop {
        match reader.read_message() {
            Ok(Some(message)) => messages.push(message),
            Ok(None) => return (messages, None),
            Err(error) => return (messages, Some(error)),
        }
    }
}

/// Split points (sorted, within `0..=len`) from arbitrary indices.
fn cuts(indices: &[Index], len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = indices.iter().map(|i| i.index(len + 1)).collect();
    cuts.sort_unstable();
    cuts
}

/// Feeds `bytes` to a `MessageCodec` in pieces ending at each of `cuts`,
/// decoding as much as possible after each piece (as `FramedRead` does), then
/// drains it with `decode_eof` at end of stream.
fn codec_read_all(bytes: &[u8], cuts: &[usize], max_frame: u32) -> (Vec<Message>, Option<Error>) {
    let mut codec = MessageCodec::new(max_frame);
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([bytes.len()]) {
        buf.extend_from_slice(&bytes[start..end]);
        start = end;
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
                assert!(buf.is_empty(), "decode_eof returned Ok(None) with {} bytes left", buf.len());
                return (messages, None);
            }
            Err(error) => return (messages, Some(error)),
        }
    }
}

/// A reader that hands out its bytes in the given chunk sizes (cycling) and
/// answers every other call with `Interrupted`, as a signal would.
struct ChoppyReader<'a> {
    data: &'a [u8],
    chunks: Vec<usize>,
    calls: usize,
}

impl Read for ChoppyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 2 == 0 {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "signal"));
        }
        let chunk = self.chunks[self.calls / 2 % self.chunks.len()].max(1);
        let n = chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A reader holding only a length prefix that panics if asked for more: the
/// frame reader must decide from the prefix alone.
struct PrefixOnly {
    prefix: [u8; LENGTH_PREFIX],
    pos: usize,
}

impl Read for PrefixOnly {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        assert!(self.pos < LENGTH_PREFIX, "the reader asked for the frame body");
        let n = buf.len().min(LENGTH_PREFIX - self.pos);
        buf[..n].copy_from_slice(&self.prefix[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The MessagePack `bin` encoding of `data`.
fn bin(data: &[u8]) -> Vec<u8> {
    let mut out = match data.len() {
        n if n < 1 << 8 => vec![0xc4, n as u8],
        n if n < 1 << 16 => [&[0xc5][..], &(n as u16).to_be_bytes()].concat(),
        n => [&[0xc6][..], &(n as u32).to_be_bytes()].concat(),
    };
    out.extend_from_slice(data);
    out
}

/// Decodes a body to a message, re-encodes that and decodes again: whatever
/// a reader accepts must survive a round trip unchanged.
fn assert_reencodes(message: &Message) {
    let frame = encode_frame(message, u32::MAX).expect("an accepted message re-encodes");
    let again = decode_body(&frame[LENGTH_PREFIX..]).expect("a re-encoded message decodes");
    assert_eq!(&again, message);
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

#[test]
fn message_strategy_covers_every_variant() {
    let mut runner = TestRunner::deterministic();
    let strategy = message();
    let mut seen = BTreeSet::new();
    for _ in 0..2000 {
        let message = strategy.new_tree(&mut runner).expect("strategy generates").current();
        assert_eq!(message.name(), variant_name(&message));
        seen.insert(message.name());
        if seen.len() == Message::NAMES.len() {
            break;
        }
    }
    let all: BTreeSet<&str> = Message::NAMES.iter().copied().collect();
    assert_eq!(seen, all);
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn wire_name_matches_message_name(message in message()) {
        let body = encode_body(&message).unwrap();
        let top: BTreeMap<String, IgnoredAny> = rmp_serde::from_slice(&body).unwrap();
        prop_assert_eq!(top.len(), 1);
        let name = top.keys().next().unwrap();
        prop_assert_eq!(name.as_str(), message.name());
        prop_assert!(Message::NAMES.contains(&name.as_str()));
    }

    #[test]
    fn encode_frame_is_length_prefix_then_body(message in message()) {
        let body = encode_body(&message).unwrap();
        let frame = encode_frame(&message, DEFAULT_MAX_FRAME).unwrap();
        prop_assert_eq!(&frame[..LENGTH_PREFIX], &(body.len() as u32).to_le_bytes()[..]);
        prop_assert_eq!(&frame[LENGTH_PREFIX..], &body[..]);
        prop_assert_eq!(decode_body(&body).unwrap(), message);
    }

    #[test]
    fn sync_reader_round_trips_encode_frame(messages in vec(message(), 1..6), chunks in vec(1usize..64, 1..8)) {
        let wire: Vec<u8> =
            messages.iter().flat_map(|m| encode_frame(m, DEFAULT_MAX_FRAME).unwrap()).collect();
        // Whole slice.
        let (read, error) = sync_read_all(wire.as_slice(), DEFAULT_MAX_FRAME);
        prop_assert!(error.is_none(), "{error:?}");
        prop_assert_eq!(&read, &messages);
        // Short reads and EINTR.
        let choppy = ChoppyReader { data: &wire, chunks, calls: 0 };
        let (read, error) = sync_read_all(choppy, DEFAULT_MAX_FRAME);
        prop_assert!(error.is_none(), "{error:?}");
        prop_assert_eq!(&read, &messages);
    }

    #[test]
    fn frame_writer_matches_encode_frame(messages in vec(message(), 1..4)) {
        let mut writer = FrameWriter::new(Vec::new(), DEFAULT_MAX_FRAME);
        for message in &messages {
            writer.write_message(message).unwrap();
        }
        let expected: Vec<u8> =
            messages.iter().flat_map(|m| encode_frame(m, DEFAULT_MAX_FRAME).unwrap()).collect();
        prop_assert_eq!(writer.into_inner(), expected);
    }

    #[test]
    fn codec_round_trips_with_arbitrary_split_points(
        messages in vec(message(), 1..6),
        splits in vec(any::<Index>(), 0..16),
        byte_by_byte in proptest::bool::weighted(0.1),
    ) {
        let mut codec = MessageCodec::new(DEFAULT_MAX_FRAME);
        let mut wire = BytesMut::new();
        for message in &messages {
            codec.encode(message.clone(), &mut wire).unwrap();
        }
        // The codec writes exactly what `encode_frame` writes.
        let expected: Vec<u8> =
            messages.iter().flat_map(|m| encode_frame(m, DEFAULT_MAX_FRAME).unwrap()).collect();
        prop_assert_eq!(&wire[..], &expected[..]);

        let cuts = if byte_by_byte { (0..wire.len()).collect() } else { cuts(&splits, wire.len()) };
        let (read, error) = codec_read_all(&wire, &cuts, DEFAULT_MAX_FRAME);
        prop_assert!(error.is_none(), "{error:?}");
        prop_assert_eq!(read, messages);
    }

    #[test]
    fn codec_round_trips_through_framed_read_and_write(
        messages in vec(message(), 1..6),
        pipe_capacity in 1usize..256,
    ) {
        use futures_util::{SinkExt, StreamExt};
        use tokio_util::codec::{FramedRead, FramedWrite};

        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let read: Vec<Message> = runtime.block_on(async {
            let (near, far) = tokio::io::duplex(pipe_capacity);
            let write = async {
                let mut sink = FramedWrite::new(near, MessageCodec::new(DEFAULT_MAX_FRAME));
                for message in &messages {
                    sink.send(message.clone()).await.unwrap();
                }
                sink.close().await.unwrap();
            };
            let read = async {
                let mut stream = FramedRead::new(far, MessageCodec::new(DEFAULT_MAX_FRAME));
                let mut read = Vec::new();
                while let Some(item) = stream.next().await {
                    read.push(item.unwrap());
                }
                read
            };
            tokio::join!(write, read).1
        });
        prop_assert_eq!(read, messages);
    }

    #[test]
    fn every_truncation_is_truncated_for_both_readers(message in message()) {
        let frame = encode_frame(&message, DEFAULT_MAX_FRAME).unwrap();
        let body_len = frame.len() - LENGTH_PREFIX;
        let mut codec = MessageCodec::new(DEFAULT_MAX_FRAME);
        for cut in 1..frame.len() {
            let prefix = &frame[..cut];
            let (want_expected, want_got) =
                if cut < LENGTH_PREFIX { (LENGTH_PREFIX, cut) } else { (body_len, cut - LENGTH_PREFIX) };

            match FrameReader::new(prefix, DEFAULT_MAX_FRAME).read_message() {
                Err(Error::Truncated { expected, got }) => {
                    prop_assert_eq!((expected, got), (want_expected, want_got), "sync reader, cut {}", cut);
                }
                other => prop_assert!(false, "sync reader, cut {cut}: {other:?}"),
            }

            let mut buf = BytesMut::from(prefix);
            // Not at end of stream yet: wait for more, consume nothing.
            match codec.decode(&mut buf) {
                Ok(None) => prop_assert_eq!(&buf[..], prefix),
                other => prop_assert!(false, "decode, cut {cut}: {other:?}"),
            }
            match codec.decode_eof(&mut buf) {
                Err(Error::Truncated { expected, got }) => {
                    prop_assert_eq!((expected, got), (want_expected, want_got), "decode_eof, cut {}", cut);
                }
                other => prop_assert!(false, "decode_eof, cut {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn truncated_stream_yields_complete_frames_then_truncated(
        messages in vec(message(), 1..4),
        cut in any::<Index>(),
    ) {
        let frames: Vec<Vec<u8>> = messages.iter().map(|m| encode_frame(m, DEFAULT_MAX_FRAME).unwrap()).collect();
        let wire = frames.concat();
        let cut = cut.index(wire.len());
        // How many whole frames the cut leaves, and whether it falls on a boundary.
        let mut whole = 0;
        let mut at = 0;
        for f in &frames {
            if at + f.len() > cut {
                break;
            }
            at += f.len();
            whole += 1;
        }
        for (read, error) in [
            sync_read_all(&wire[..cut], DEFAULT_MAX_FRAME),
            codec_read_all(&wire[..cut], &[], DEFAULT_MAX_FRAME),
        ] {
            prop_assert_eq!(&read[..], &messages[..whole]);
            if at == cut {
                prop_assert!(error.is_none(), "{error:?}");
            } else {
                prop_assert!(matches!(error, Some(Error::Truncated { .. })), "{error:?}");
            }
        }
    }
}

// The fuzz-like properties are cheap per case: run more of them.
proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn corrupted_body_decodes_or_fails_cleanly(
        message in message(),
        edits in vec((any::<Index>(), 0u8..3, any::<u8>()), 1..8),
    ) {
        let mut wire = encode_frame(&message, DEFAULT_MAX_FRAME).unwrap();
        let body_len = wire.len() - LENGTH_PREFIX;
        for (at, op, byte) in edits {
            let at = LENGTH_PREFIX + at.index(body_len);
            match op {
                0 => wire[at] ^= byte.max(1),
                1 => wire[at] = byte,
                // Markers that are never valid or that change a length.
                _ => wire[at] = [0xc1, 0xdd, 0xdf, 0xc6, 0xff, 0x00][usize::from(byte) % 6],
            }
        }
        let sync = sync_read_all(wire.as_slice(), DEFAULT_MAX_FRAME);
        let codec = codec_read_all(&wire, &[], DEFAULT_MAX_FRAME);
        for (read, error) in [&sync, &codec] {
            match error {
                None => {
                    prop_assert_eq!(read.len(), 1);
                    assert_reencodes(&read[0]);
                }
                Some(error) => {
                    prop_assert!(read.is_empty());
                    prop_assert!(is_decode_error(error), "{error:?}");
                }
            }
        }
        prop_assert_eq!(&sync.0, &codec.0);
        prop_assert_eq!(sync.1.map(|e| e.to_string()), codec.1.map(|e| e.to_string()));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_readers_agree(
        bytes in vec(any::<u8>(), 0..512),
        max_frame in select(vec![0u32, 1, 16, 300, MIN_MAX_FRAME, DEFAULT_MAX_FRAME]),
        splits in vec(any::<Index>(), 0..8),
    ) {
        let sync = sync_read_all(bytes.as_slice(), max_frame);
        let codec = codec_read_all(&bytes, &cuts(&splits, bytes.len()), max_frame);
        for (read, error) in [&sync, &codec] {
            read.iter().for_each(assert_reencodes);
            if let Some(error) = error {
                prop_assert!(is_decode_error(error), "{error:?}");
            }
        }
        prop_assert_eq!(&sync.0, &codec.0);
        prop_assert_eq!(sync.1.map(|e| e.to_string()), codec.1.map(|e| e.to_string()));
    }

    #[test]
    fn arbitrary_framed_bodies_never_panic_and_readers_agree(
        bodies in vec(prop_oneof![vec(any::<u8>(), 0..64), message_like().prop_map(|v| to_body(&v))], 1..4),
        splits in vec(any::<Index>(), 0..8),
    ) {
        // Correct length prefixes, so the bodies reach the MessagePack decoder.
        let wire: Vec<u8> = bodies.iter().flat_map(|b| frame(b)).collect();
        let sync = sync_read_all(wire.as_slice(), DEFAULT_MAX_FRAME);
        let codec = codec_read_all(&wire, &cuts(&splits, wire.len()), DEFAULT_MAX_FRAME);
        for (read, error) in [&sync, &codec] {
            read.iter().for_each(assert_reencodes);
            if let Some(error) = error {
                prop_assert!(is_decode_error(error), "{error:?}");
            }
        }
        prop_assert_eq!(&sync.0, &codec.0);
        prop_assert_eq!(sync.1.map(|e| e.to_string()), codec.1.map(|e| e.to_string()));
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn oversize_prefix_is_rejected_before_the_body(
        (max, len) in prop_oneof![
            select(vec![0u32, 1, MIN_MAX_FRAME, DEFAULT_MAX_FRAME, u32::MAX - 1]),
            any::<u32>().prop_map(|m| m.min(u32::MAX - 1)),
        ]
        .prop_flat_map(|max| (Just(max), prop_oneof![Just(max + 1), Just(u32::MAX), (max + 1)..=u32::MAX])),
    ) {
        let prefix = len.to_le_bytes();

        // The codec, fed the prefix one byte at a time.
        let mut codec = MessageCodec::new(max);
        let mut buf = BytesMut::new();
        for &b in &prefix[..LENGTH_PREFIX - 1] {
            buf.extend_from_slice(&[b]);
            prop_assert!(matches!(codec.decode(&mut buf), Ok(None)));
        }
        buf.extend_from_slice(&prefix[LENGTH_PREFIX - 1..]);
        match codec.decode(&mut buf) {
            Err(Error::FrameTooLarge { len: l, max: m }) => prop_assert_eq!((l, m), (u64::from(len), max)),
            other => prop_assert!(false, "decode: {other:?}"),
        }
        // Nothing was reserved for the announced body.
        prop_assert!(buf.capacity() < 1 << 16, "capacity {}", buf.capacity());
        match codec.decode_eof(&mut buf) {
            Err(Error::FrameTooLarge { len: l, max: m }) => prop_assert_eq!((l, m), (u64::from(len), max)),
            other => prop_assert!(false, "decode_eof: {other:?}"),
        }

        // The blocking reader, over a stream that holds only the prefix.
        let mut reader = FrameReader::new(PrefixOnly { prefix, pos: 0 }, max);
        match reader.read_message() {
            Err(Error::FrameTooLarge { len: l, max: m }) => prop_assert_eq!((l, m), (u64::from(len), max)),
            other => prop_assert!(false, "read_message: {other:?}"),
        }
    }

    #[test]
    fn prefix_equal_to_max_frame_is_accepted(max in 1u32..=65536) {
        let prefix = max.to_le_bytes();
        let mut codec = MessageCodec::new(max);
        let mut buf = BytesMut::from(&prefix[..]);
        prop_assert!(matches!(codec.decode(&mut buf), Ok(None)));
        match codec.decode_eof(&mut buf) {
            Err(Error::Truncated { expected, got }) => prop_assert_eq!((expected, got), (max as usize, 0)),
            other => prop_assert!(false, "decode_eof: {other:?}"),
        }
        match FrameReader::new(&prefix[..], max).read_message() {
            Err(Error::Truncated { expected, got }) => prop_assert_eq!((expected, got), (max as usize, 0)),
            other => prop_assert!(false, "read_message: {other:?}"),
        }
    }

    #[test]
    fn oversize_message_is_refused_by_every_encoder(
        message in message(),
        junk in vec(any::<u8>(), 0..16),
    ) {
        let body_len = encode_body(&message).unwrap().len() as u32;
        let too_small = body_len - 1;

        match encode_frame(&message, too_small) {
            Err(Error::MessageTooLarge { message: name, len, max }) => {
                prop_assert_eq!((name, len, max), (message.name(), body_len as usize, too_small));
            }
            other => prop_assert!(false, "encode_frame: {other:?}"),
        }
        // Exactly the body size is fine.
        let frame = encode_frame(&message, body_len).unwrap();
        prop_assert_eq!(frame.len(), LENGTH_PREFIX + body_len as usize);

        // The codec leaves what was already in `dst` untouched.
        let mut codec = MessageCodec::new(too_small);
        let mut dst = BytesMut::from(&junk[..]);
        let refused = matches!(codec.encode(message.clone(), &mut dst), Err(Error::MessageTooLarge { .. }));
        prop_assert!(refused, "the codec encoded an oversized message");
        prop_assert_eq!(&dst[..], &junk[..]);
        codec.set_max_frame(body_len);
        codec.encode(message.clone(), &mut dst).unwrap();
        prop_assert_eq!(&dst[..junk.len()], &junk[..]);
        prop_assert_eq!(&dst[junk.len()..], &frame[..]);

        // The blocking writer writes nothing.
        let mut writer = FrameWriter::new(Vec::new(), too_small);
        let refused = matches!(writer.write_message(&message), Err(Error::MessageTooLarge { .. }));
        prop_assert!(refused, "the writer wrote an oversized message");
        prop_assert!(writer.into_inner().is_empty());
    }

    #[test]
    fn byte_payloads_are_msgpack_bin(id in id(), stream in stream(), data in data()) {
        let expected = bin(&data);
        let body = encode_body(&Message::Stdin { id, data: data.clone() }).unwrap();
        prop_assert!(body.ends_with(&expected), "Stdin body {body:02x?}");
        let body = encode_body(&Message::Output { id, stream, data: data.clone() }).unwrap();
        prop_assert!(body.ends_with(&expected), "Output body {body:02x?}");
    }
}

// ---------------------------------------------------------------------------
// Unit tests
// ---------------------------------------------------------------------------

#[test]
fn byte_payloads_use_bin8_bin16_and_bin32() {
    for (len, marker) in [(0, 0xc4), (1, 0xc4), (255, 0xc4), (256, 0xc5), (65535, 0xc5), (65536, 0xc6)] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let expected = bin(&data);
        assert_eq!(expected[0], marker);
        let message = Message::Output { id: 1, stream: Stream::Stdout, data };
        let frame = encode_frame(&message, DEFAULT_MAX_FRAME).unwrap();
        let body = &frame[LENGTH_PREFIX..];
        assert!(body.ends_with(&expected), "{len} bytes are not encoded as bin");
        // And nowhere an array header for the payload.
        let (head, _) = body.split_at(body.len() - expected.len());
        assert!(head.ends_with(b"\xa4data"), "the payload directly follows its key");
        assert_eq!(decode_body(body).unwrap(), message);
    }
}

#[test]
fn poll_has_the_documented_wire_form() {
    let frame = encode_frame(&Message::Poll { id: 5 }, DEFAULT_MAX_FRAME).unwrap();
    let body = b"\x81\xa4Poll\x81\xa2id\x05";
    assert_eq!(frame, [&(body.len() as u32).to_le_bytes()[..], &body[..]].concat());
    let frame = encode_frame(&Message::List {}, DEFAULT_MAX_FRAME).unwrap();
    assert_eq!(&frame[LENGTH_PREFIX..], b"\x81\xa4List\x80");
}

#[test]
fn unknown_message_type_is_unknown_message() {
    let body = to_body(&map(vec![("Teleport", map(vec![("id", Val::UInt(1))]))]));
    assert!(matches!(decode_body(&body), Err(Error::UnknownMessage(name)) if name == "Teleport"));

    let wire = frame(&body);
    let (read, error) = sync_read_all(wire.as_slice(), DEFAULT_MAX_FRAME);
    assert!(read.is_empty());
    assert!(matches!(error, Some(Error::UnknownMessage(name)) if name == "Teleport"));
    let (read, error) = codec_read_all(&wire, &[], DEFAULT_MAX_FRAME);
    assert!(read.is_empty());
    assert!(matches!(error, Some(Error::UnknownMessage(name)) if name == "Teleport"));
}

#[test]
fn unknown_message_consumes_exactly_its_frame() {
    let unknown = frame(&to_body(&map(vec![("Teleport", map(vec![("to", s("mars"))]))])));
    let poll = encode_frame(&Message::Poll { id: 9 }, DEFAULT_MAX_FRAME).unwrap();
    let wire = [unknown, poll].concat();

    let mut reader = FrameReader::new(wire.as_slice(), DEFAULT_MAX_FRAME);
    assert!(matches!(reader.read_message(), Err(Error::UnknownMessage(_))));
    assert_eq!(reader.read_message().unwrap(), Some(Message::Poll { id: 9 }));
    assert_eq!(reader.read_message().unwrap(), None);

    let mut codec = MessageCodec::new(DEFAULT_MAX_FRAME);
    let mut buf = BytesMut::from(&wire[..]);
    assert!(matches!(codec.decode(&mut buf), Err(Error::UnknownMessage(_))));
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(Message::Poll { id: 9 }));
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
}

#[test]
fn known_name_with_bad_fields_is_malformed_not_unknown() {
    for body in [
        map(vec![("Poll", map(vec![("id", s("five"))]))]),
        map(vec![("Poll", map(vec![]))]),
        map(vec![("Spawned", Val::Nil)]),
        map(vec![("Teleport", Val::Nil), ("Poll", map(vec![("id", Val::UInt(1))]))]),
        Val::Arr(vec![]),
        Val::UInt(7),
    ] {
        let result = decode_body(&to_body(&body));
        assert!(matches!(result, Err(Error::Malformed(_))), "{body:?}: {result:?}");
    }
}

#[test]
fn unknown_fields_are_ignored() {
    let body = map(vec![("Poll", map(vec![("id", Val::UInt(5)), ("future_field", s("x"))]))]);
    assert_eq!(decode_body(&to_body(&body)).unwrap(), Message::Poll { id: 5 });

    // Unknown fields of any shape, before and after the known ones, and in
    // nested structs.
    let layer = map(vec![
        ("name", s("landlock")),
        ("state", s("partial")),
        ("detail", s("abi 3")),
        ("since", Val::Arr(vec![Val::UInt(6), Val::UInt(2)])),
    ]);
    let body = map(vec![(
        "HelloAck",
        map(vec![
            ("extension", map(vec![("deep", Val::Arr(vec![Val::Nil, Val::Bin(vec![1, 2])]))])),
            ("version", Val::UInt(1)),
            ("runner_version", s("0.1.0")),
            ("pid", Val::UInt(42)),
            ("platform", s("linux")),
            (
                "sandbox",
                map(vec![
                    ("policy", s("read-only")),
                    ("layers", Val::Arr(vec![layer])),
                    ("summary", s("ok")),
                    ("score", Val::Float(0.5)),
                ]),
            ),
            ("features", Val::Arr(vec![s("pty")])),
            ("max_frame", Val::UInt(u64::from(DEFAULT_MAX_FRAME))),
            ("window", Val::UInt(u64::from(DEFAULT_WINDOW))),
            ("trailer", Val::Int(-1)),
        ]),
    )]);
    let expected = Message::HelloAck(HelloAck {
        version: 1,
        runner_version: "0.1.0".into(),
        pid: 42,
        platform: "linux".into(),
        sandbox: SandboxReport {
            policy: "read-only".into(),
            layers: vec![SandboxLayer {
                name: "landlock".into(),
                state: LayerState::Partial,
                detail: "abi 3".into(),
            }],
            summary: "ok".into(),
        },
        features: vec!["pty".into()],
        max_frame: DEFAULT_MAX_FRAME,
        window: DEFAULT_WINDOW,
        // Absent on the wire: the default applies.
        stdin_window: cordon_ipc::DEFAULT_STDIN_WINDOW,
    });
    assert_eq!(decode_body(&to_body(&body)).unwrap(), expected);
}

#[test]
fn optional_fields_may_be_absent_or_nil() {
    let absent = map(vec![(
        "Spawn",
        map(vec![
            ("id", Val::UInt(3)),
            ("argv", Val::Arr(vec![s("true")])),
            ("env", map(vec![])),
            ("stdin", Val::Bool(false)),
        ]),
    )]);
    let nil = map(vec![(
        "Spawn",
        map(vec![
            ("id", Val::UInt(3)),
            ("argv", Val::Arr(vec![s("true")])),
            ("cwd", Val::Nil),
            ("env", map(vec![])),
            ("tty", Val::Nil),
            ("stdin", Val::Bool(false)),
            ("timeout_ms", Val::Nil),
        ]),
    )]);
    let expected = Message::Spawn(Spawn {
        id: 3,
        argv: vec!["true".into()],
        cwd: None,
        env: BTreeMap::new(),
        tty: None,
        stdin: false,
        timeout_ms: None,
    });
    assert_eq!(decode_body(&to_body(&absent)).unwrap(), expected);
    assert_eq!(decode_body(&to_body(&nil)).unwrap(), expected);

    // `Hello.window` defaults.
    let hello = map(vec![(
        "Hello",
        map(vec![
            ("versions", Val::Arr(vec![Val::UInt(1), Val::UInt(1)])),
            ("token", s("t")),
            ("max_frame", Val::UInt(8192)),
        ]),
    )]);
    let expected = Message::Hello(Hello {
        versions: (1, 1),
        token: "t".into(),
        max_frame: 8192,
        window: DEFAULT_WINDOW,
    });
    assert_eq!(decode_body(&to_body(&hello)).unwrap(), expected);

    // `Error.id` absent.
    let error = map(vec![("Error", map(vec![("kind", s("os")), ("message", s("EIO"))]))]);
    let expected = Message::Error { id: None, kind: ErrorKind::Os, message: "EIO".into() };
    assert_eq!(decode_body(&to_body(&error)).unwrap(), expected);
}

#[test]
fn zero_length_frame_is_malformed() {
    let wire = [0u8; LENGTH_PREFIX];
    assert!(matches!(
        FrameReader::new(&wire[..], DEFAULT_MAX_FRAME).read_message(),
        Err(Error::Malformed(_))
    ));

    let mut codec = MessageCodec::new(DEFAULT_MAX_FRAME);
    assert!(matches!(codec.decode(&mut BytesMut::from(&wire[..])), Err(Error::Malformed(_))));
    assert!(matches!(codec.decode_eof(&mut BytesMut::from(&wire[..])), Err(Error::Malformed(_))));
    // Also when a valid frame follows it.
    let poll = encode_frame(&Message::Poll { id: 1 }, DEFAULT_MAX_FRAME).unwrap();
    let wire = [&wire[..], &poll[..]].concat();
    assert!(matches!(codec.decode(&mut BytesMut::from(&wire[..])), Err(Error::Malformed(_))));
    assert!(matches!(
        FrameReader::new(&wire[..], DEFAULT_MAX_FRAME).read_message(),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn end_of_stream_at_a_frame_boundary_is_none() {
    // Empty stream.
    assert!(FrameReader::new(&[][..], DEFAULT_MAX_FRAME).read_message().unwrap().is_none());
    let mut codec = MessageCodec::new(DEFAULT_MAX_FRAME);
    assert!(codec.decode(&mut BytesMut::new()).unwrap().is_none());
    assert!(codec.decode_eof(&mut BytesMut::new()).unwrap().is_none());

    // After whole frames; and again (a reader that saw the end stays there).
    let messages = [Message::Poll { id: 1 }, Message::Shutdown {}];
    let wire: Vec<u8> = messages.iter().flat_map(|m| encode_frame(m, DEFAULT_MAX_FRAME).unwrap()).collect();
    let mut reader = FrameReader::new(wire.as_slice(), DEFAULT_MAX_FRAME);
    assert_eq!(reader.read_message().unwrap(), Some(messages[0].clone()));
    assert_eq!(reader.read_message().unwrap(), Some(messages[1].clone()));
    assert_eq!(reader.read_message().unwrap(), None);
    assert_eq!(reader.read_message().unwrap(), None);

    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), Some(messages[0].clone()));
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), Some(messages[1].clone()));
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
}

#[test]
fn framed_read_reports_truncation_at_end_of_stream() {
    use futures_util::StreamExt;
    use tokio_util::codec::FramedRead;

    let poll = encode_frame(&Message::Poll { id: 1 }, DEFAULT_MAX_FRAME).unwrap();
    let wire = [&poll[..], &poll[..poll.len() - 1]].concat();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let items: Vec<_> =
        runtime.block_on(FramedRead::new(wire.as_slice(), MessageCodec::new(DEFAULT_MAX_FRAME)).collect());
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap(), &Message::Poll { id: 1 });
    assert!(
        matches!(items[1], Err(Error::Truncated { expected, got }) if expected == poll.len() - 4 && got == expected - 1),
        "{:?}",
        items[1]
    );
}

#[test]
fn trailing_bytes_after_the_message_are_malformed() {
    let mut body = encode_body(&Message::Poll { id: 5 }).unwrap();
    body.extend_from_slice(b"\xc0garbage");
    let result = decode_body(&body);
    assert!(matches!(result, Err(Error::Malformed(_))), "{result:?}");
}

#[test]
fn deeply_nested_ignored_value_fails_cleanly_on_a_small_stack() {
    // `{"Poll": {"id": 5, "x": [[[…]]]}}` and `{"X": [[[…]]]}`: the nested
    // arrays go through `IgnoredAny` (an unknown field, the unknown-message
    // probe), whose nesting no message type bounds. A peer can send this in
    // a frame of a few KiB.
    let depth = 100_000;
    let mut field = b"\x81\xa4Poll\x82\xa2id\x05\xa1x".to_vec();
    let mut unknown = b"\x81\xa1X".to_vec();
    for body in [&mut field, &mut unknown] {
        body.extend(std::iter::repeat_n(0x91, depth));
        body.push(0xc0);
    }
    // 2 MiB: the stack of a tokio worker thread and of a test thread.
    let results = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || (decode_body(&field), decode_body(&unknown)))
        .unwrap()
        .join()
        .unwrap();
    assert!(matches!(results.0, Err(Error::Malformed(_))), "{:?}", results.0);
    assert!(matches!(results.1, Err(Error::Malformed(_) | Error::UnknownMessage(_))), "{:?}", results.1);
}
