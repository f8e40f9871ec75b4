//! Whether a process waits for its input, read from the kernel's view of
//! the processes rather than guessed from what they print.
//!
//! A process waits for a session's input when it is asleep in a system call
//! that waits for that terminal or pipe to become readable: `read` (and its
//! vector and positional forms) on a descriptor that is the input, or
//! `poll`, `select` or `epoll_wait` with the input among what it waits to
//! read. `/proc/PID/syscall` gives the call and its arguments; the
//! descriptor sets of `poll` and `select` are read from the process's memory
//! (`/proc/PID/mem`) and an epoll instance's interest list from
//! `/proc/PID/fdinfo`. Each descriptor is then matched against the input by
//! identity (a terminal's device number, a pipe's inode), not by number. For
//! a terminal only processes of its foreground process group count: a
//! background job that reads it would be stopped, not served.
//!
//! The kernel lets the runner see all this for its own descendants (the same
//! credentials; the ptrace access check). A process it may not inspect (one
//! made non-dumpable, such as a set-uid program) is simply not seen waiting.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::{FileExt, MetadataExt};

use nix::libc;

/// The most descriptors of one `poll` or `select` looked at.
const MAX_WAITED_FDS: u64 = 1024;

/// The input of one process: what a waiting reader would be waiting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputWatch {
    /// A pseudo-terminal's slave, by device number.
    Terminal {
        /// `st_rdev` of the slave.
        rdev: u64,
    },
    /// A pipe, by its inode.
    Pipe {
        /// `st_dev` of the pipe.
        dev: u64,
        /// `st_ino` of the pipe.
        ino: u64,
    },
}

impl InputWatch {
    /// The input that `slave`, a pseudo-terminal's slave, is.
    pub(super) fn terminal(slave: BorrowedFd<'_>) -> io::Result<Self> {
        Ok(InputWatch::Terminal { rdev: identity(slave)?.rdev() })
    }

    /// The input that `pipe`, either end of a pipe, is.
    pub(super) fn pipe(pipe: BorrowedFd<'_>) -> io::Result<Self> {
        let meta = identity(pipe)?;
        Ok(InputWatch::Pipe { dev: meta.dev(), ino: meta.ino() })
    }

    /// Whether some process now waits to read this input.
    pub fn awaiting_input(&self) -> bool {
        let Ok(entries) = fs::read_dir("/proc") else { return false };
        entries
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .any(|pid| self.waited_on_by(pid))
    }

    fn waited_on_by(&self, pid: u32) -> bool {
        let Some(stat) = fs::read(format!("/proc/{pid}/stat")).ok().and_then(|s| Stat::parse(&s)) else {
            return false;
        };
        if stat.state != b'S' {
            return false;
        }
        if let InputWatch::Terminal { rdev } = *self {
            if stat.tty_nr != rdev || stat.pgrp != stat.tpgid {
                return false;
            }
        }
        let Some(call) =
            fs::read_to_string(format!("/proc/{pid}/syscall")).ok().and_then(|s| Syscall::parse(&s))
        else {
            return false;
        };
        let Some(wait) = Wait::of(&call) else { return false };
        read_fds(pid, wait).into_iter().any(|fd| self.is(pid, fd))
    }

    /// Whether descriptor `fd` of process `pid` is this input.
    fn is(&self, pid: u32, fd: i32) -> bool {
        let Ok(meta) = fs::metadata(format!("/proc/{pid}/fd/{fd}")) else { return false };
        match *self {
            InputWatch::Terminal { rdev } => meta.rdev() == rdev,
            InputWatch::Pipe { dev, ino } => meta.dev() == dev && meta.ino() == ino,
        }
    }
}

/// What `fd` is, read the way the descriptors of the processes are (through
/// `/proc`), so that both sides encode device numbers alike.
fn identity(fd: BorrowedFd<'_>) -> io::Result<fs::Metadata> {
    fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The descriptors a waiting call waits to read.
fn read_fds(pid: u32, wait: Wait) -> Vec<i32> {
    match wait {
        Wait::Read { fd } => vec![fd],
        Wait::Poll { fds, count } => {
            let count = count.min(MAX_WAITED_FDS) as usize;
            read_memory(pid, fds, count * POLLFD_SIZE).map(|raw| polled_for_reading(&raw)).unwrap_or_default()
        }
        Wait::Select { nfds, readfds } => {
            let nfds = nfds.min(MAX_WAITED_FDS) as usize;
            read_memory(pid, readfds, nfds.div_ceil(64) * 8)
                .map(|raw| selected_for_reading(&raw, nfds))
                .unwrap_or_default()
        }
        Wait::Epoll { epfd } => fs::read_to_string(format!("/proc/{pid}/fdinfo/{epfd}"))
            .map(|info| epoll_readers(&info))
            .unwrap_or_default(),
    }
}

fn read_memory(pid: u32, address: u64, len: usize) -> Option<Vec<u8>> {
    if address == 0 || len == 0 {
        return None;
    }
    let mem = fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut buf = vec![0; len];
    mem.read_exact_at(&mut buf, address).ok()?;
    Some(buf)
}

/// The fields of `/proc/PID/stat` this needs.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    state: u8,
    pgrp: i64,
    /// The controlling terminal's device number, as the kernel encodes it.
    tty_nr: u64,
    /// The foreground process group of the controlling terminal.
    tpgid: i64,
}

