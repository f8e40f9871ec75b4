//! The decoders on hostile input, bounded in time and memory: a regression
//! that makes a decoder loop, recurse without end or allocate what a header
//! announces fails here fast, instead of hanging the suite or swapping the
//! machine.
//!
//! Every allocation of this test binary is counted per thread; an
//! allocation larger than [`HARD_CAP`] is refused outright (the process
//! aborts on it at once), and the peak of each decode is checked against a
//! bound proportional to its input. Each property runs in a thread of its
//! own under a deadline.
#![cfg(feature = "tokio")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use bytes::BytesMut;
use cordon_ipc::{
    FrameReader, LENGTH_PREFIX, MAX_FRAME_CAP, Message, MessageCodec, OsBytes, Size, Spawn, Stream,
    decode_body, encode_body,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tokio_util::codec::Decoder;

/// No single allocation of a decoder may be this large: far more than any
/// input here, far less than what a hostile header announces (4 GiB).
const HARD_CAP: usize = 256 << 20;

/// What a reader may allocate ahead of the bytes it has received.
const RESERVE_AHEAD: usize = 1 << 20;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

struct Counting;

// SAFETY: forwards to the system allocator; the bookkeeping allocates
// nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > HARD_CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        // SAFETY: allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > HARD_CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's pointer and layout, passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result and the most memory it held at once
/// beyond what was live when it started.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let out = f();
    let peak = PEAK.with(Cell::get);
    (out, (peak - start).max(0) as usize)
}

/// Runs `property` in a thread of its own and fails if it is not done
/// within `limit`.
fn within(limit: Duration, what: &str, property: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(property));
        let _ = done.send(outcome);
    });
    match finished.recv_timeout(limit) {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what}: not done within {limit:?}: a decoder is looping or crawling"),
    }
}

/// The memory a decode of `input_len` bytes may use: a few times the input
/// (the decoded values, serde's buffers), what a reader reserves ahead,
/// and some slack for fixed costs.
fn budget(input_len: usize) -> usize {
    4 * input_len + RESERVE_AHEAD + (64 << 10)
}

/// Real message bodies to corrupt: every kind of value the schema has.
fn seed_bodies() -> Vec<Vec<u8>> {
    let spawn = Spawn {
        id: 3,
        argv: vec!["sh".into(), "-c".into(), OsBytes::from(vec![0xff, 0x00])],
        cwd: Some("/work".into()),
        env: [("PATH".into(), "/bin".into())].into_iter().collect(),
        tty: Some(Size { rows: 24, cols: 80 }),
        stdin: true,
        timeout_ms: Some(1000),
    };
    [
        Message::Spawn(spawn),
        Message::Output { id: 1, stream: Stream::Stderr, data: vec![7; 300] },
        Message::Ack { id: 1, bytes: 1 << 40 },
        Message::List {},
        Message::Error { id: None, kind: cordon_ipc::ErrorKind::Protocol, message: "x".into() },
    ]
    .iter()
    .map(|m| encode_body(m).unwrap())
    .collect()
}

/// Bodies: random bytes, or a real body with some bytes overwritten (which
/// turns lengths and counts into huge announcements).
fn hostile_body() -> BoxedStrategy<Vec<u8>> {
    let seeds = seed_bodies();
    let mutated = (proptest::sample::select(seeds), vec((any::<prop::sample::Index>(), any::<u8>()), 1..6))
        .prop_map(|(mut body, edits)| {
            for (at, byte) in edits {
                let i = at.index(body.len());
                body[i] = byte;
            }
            body
        });
    prop_oneof![vec(any::<u8>(), 0..512), mutated].boxed()
}

fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, ..Config::default() }
}

#[test]
fn decoding_hostile_bodies_is_bounded_in_time_and_memory() {
    within(Duration::from_secs(60), "decode_body", || {
        TestRunner::new(config(4000))
            .run(&hostile_body(), |body| {
                let (_, peak) = peak_during(|| decode_body(&body));
                prop_assert!(peak <= budget(body.len()), "{peak} bytes for a {}-byte body", body.len());
                Ok(())
            })
            .unwrap();
    });
}

#[test]
fn reading_frames_that_announce_more_than_they_carry_is_bounded() {
    within(Duration::from_secs(60), "FrameReader and MessageCodec", || {
        let strategy = (0u32..=MAX_FRAME_CAP, hostile_body());
        TestRunner::new(config(1000))
            .run(&strategy, |(announced, body)| {
                let mut stream = announced.to_le_bytes().to_vec();
                stream.extend_from_slice(&body);
                let (_, peak) = peak_during(|| {
                    let mut reader = FrameReader::new(stream.as_slice(), MAX_FRAME_CAP);
                    while let Ok(Some(_)) = reader.read_message() {}
                });
                prop_assert!(
                    peak <= budget(stream.len()),
                    "FrameReader: {peak} bytes for {announced} announced"
                );
                let (_, peak) = peak_during(|| {
                    let mut codec = MessageCodec::new(MAX_FRAME_CAP);
                    let mut buf = BytesMut::from(stream.as_slice());
                    let _ = codec.decode_eof(&mut buf);
                });
                prop_assert!(
                    peak <= budget(stream.len()),
                    "MessageCodec: {peak} bytes for {announced} announced"
                );
                Ok(())
            })
            .unwrap();
    });
}

#[test]
fn a_header_announcing_four_billion_elements_costs_nothing() {
    // `{"Spawn": {"argv": array32 of 2^32-1 elements}}`, then nothing.
    let mut body = vec![0x81, 0xa5];
    body.extend_from_slice(b"Spawn");
    body.extend_from_slice(&[0x81, 0xa4]);
    body.extend_from_slice(b"argv");
    body.extend_from_slice(&[0xdd, 0xff, 0xff, 0xff, 0xff]);
    let (result, peak) = peak_during(|| decode_body(&body));
    assert!(result.is_err());
    assert!(peak < 64 << 10, "{peak} bytes");

    // A frame announcing the largest body a channel allows, and sending 1 byte.
    let mut stream = MAX_FRAME_CAP.to_le_bytes().to_vec();
    stream.push(0x81);
    assert_eq!(stream.len(), LENGTH_PREFIX + 1);
    let (result, peak) = peak_during(|| FrameReader::new(stream.as_slice(), MAX_FRAME_CAP).read_message());
    assert!(result.is_err());
    assert!(peak <= RESERVE_AHEAD + (64 << 10), "{peak} bytes");
}
