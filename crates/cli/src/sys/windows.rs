//! Windows: console modes, the console's size, and console control events.

use std::io::IsTerminal;
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use std::time::Duration;

use cordon::Size;
use tokio::signal::windows::{
    CtrlBreak, CtrlC, CtrlClose, CtrlShutdown, ctrl_break, ctrl_c, ctrl_close, ctrl_shutdown,
};
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Console::{
    CONSOLE_MODE, CONSOLE_SCREEN_BUFFER_INFO, ENABLE_ECHO_INPUT, ENABLE_LINE_INPUT, ENABLE_PROCESSED_INPUT,
    ENABLE_VIRTUAL_TERMINAL_INPUT, ENABLE_VIRTUAL_TERMINAL_PROCESSING, GetConsoleMode,
    GetConsoleScreenBufferInfo, SetConsoleCtrlHandler, SetConsoleMode,
};

use super::{Request, SandboxTemp};

/// How often the console's size is looked at (a console has no resize
/// signal that does not mean reading its input records).
const RESIZE_POLL: Duration = Duration::from_millis(250);

/// The console's input in raw mode (no line editing, no echo, Ctrl-C as a
/// key, VT input) and VT processing on its output, while alive.
#[derive(Debug)]
pub struct RawMode {
    input: (HANDLE, CONSOLE_MODE),
    output: Option<(HANDLE, CONSOLE_MODE)>,
}

// SAFETY: console handles may be used from any thread.
unsafe impl Send for RawMode {}

impl RawMode {
    /// Puts the console in raw mode if stdin is one; `None` if it is not.
    pub fn enable() -> anyhow::Result<Option<RawMode>> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(None);
        }
        let input = stdin.as_raw_handle() as HANDLE;
        let Some(input_mode) = mode(input) else { return Ok(None) };
        let raw = (input_mode & !(ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT | ENABLE_PROCESSED_INPUT))
            | ENABLE_VIRTUAL_TERMINAL_INPUT;
        // SAFETY: a console handle.
        unsafe { SetConsoleMode(input, raw) };
        let output = std::io::stdout().as_raw_handle() as HANDLE;
        let output = mode(output).map(|m| {
            // SAFETY: a console handle.
            unsafe { SetConsoleMode(output, m | ENABLE_VIRTUAL_TERMINAL_PROCESSING) };
            (output, m)
        });
        Ok(Some(RawMode { input: (input, input_mode), output }))
    }

    /// Nothing is read ahead on Windows: the console's input stays queued
    /// for the command.
    pub fn take_typeahead(&mut self) -> Vec<u8> {
        Vec::new()
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        for (handle, mode) in [Some(self.input), self.output].into_iter().flatten() {
            // SAFETY: the console handle and the mode it had.
            unsafe { SetConsoleMode(handle, mode) };
        }
    }
}

fn mode(handle: HANDLE) -> Option<CONSOLE_MODE> {
    let mut mode = 0;
    // SAFETY: an out-pointer; fails for a handle that is not a console.
    (unsafe { GetConsoleMode(handle, &mut mode) } != 0).then_some(mode)
}

/// The size of the console's window, if stdout or stderr is a console.
pub fn current_size() -> Option<Size> {
    [std::io::stdout().as_raw_handle(), std::io::stderr().as_raw_handle()].into_iter().find_map(|handle| {
        // SAFETY: plain data.
        let mut info: CONSOLE_SCREEN_BUFFER_INFO = unsafe { std::mem::zeroed() };
        // SAFETY: an out-pointer; fails for a handle that is not a console.
        if unsafe { GetConsoleScreenBufferInfo(handle as HANDLE, &mut info) } == 0 {
            return None;
        }
        let window = info.srWindow;
        let rows = (window.Bottom - window.Top + 1).max(0) as u16;
        let cols = (window.Right - window.Left + 1).max(0) as u16;
        (rows > 0 && cols > 0).then_some(Size { rows, cols })
    })
}

/// Console control events for the running command, and resizes.
#[derive(Debug)]
pub struct Interrupts {
    ctrl_c: CtrlC,
    ctrl_break: CtrlBreak,
    close: CtrlClose,
    shutdown: CtrlShutdown,
    size: Option<Size>,
}

impl Interrupts {
    /// Starts listening.
    pub fn new() -> std::io::Result<Self> {
        Ok(Interrupts {
            ctrl_c: ctrl_c()?,
            ctrl_break: ctrl_break()?,
            close: ctrl_close()?,
            shutdown: ctrl_shutdown()?,
            size: current_size(),
        })
    }

    /// The next request.
    pub async fn next(&mut self) -> Request {
        let size = self.size;
        let resized = async {
            loop {
                tokio::time::sleep(RESIZE_POLL).await;
                let now = current_size();
                if now != size {
                    return now;
                }
            }
        };
        tokio::select! {
            _ = self.ctrl_c.recv() => Request::Interrupt,
            _ = self.ctrl_break.recv() => Request::Interrupt,
            _ = self.close.recv() => Request::Hangup,
            _ = self.shutdown.recv() => Request::Terminate,
            now = resized => {
                self.size = now;
                Request::Resize
            }
        }
    }
}

/// A directory in the temp dir, removed when dropped.
pub type PrivateDir = tempfile::TempDir;

/// Creates a new directory in the temp dir, named `prefix` and random
/// letters, removed when dropped. (The temp dir is under the user's
/// profile, readable by the user alone.)
pub fn private_dir(prefix: &str) -> std::io::Result<PrivateDir> {
    tempfile::Builder::new().prefix(prefix).tempdir()
}

/// The variables that name the sandbox's temp directory: Windows programs
/// read `TEMP` and `TMP` (the user's own temp directory is no writable
/// root), ported Unix ones `TMPDIR`.
pub const TEMP_VARIABLES: &[&str] = &["TMPDIR", "TEMP", "TMP"];

/// The sandbox's `TMPDIR` under a confining preset: a new private
/// directory of the host's, a writable root removed when dropped (Windows
/// has no private mount of its own to give the sandbox).
pub fn sandbox_temp(preset: cordon::Preset) -> std::io::Result<SandboxTemp> {
    if preset != cordon::Preset::WorkspaceWrite {
        return Ok(SandboxTemp::None);
    }
    private_dir("cordon-tmp-").map(SandboxTemp::Host)
}

/// Creates `path` as a new file. (The private directory it is in was
/// created under the user's profile, readable by the user alone.)
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

/// `%COMSPEC%`, or `cmd.exe`.
pub fn shell() -> String {
    std::env::var("COMSPEC").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "cmd.exe".into())
}

/// Ignores Ctrl-C in cordon: the console delivers it to the command too,
/// and cordon waits for its report.
pub fn ignore_terminal_interrupts() {
    // SAFETY: no handler, ignore: a documented call.
    unsafe { SetConsoleCtrlHandler(None, 1) };
}

/// Completes when cordon is asked to stop: Ctrl-C, Ctrl-Break or the
/// console closing.
pub async fn termination() {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
    let (Ok(mut c), Ok(mut brk), Ok(mut close)) = (ctrl_c(), ctrl_break(), ctrl_close()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = c.recv() => {}
        _ = brk.recv() => {}
        _ = close.recv() => {}
    }
}