impl Stat {
    fn parse(stat: &[u8]) -> Option<Stat> {
        // The command name may hold spaces and parentheses: the fields
        // start after its last `)`.
        let close = stat.iter().rposition(|&b| b == b')')?;
        let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
        let mut fields = rest.split_ascii_whitespace();
        let state = *fields.next()?.as_bytes().first()?;
        let _ppid = fields.next()?;
        let pgrp = fields.next()?.parse().ok()?;
        let _session = fields.next()?;
        let tty_nr: i64 = fields.next()?.parse().ok()?;
        let tpgid = fields.next()?.parse().ok()?;
        Some(Stat { state, pgrp, tty_nr: tty_nr as u64, tpgid })
    }
}

/// A line of `/proc/PID/syscall`: the call a sleeping process is in.
#[derive(Debug, PartialEq, Eq)]
struct Syscall {
    nr: i64,
    args: [u64; 6],
}

impl Syscall {
    /// `None` when the process is running or not in a system call.
    fn parse(line: &str) -> Option<Syscall> {
        let mut fields = line.split_ascii_whitespace();
        let nr: i64 = fields.next()?.parse().ok()?;
        if nr < 0 {
            return None;
        }
        let mut args = [0; 6];
        for arg in &mut args {
            let field = fields.next()?;
            *arg = u64::from_str_radix(field.strip_prefix("0x").unwrap_or(field), 16).ok()?;
        }
        Some(Syscall { nr, args })
    }
}

/// A system call that waits for descriptors to become readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// `read` and friends on one descriptor.
    Read { fd: i32 },
    /// `poll`/`ppoll`: an array of `struct pollfd`.
    Poll { fds: u64, count: u64 },
    /// `select`/`pselect6`: the read set, a bitmap of `nfds` bits.
    Select { nfds: u64, readfds: u64 },
    /// `epoll_wait` and friends: the epoll instance.
    Epoll { epfd: i32 },
}

impl Wait {
    fn of(call: &Syscall) -> Option<Wait> {
        let [a0, a1, ..] = call.args;
        let fd = || i32::try_from(a0).ok();
        let wait = match call.nr {
            libc::SYS_read | libc::SYS_readv | libc::SYS_pread64 | libc::SYS_preadv | libc::SYS_preadv2 => {
                Wait::Read { fd: fd()? }
            }
            libc::SYS_ppoll => Wait::Poll { fds: a0, count: a1 },
            libc::SYS_pselect6 => Wait::Select { nfds: a0, readfds: a1 },
            libc::SYS_epoll_pwait | libc::SYS_epoll_pwait2 => Wait::Epoll { epfd: fd()? },
            nr => return Self::legacy(nr, a0, a1),
        };
        Some(wait)
    }

    /// The older calls, which only some architectures still have.
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "arm"))]
    fn legacy(nr: i64, a0: u64, a1: u64) -> Option<Wait> {
        match nr {
            libc::SYS_poll => Some(Wait::Poll { fds: a0, count: a1 }),
            libc::SYS_select => Some(Wait::Select { nfds: a0, readfds: a1 }),
            libc::SYS_epoll_wait => Some(Wait::Epoll { epfd: i32::try_from(a0).ok()? }),
            _ => None,
        }
    }

    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "arm")))]
    fn legacy(_nr: i64, _a0: u64, _a1: u64) -> Option<Wait> {
        None
    }
}

/// `struct pollfd { int fd; short events; short revents; }`.
const POLLFD_SIZE: usize = 8;

/// The descriptors of a `pollfd` array that wait to be readable.
fn polled_for_reading(raw: &[u8]) -> Vec<i32> {
    let readable = (libc::POLLIN | libc::POLLRDNORM) as u16;
    raw.chunks_exact(POLLFD_SIZE)
        .filter_map(|entry| {
            let fd = i32::from_ne_bytes(entry[..4].try_into().ok()?);
            let events = u16::from_ne_bytes(entry[4..6].try_into().ok()?);
            (fd >= 0 && events & readable != 0).then_some(fd)
        })
        .collect()
}

/// The descriptors set in a `select` read set of `nfds` bits (an array of
/// native `unsigned long` words).
fn selected_for_reading(raw: &[u8], nfds: usize) -> Vec<i32> {
    (0..nfds)
        .filter(|&fd| {
            let word = fd / 64;
            let Some(bytes) = raw.get(word * 8..word * 8 + 8) else { return false };
            let bits = u64::from_ne_bytes(bytes.try_into().expect("eight bytes"));
            bits & (1 << (fd % 64)) != 0
        })
        .map(|fd| fd as i32)
        .collect()
}

