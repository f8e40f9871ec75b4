//! What a model reads of a terminal.
//!
//! [`Transcript`] turns a PTY's byte stream into lines of plain text through
//! a real VT parser (`vte`): carriage-return overwrites collapse (a progress
//! bar ends as its last state), erase-in-line and cursor motion within the
//! line are applied, and every other control sequence (colours, titles,
//! modes) is removed. [`Screen`] is a full emulator (`vt100`) for programs
//! that draw a screen rather than lines.

/// Lines rendered from terminal output.
pub(crate) struct Transcript {
    parser: vte::Parser,
    line: LineState,
}

#[derive(Default)]
struct LineState {
    cells: Vec<char>,
    col: usize,
    committed: String,
}

impl Transcript {
    pub fn new() -> Self {
        Transcript { parser: vte::Parser::new(), line: LineState::default() }
    }

    /// Feeds terminal output; returns the lines it completed.
    pub fn feed(&mut self, bytes: &[u8]) -> String {
        self.parser.advance(&mut self.line, bytes);
        std::mem::take(&mut self.line.committed)
    }

    /// The line being written, not yet ended by a newline (a prompt).
    pub fn partial(&self) -> String {
        let line: String = self.line.cells.iter().collect();
        line.trim_end().to_string()
    }
}

impl LineState {
    fn commit(&mut self) {
        let line: String = self.cells.iter().collect();
        self.committed.push_str(line.trim_end());
        self.committed.push('\n');
        self.cells.clear();
        self.col = 0;
    }

    fn put(&mut self, c: char) {
        if self.col < self.cells.len() {
            self.cells[self.col] = c;
        } else {
            self.cells.resize(self.col, ' ');
            self.cells.push(c);
        }
        self.col += 1;
    }
}

/// The first parameter of a CSI sequence, with the terminal's default.
fn first_param(params: &vte::Params, default: usize) -> usize {
    match params.iter().next().and_then(|p| p.first().copied()) {
        Some(0) | None => default,
        Some(n) => n as usize,
    }
}

impl vte::Perform for LineState {
    fn print(&mut self, c: char) {
        self.put(c);
    }

    fn execute(&mut self, byte: u8) {
        match byte {
            b'\n' => self.commit(),
            b'\r' => self.col = 0,
            0x08 => self.col = self.col.saturating_sub(1),
            b'\t' => self.col = (self.col / 8 + 1) * 8,
            _ => {}
        }
    }

    fn csi_dispatch(&mut self, params: &vte::Params, intermediates: &[u8], _ignore: bool, action: char) {
        if !intermediates.is_empty() {
            return;
        }
        match action {
            // Erase in line: to the end, from the start, or all of it.
            'K' => match params.iter().next().and_then(|p| p.first().copied()).unwrap_or(0) {
                0 => self.cells.truncate(self.col),
                1 => {
                    let end = (self.col + 1).min(self.cells.len());
                    self.cells[..end].iter_mut().for_each(|c| *c = ' ');
                }
                _ => self.cells.clear(),
            },
            'C' => self.col += first_param(params, 1),
            'D' => self.col = self.col.saturating_sub(first_param(params, 1)),
            'G' => self.col = first_param(params, 1) - 1,
            'P' => {
                let n = first_param(params, 1).min(self.cells.len().saturating_sub(self.col));
                self.cells.drain(self.col..self.col + n);
            }
            '@' if self.col <= self.cells.len() => {
                let n = first_param(params, 1);
                self.cells.splice(self.col..self.col, std::iter::repeat_n(' ', n));
            }
            _ => {}
        }
    }
}

/// A terminal screen, rows × cols.
pub(crate) struct Screen {
    parser: vt100::Parser,
}

impl Screen {
    pub fn new(rows: u16, cols: u16) -> Self {
        Screen { parser: vt100::Parser::new(rows, cols, 0) }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
    }

    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.parser.screen_mut().set_size(rows, cols);
    }

    /// The screen's text, one line per row, trailing blanks trimmed.
    pub fn contents(&self) -> String {
        let screen = self.parser.screen();
        let (_, cols) = screen.size();
        let rows: Vec<String> = screen.rows(0, cols).map(|r| r.trim_end().to_string()).collect();
        rows.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(bytes: &[u8]) -> (String, String) {
        let mut t = Transcript::new();
        let done = t.feed(bytes);
        (done, t.partial())
    }

    #[test]
    fn progress_bar_collapses_to_its_last_state() {
        let (done, partial) = render(b"fetch  10%\rfetch  55%\rfetch 100%\r\ndone\r\n");
        assert_eq!(done, "fetch 100%\ndone\n");
        assert_eq!(partial, "");
    }

    #[test]
    fn ansi_sequences_are_removed() {
        let (done, _) = render(b"\x1b[1;31mred\x1b[0m \x1b]0;title\x07plain\x1b[K\r\n\x1b[?25l");
        assert_eq!(done, "red plain\n");
    }

    #[test]
    fn erase_line_and_backspace_apply() {
        let (done, partial) = render(b"abcdef\r\x1b[Kxy\nab\x08\x08z\r\n>>> ");
        assert_eq!(done, "xy\nzb\n");
        assert_eq!(partial, ">>>");
    }

    #[test]
    fn screen_shows_what_a_full_screen_program_drew() {
        let mut s = Screen::new(3, 10);
        s.feed(b"\x1b[2J\x1b[1;1Htop\x1b[3;5Hbottom");
        assert_eq!(s.contents(), "top\n\n    bottom");
        s.resize(2, 10);
        assert_eq!(s.contents().split('\n').count(), 2);
    }
}
