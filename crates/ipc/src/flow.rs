//! Per-process flow control, as in SSH channels: the runner may have at most
//! `window` bytes of a process's output sent and not yet acknowledged.

use crate::{Error, Result};

/// The sender's view of one process's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowWindow {
    size: u64,
    in_flight: u64,
}

impl FlowWindow {
    /// An empty window of `size` bytes.
    pub fn new(size: u32) -> Self {
        FlowWindow { size: size.into(), in_flight: 0 }
    }

    /// How many more bytes may be sent now.
    pub fn available(&self) -> u64 {
        self.size - self.in_flight
    }

    /// Bytes sent and not acknowledged.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Records that `bytes` were sent. Sending more than is available is a
    /// bug in the sender.
    pub fn consume(&mut self, bytes: u64) {
        debug_assert!(bytes <= self.available(), "sent past the window");
        self.in_flight = (self.in_flight + bytes).min(self.size);
    }

    /// Records an `Ack`. Acknowledging more than is in flight is a protocol
    /// error on the receiver's part.
    pub fn ack(&mut self, bytes: u64) -> Result<()> {
        if bytes > self.in_flight {
            return Err(Error::Malformed(format!(
                "Ack of {bytes} bytes but only {} are unacknowledged",
                self.in_flight
            )));
        }
        self.in_flight -= bytes;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_opens_on_ack_and_refuses_over_ack() {
        let mut w = FlowWindow::new(100);
        w.consume(60);
        assert_eq!(w.available(), 40);
        w.consume(40);
        assert_eq!(w.available(), 0);
        w.ack(30).unwrap();
        assert_eq!(w.available(), 30);
        assert!(w.ack(71).is_err());
        assert_eq!(w.in_flight(), 70);
    }
}
