//! Terminal escapes out of a command's output, before it reaches the
//! user's terminal: a streaming filter that drops the control strings a
//! terminal acts on beyond the screen — OSC (`ESC ]`: window and icon
//! titles, the clipboard with OSC 52, hyperlinks with OSC 8, palette
//! changes, notifications, terminal-specific extensions), DCS (`ESC P`:
//! terminal queries and settings, tmux passthrough), APC (`ESC _`), PM
//! (`ESC ^`) and SOS (`ESC X`) — in their 7-bit forms and as UTF-8 encoded
//! C1 controls (U+0090, U+0098, U+009D, U+009E, U+009F), which some
//! terminals honour too. Everything else passes: text, CSI sequences
//! (colours, cursor movement, erasing), other escapes and control
//! characters.
//!
//! A string ends, as in the terminals' own parsers, at ST (`ESC \` or
//! U+009C), at BEL, at CAN or SUB, or at an `ESC` that starts another
//! sequence. Ending one sooner than the terminal would is harmless: the
//! terminal never saw it begin.

use std::io::IsTerminal;

/// `--sanitize-output`: when the command's output is filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum When {
    /// Each of stdout and stderr that is a terminal (`cordon run`'s default).
    Auto,
    /// Always, also into files and pipes, and in `--json`'s strings.
    Always,
    /// Never (`cordon shell`'s default: its user wants the whole terminal).
    Never,
}

/// The filters of a command's stdout (and PTY) and stderr, where `when`
/// asks for them.
#[derive(Debug, Default)]
pub struct OutputFilters {
    /// For stdout, and the output of a PTY.
    pub stdout: Option<Sanitizer>,
    /// For stderr.
    pub stderr: Option<Sanitizer>,
}

impl OutputFilters {
    /// The filters `when` asks for: `auto` filters each of cordon's own
    /// stdout and stderr that is a terminal, and nothing that is
    /// `collected` (into `--json`'s object, whose strings escape control
    /// characters).
    pub fn new(when: When, collected: bool) -> OutputFilters {
        let on = |terminal: bool| match when {
            When::Always => Some(Sanitizer::new()),
            When::Auto if terminal && !collected => Some(Sanitizer::new()),
            _ => None,
        };
        OutputFilters {
            stdout: on(std::io::stdout().is_terminal()),
            stderr: on(std::io::stderr().is_terminal()),
        }
    }

    /// `data` as it may go out on `stderr` or (otherwise) stdout: filtered,
    /// or as it came.
    pub fn apply<'a>(&mut self, stderr: bool, data: &'a [u8], buf: &'a mut Vec<u8>) -> &'a [u8] {
        let filter = if stderr { &mut self.stderr } else { &mut self.stdout };
        match filter {
            Some(filter) => {
                buf.clear();
                filter.filter(data, buf);
                buf
            }
            None => data,
        }
    }
}

/// Where the filter is in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Passing bytes through.
    #[default]
    Ground,
    /// After an `ESC` not yet passed on.
    Escape,
    /// After a 0xC2 not yet passed on (the first byte of U+0080..U+00BF).
    C2,
    /// Inside a control string, dropping it.
    String,
    /// Inside a control string, after an `ESC`.
    StringEscape,
    /// Inside a control string, after a 0xC2.
    StringC2,
}

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
const CAN: u8 = 0x18;
const SUB: u8 = 0x1a;

/// Whether `byte` after `ESC` opens a control string: OSC, DCS, APC, PM, SOS.
fn opens_string(byte: u8) -> bool {
    matches!(byte, b']' | b'P' | b'_' | b'^' | b'X')
}

/// Whether `byte` after 0xC2 makes a C1 control that opens a control
/// string: DCS (U+0090), SOS (U+0098), OSC (U+009D), PM (U+009E), APC
/// (U+009F).
fn opens_string_c1(byte: u8) -> bool {
    matches!(byte, 0x90 | 0x98 | 0x9d | 0x9e | 0x9f)
}

/// The filter for one output stream. Sequences may be split anywhere
/// between calls; an incomplete one at the very end is never passed on.
#[derive(Debug, Default)]
pub struct Sanitizer {
    state: State,
}

impl Sanitizer {
    /// A filter at the start of a stream.
    pub fn new() -> Sanitizer {
        Sanitizer::default()
    }

    /// Appends to `out` what of `input` may reach a terminal.
    pub fn filter(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        for &byte in input {
            self.state = match self.state {
                State::Ground => self.ground(byte, out),
                State::Escape => {
                    if opens_string(byte) {
                        State::String
                    } else if byte == b'\\' {
                        // A lone ST does nothing on a terminal.
                        State::Ground
                    } else {
                        out.push(ESC);
                        self.ground(byte, out)
                    }
                }
                State::C2 => {
                    if opens_string_c1(byte) {
                        State::String
                    } else {
                        out.push(0xc2);
                        self.ground(byte, out)
                    }
                }
                State::String => match byte {
                    ESC => State::StringEscape,
                    0xc2 => State::StringC2,
                    BEL | CAN | SUB => State::Ground,
                    _ => State::String,
                },
                State::StringEscape => match byte {
                    // ST.
                    b'\\' => State::Ground,
                    // ESC ESC: the second one may start anything.
                    ESC => State::Escape,
                    _ if opens_string(byte) => State::String,
                    // Another sequence: it ends the string and is passed on.
                    _ => {
                        out.push(ESC);
                        self.ground(byte, out)
                    }
                },
                State::StringC2 => match byte {
                    // U+009C, ST.
                    0x9c => State::Ground,
                    ESC => State::StringEscape,
                    0xc2 => State::StringC2,
                    _ => State::String,
                },
            };
        }
    }

