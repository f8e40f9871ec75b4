//! Bounded capture of a stream: a command that prints without end (`yes`)
//! must not make the unconfined side grow without end. A [`HeadTail`] keeps
//! the first and the last bytes up to a limit and counts the rest, so that
//! the report can say what was dropped. [`Process::output`] keeps
//! [`DEFAULT_OUTPUT_LIMIT`] of each stream this way; `cordon run --json`
//! its own limit.
//!
//! [`Process::output`]: crate::Process::output

use std::collections::VecDeque;

/// What [`Process::output`](crate::Process::output) keeps of each stream:
/// 16 MiB, half of it head, half tail.
pub const DEFAULT_OUTPUT_LIMIT: u64 = 16 << 20;

/// What [`HeadTail::since`] found from an offset.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Since {
    /// Bytes still held from the head.
    pub head: Vec<u8>,
    /// Bytes between `head` and `tail` that the bound dropped.
    pub dropped: u64,
    /// Bytes from the tail.
    pub tail: Vec<u8>,
}

/// The first and last bytes of a stream, at most `limit` in all.
#[derive(Debug)]
pub struct HeadTail {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_limit: usize,
    tail_limit: usize,
    total: u64,
}

impl HeadTail {
    /// Keeps at most `limit` bytes: the first half of them and the last.
    pub fn new(limit: u64) -> HeadTail {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let head_limit = limit - limit / 2;
        HeadTail { head: Vec::new(), tail: VecDeque::new(), head_limit, tail_limit: limit / 2, total: 0 }
    }

    /// Takes the next bytes of the stream.
    pub fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        let room = self.head_limit - self.head.len();
        let (to_head, rest) = data.split_at(room.min(data.len()));
        self.head.extend_from_slice(to_head);
        data = rest;
        // Only the last `tail_limit` bytes of what is left can stay.
        let data = &data[data.len().saturating_sub(self.tail_limit)..];
        let overflow = (self.tail.len() + data.len()).saturating_sub(self.tail_limit);
        self.tail.drain(..overflow);
        self.tail.extend(data);
    }

    /// How many bytes the stream had.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How many bytes were dropped between head and tail.
    pub fn dropped(&self) -> u64 {
        self.total - (self.head.len() + self.tail.len()) as u64
    }

    /// What was kept, head then tail.
    pub fn kept(&self) -> Vec<u8> {
        let mut kept = self.head.clone();
        kept.extend(self.tail.iter());
        kept
    }

    /// What is still held of the stream from byte `from` on (offsets count
    /// from the stream's start, dropped bytes included): a reader that
    /// remembers where it stopped gets exactly what came after, and learns
    /// how much of that was dropped.
    pub fn since(&self, from: u64) -> Since {
        let head_len = self.head.len() as u64;
        let tail_start = self.total - self.tail.len() as u64;
        let mut since = Since::default();
        let mut pos = from.min(self.total);
        if pos < head_len {
            since.head.extend_from_slice(&self.head[pos as usize..]);
            pos = head_len;
        }
        since.dropped = tail_start.saturating_sub(pos);
        let skip = pos.max(tail_start) - tail_start;
        since.tail.extend(self.tail.iter().skip(skip as usize));
        since
    }

    /// What was kept, head then tail, without a copy.
    pub fn into_kept(mut self) -> Vec<u8> {
        self.head.extend(self.tail);
        self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_the_limit_everything_is_kept() {
        let mut capture = HeadTail::new(10);
        capture.push(b"hello ");
        capture.push(b"you");
        assert_eq!(capture.kept(), b"hello you");
        assert_eq!((capture.total(), capture.dropped()), (9, 0));
    }

    #[test]
    fn past_the_limit_the_head_and_the_tail_are_kept_and_the_middle_counted() {
        let mut capture = HeadTail::new(8);
        for chunk in [&b"0123"[..], b"45", b"6789abcdef", b"g", b"hij"] {
            capture.push(chunk);
        }
        assert_eq!(capture.kept(), b"0123ghij");
        assert_eq!((capture.total(), capture.dropped()), (20, 12));
    }

    #[test]
    fn any_split_of_the_input_keeps_the_same_bytes() {
        let input: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let expected = [&input[..50], &input[950..]].concat();
        for chunk in [1, 3, 7, 64, 999, 1000] {
            let mut capture = HeadTail::new(100);
            input.chunks(chunk).for_each(|c| capture.push(c));
            assert_eq!(capture.kept(), expected, "chunks of {chunk}");
            assert_eq!(capture.dropped(), 900);
        }
    }

    #[test]
    fn since_an_offset_gives_what_came_after_and_what_of_it_was_dropped() {
        let mut capture = HeadTail::new(16);
        capture.push(b"hello ");
        capture.push(b"world");
        let since = capture.since(6);
        assert_eq!(([since.head, since.tail].concat(), since.dropped), (b"world".to_vec(), 0));
        let mut capture = HeadTail::new(8);
        for chunk in [&b"abc"[..], b"defgh", b"ijklmnop", b"qr"] {
            capture.push(chunk);
        }
        let since = capture.since(0);
        assert_eq!(
            (since.head.as_slice(), since.dropped, since.tail.as_slice()),
            (&b"abcd"[..], 10, &b"opqr"[..])
        );
        // A reader that stopped inside the dropped part loses only what was
        // dropped after it.
        let since = capture.since(10);
        assert_eq!((since.head.len(), since.dropped, since.tail.as_slice()), (0, 4, &b"opqr"[..]));
        let since = capture.since(16);
        assert_eq!((since.dropped, since.tail.as_slice()), (0, &b"qr"[..]));
        assert_eq!(capture.since(18), Since::default());
    }

    #[test]
    fn a_limit_of_zero_keeps_nothing_and_counts_everything() {
        let mut capture = HeadTail::new(0);
        capture.push(b"abc");
        assert_eq!((capture.kept(), capture.total(), capture.dropped()), (Vec::new(), 3, 3));
    }
}
