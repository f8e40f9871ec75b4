//! The bounded output buffer of a session: the first half of its limit is
//! kept as it came, then only the latest bytes; what falls between is
//! dropped and counted. Offsets are absolute (bytes since the session
//! started), so a reader that remembers where it stopped gets exactly what
//! came after, and learns how much of that was dropped.

use std::collections::VecDeque;

/// What a read from an offset found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Slice {
    /// Bytes still held from the head.
    pub head: Vec<u8>,
    /// Bytes between `head` and `tail` that the bound dropped.
    pub dropped: u64,
    /// Bytes from the tail.
    pub tail: Vec<u8>,
}

/// Head + tail buffer.
#[derive(Debug)]
pub(crate) struct HeadTail {
    head_cap: usize,
    tail_cap: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl HeadTail {
    /// A buffer holding at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        let head_cap = limit / 2;
        HeadTail { head_cap, tail_cap: limit - head_cap, head: Vec::new(), tail: VecDeque::new(), total: 0 }
    }

    /// Appends output.
    pub fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.head.len() < self.head_cap {
            let n = (self.head_cap - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        if data.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&data[data.len() - self.tail_cap..]);
        } else {
            let overflow = (self.tail.len() + data.len()).saturating_sub(self.tail_cap);
            self.tail.drain(..overflow);
            self.tail.extend(data);
        }
    }

    /// Bytes pushed so far, dropped ones included.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Everything from absolute offset `from` on.
    pub fn read_from(&self, from: u64) -> Slice {
        let head_len = self.head.len() as u64;
        let tail_start = self.total - self.tail.len() as u64;
        let mut slice = Slice::default();
        let mut pos = from.min(self.total);
        if pos < head_len {
            slice.head.extend_from_slice(&self.head[pos as usize..]);
            pos = head_len;
        }
        slice.dropped = tail_start.saturating_sub(pos);
        let skip = pos.max(tail_start) - tail_start;
        slice.tail.extend(self.tail.iter().skip(skip as usize));
        slice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_below_the_limit() {
        let mut b = HeadTail::new(16);
        b.push(b"hello ");
        b.push(b"world");
        let s = b.read_from(0);
        assert_eq!([s.head, s.tail].concat(), b"hello world");
        assert_eq!(s.dropped, 0);
        let s = b.read_from(6);
        assert_eq!([s.head, s.tail].concat(), b"world");
    }

    #[test]
    fn drops_the_middle_and_counts_it() {
        let mut b = HeadTail::new(8);
        for chunk in [b"abc".as_slice(), b"defgh", b"ijklmnop", b"qr"] {
            b.push(chunk);
        }
        assert_eq!(b.total(), 18);
        let s = b.read_from(0);
        assert_eq!(s.head, b"abcd");
        assert_eq!(s.tail, b"opqr");
        assert_eq!(s.dropped, 10);
        // A reader that stopped inside the dropped part loses only what was dropped after it.
        let s = b.read_from(10);
        assert_eq!((s.head.len(), s.dropped, s.tail.as_slice()), (0, 4, b"opqr".as_slice()));
        let s = b.read_from(16);
        assert_eq!((s.dropped, s.tail.as_slice()), (0, b"qr".as_slice()));
        assert_eq!(b.read_from(18), Slice::default());
    }
}