    /// `byte` in the ground state: passed on, unless it may begin a
    /// sequence to look at further.
    fn ground(&self, byte: u8, out: &mut Vec<u8>) -> State {
        match byte {
            ESC => State::Escape,
            0xc2 => State::C2,
            _ => {
                out.push(byte);
                State::Ground
            }
        }
    }
}

/// `input` filtered as one whole stream.
#[cfg(test)]
fn sanitize(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Sanitizer::new().filter(input, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc_is_dropped_with_either_terminator() {
        // OSC 52 (clipboard) ended by BEL, OSC 8 (hyperlink) and a title by ST.
        assert_eq!(sanitize(b"a\x1b]52;c;ZXZpbA==\x07b"), b"ab");
        assert_eq!(sanitize(b"\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\"), b"link");
        assert_eq!(sanitize(b"\x1b]0;owned\x1b\\prompt$ "), b"prompt$ ");
        assert_eq!(sanitize(b"\x1b]2;title\x07"), b"");
    }

    #[test]
    fn dcs_apc_pm_and_sos_are_dropped() {
        // DECRQSS, tmux passthrough carrying an OSC 52, a kitty graphics
        // APC, PM and SOS.
        assert_eq!(sanitize(b"1\x1bP$qm\x1b\\2"), b"12");
        assert_eq!(sanitize(b"\x1bPtmux;\x1b\x1b]52;c;eA==\x07\x1b\\ok"), b"ok");
        assert_eq!(sanitize(b"\x1b_Gf=100;AAAA\x1b\\x"), b"x");
        assert_eq!(sanitize(b"\x1b^private\x1b\\\x1bXstring\x1b\\y"), b"y");
    }

    #[test]
    fn csi_and_other_escapes_are_kept() {
        let colours = b"\x1b[1;31mred\x1b[0m \x1b[38;5;208morange\x1b[m";
        assert_eq!(sanitize(colours), colours);
        let cursor = b"\x1b[2J\x1b[H\x1b[10;20Hx\x1b[K\x1b[?25l\x1b[?25h\r\n\x1b7\x1b8\x1b(B\x1b=\x1b>";
        assert_eq!(sanitize(cursor), cursor);
        // A bare BEL outside a string is a bell, and stays.
        assert_eq!(sanitize(b"ding\x07"), b"ding\x07");
        // ESC ESC [: the first ESC passes, the second starts a CSI.
        assert_eq!(sanitize(b"\x1b\x1b[1m"), b"\x1b\x1b[1m");
    }

    #[test]
    fn utf8_text_passes_and_c1_strings_are_dropped() {
        let text = "héllo wörld Ý ¢ — 日本語 🙂".as_bytes();
        assert_eq!(sanitize(text), text);
        // U+009D (OSC) … U+009C (ST), U+0090 (DCS) … BEL.
        assert_eq!(sanitize(b"a\xc2\x9d52;c;eA==\xc2\x9cb\xc2\x90$qm\x07c"), b"abc");
        // U+009B (CSI) is kept, like ESC [.
        assert_eq!(sanitize(b"\xc2\x9b1m"), b"\xc2\x9b1m");
    }

    #[test]
    fn a_string_ends_at_an_escape_that_starts_another_sequence() {
        assert_eq!(sanitize(b"\x1b]0;title\x1b[1mbold"), b"\x1b[1mbold");
        assert_eq!(sanitize(b"\x1b]0;a\x1b]52;c;eA==\x07z"), b"z");
        assert_eq!(sanitize(b"\x1b]0;cancelled\x18after"), b"after");
    }

    #[test]
    fn sequences_split_across_chunks_are_still_recognised() {
        let input: &[u8] =
            b"<\x1b]52;c;ZXZpbA==\x1b\\|\x1b[32mgreen\x1b[0m|\xc2\x9d0;t\xc2\x9c|\xc3\xa9|\x1bPq\x07>";
        let expected = sanitize(input);
        assert_eq!(expected, b"<|\x1b[32mgreen\x1b[0m||\xc3\xa9|>");
        // Every split into two chunks, and one byte at a time.
        for split in 0..=input.len() {
            let mut filter = Sanitizer::new();
            let mut out = Vec::new();
            filter.filter(&input[..split], &mut out);
            filter.filter(&input[split..], &mut out);
            assert_eq!(out, expected, "split at {split}");
        }
        let mut filter = Sanitizer::new();
        let mut out = Vec::new();
        for byte in input {
            filter.filter(std::slice::from_ref(byte), &mut out);
        }
        assert_eq!(out, expected);
    }

    #[test]
    fn an_incomplete_sequence_is_held_not_passed() {
        let mut filter = Sanitizer::new();
        let mut out = Vec::new();
        filter.filter(b"abc\x1b", &mut out);
        assert_eq!(out, b"abc");
        filter.filter(b"]0;x", &mut out);
        assert_eq!(out, b"abc");
        // A string that never ends swallows the rest.
        filter.filter(b"more and more", &mut out);
        assert_eq!(out, b"abc");
    }
}