/// The descriptors an epoll instance waits to read, from its fdinfo
/// (`tfd:        0 events:       19 data: …`, values in hex).
fn epoll_readers(fdinfo: &str) -> Vec<i32> {
    fdinfo
        .lines()
        .filter_map(|line| {
            let mut words = line.split_ascii_whitespace();
            (words.next()? == "tfd:").then_some(())?;
            let fd = words.next()?.parse::<i32>().ok()?;
            (words.next()? == "events:").then_some(())?;
            let events = u32::from_str_radix(words.next()?, 16).ok()?;
            (events & libc::EPOLLIN as u32 != 0).then_some(fd)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_last_parenthesis_of_the_name() {
        let line = b"4242 (a (b) c) S 1 4242 4242 34816 4242 4194560 0 0 0 0";
        assert_eq!(Stat::parse(line), Some(Stat { state: b'S', pgrp: 4242, tty_nr: 34816, tpgid: 4242 }));
        let background = b"7 (sh) S 1 7 7 34816 9 0";
        let stat = Stat::parse(background).unwrap();
        assert_ne!(stat.pgrp, stat.tpgid);
        assert_eq!(Stat::parse(b"garbage"), None);
        assert_eq!(Stat::parse(b"1 (x) S 1"), None);
    }

    #[test]
    fn a_syscall_line_gives_the_call_and_its_arguments_and_nothing_when_running() {
        let line = "0 0x0 0x7ffd1 0x1 0x0 0x0 0x0 0x7ffd0 0x7f00\n";
        assert_eq!(Syscall::parse(line), Some(Syscall { nr: 0, args: [0, 0x7ffd1, 1, 0, 0, 0] }));
        assert_eq!(Syscall::parse("running\n"), None);
        assert_eq!(Syscall::parse("-1 0x7ffd0 0x7f00\n"), None);
        assert_eq!(Syscall::parse("7 0x1 0x2\n"), None, "too few arguments");
    }

    #[test]
    fn reads_and_waits_for_readability_are_recognised_and_other_sleeps_are_not() {
        let call = |nr, a0, a1| Syscall { nr, args: [a0, a1, 0, 0, 0, 0] };
        assert_eq!(Wait::of(&call(libc::SYS_read, 0, 0x1000)), Some(Wait::Read { fd: 0 }));
        assert_eq!(Wait::of(&call(libc::SYS_ppoll, 0x10, 2)), Some(Wait::Poll { fds: 0x10, count: 2 }));
        assert_eq!(
            Wait::of(&call(libc::SYS_pselect6, 1, 0x20)),
            Some(Wait::Select { nfds: 1, readfds: 0x20 })
        );
        assert_eq!(Wait::of(&call(libc::SYS_epoll_pwait, 5, 0)), Some(Wait::Epoll { epfd: 5 }));
        assert_eq!(Wait::of(&call(libc::SYS_nanosleep, 0, 0)), None);
        assert_eq!(Wait::of(&call(libc::SYS_wait4, 0, 0)), None);
        assert_eq!(Wait::of(&call(libc::SYS_write, 1, 0)), None);
    }

    #[test]
    fn only_pollfds_waiting_to_read_count() {
        let entry = |fd: i32, events: i16| {
            let mut e = fd.to_ne_bytes().to_vec();
            e.extend(events.to_ne_bytes());
            e.extend(0i16.to_ne_bytes());
            e
        };
        let raw = [
            entry(0, libc::POLLIN),
            entry(1, libc::POLLOUT),
            entry(-1, libc::POLLIN),
            entry(4, libc::POLLRDNORM),
        ]
        .concat();
        assert_eq!(polled_for_reading(&raw), vec![0, 4]);
    }

    #[test]
    fn select_sets_are_read_as_bitmaps_up_to_nfds() {
        let mut raw = vec![0u8; 16];
        raw[..8].copy_from_slice(&(1u64 << 0 | 1 << 3).to_ne_bytes());
        raw[8..].copy_from_slice(&(1u64 << 1).to_ne_bytes());
        assert_eq!(selected_for_reading(&raw, 66), vec![0, 3, 65]);
        assert_eq!(selected_for_reading(&raw, 3), vec![0], "bits at or past nfds are not looked at");
    }

    #[test]
    fn an_epoll_interest_list_gives_its_readers() {
        let info = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t2071\n\
                    tfd:        0 events:       19 data:                0  pos:0 ino:3 sdev:d\n\
                    tfd:        7 events:        4 data:                7  pos:0 ino:4 sdev:d\n\
                    tfd:       12 events: 80000001 data:                c  pos:0 ino:5 sdev:d\n";
        assert_eq!(epoll_readers(info), vec![0, 12]);
    }
}
