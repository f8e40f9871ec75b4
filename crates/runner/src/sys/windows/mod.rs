//! Windows implementation of the runner's platform layer.

mod bootstrap;
mod io;
mod reap;
mod spawn;
mod tree;

pub use bootstrap::{
    Channel, ChannelReader, ChannelWriter, mark_inherited_fds_close_on_exec, take_secret_env,
};
pub use io::{InputPipe, OutputPipe, Terminal};
pub use reap::{ExitStatus, Reaper};
pub use spawn::{PlatformChild, path_of, spawn};
pub use tree::{KILLED_EXIT_CODE, ProcessTree, kill_all_descendants};

use windows_sys::Win32::Foundation::{CloseHandle, ERROR_ACCESS_DENIED, STILL_ACTIVE};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
};

/// Windows gives no view of which call a process is blocked in that would
/// tell a read of its console or pipe from any other wait: the runner never
/// says a process awaits input there.
pub const DETECTS_AWAITING_INPUT: bool = false;

/// A process's input to watch for a waiting reader: on Windows there is
/// none to watch (see [`DETECTS_AWAITING_INPUT`]), so no value exists.
#[derive(Debug, Clone, Copy)]
pub enum InputWatch {}

impl InputWatch {
    /// Never called: no `InputWatch` exists on Windows.
    pub fn awaiting_input(&self) -> bool {
        match *self {}
    }
}

/// Checks that the parent that started the runner is still there. The
/// parent holds the runner in a kill-on-close job, so its death ends the
/// runner and everything under it without further arrangement.
pub fn startup(expected_parent: Option<u32>) -> anyhow::Result<()> {
    if let Some(parent) = expected_parent
        && !process_alive(parent)
    {
        anyhow::bail!("the parent (pid {parent}) exited before the runner started");
    }
    adopt_own_profile();
    Ok(())
}

/// A runner started as the sandbox user is given no profile variables (its
/// parent's are another user's): it sets its own, from its token's
/// profile, for itself and the commands that inherit its environment. A
/// runner given `USERPROFILE` keeps what it was given.
fn adopt_own_profile() {
    use cordon_sandbox::windows::command_line::profile_variables;
    if std::env::var_os("USERPROFILE").is_some() {
        return;
    }
    let Some(profile) = own_profile_directory() else {
        tracing::warn!("no USERPROFILE and no profile directory: commands get no TEMP");
        return;
    };
    for (name, value) in profile_variables(&profile) {
        if name == "TEMP" {
            let _ = std::fs::create_dir_all(&value);
        }
        // SAFETY: the runner calls startup before it starts any thread,
        // so nothing reads the environment concurrently.
        unsafe { std::env::set_var(name, value) };
    }
}

/// The profile directory of this process's user.
fn own_profile_directory() -> Option<String> {
    use windows_sys::Win32::Foundation::HANDLE;
    use windows_sys::Win32::UI::Shell::GetUserProfileDirectoryW;
    // GetCurrentProcessToken(), an inline function of the headers: the
    // pseudo-handle -4, good for queries (Windows 8 and later).
    let token = -4isize as HANDLE;
    let mut buffer = vec![0u16; 260];
    let mut len = buffer.len() as u32;
    // SAFETY: the pseudo-handle of this process's token, and a buffer of
    // `len` units.
    let ok = unsafe { GetUserProfileDirectoryW(token, buffer.as_mut_ptr(), &mut len) };
    if ok == 0 {
        // Too small: `len` now says how large, terminator included.
        buffer = vec![0u16; len as usize];
        // SAFETY: as above, with the size the first call asked for.
        if unsafe { GetUserProfileDirectoryW(token, buffer.as_mut_ptr(), &mut len) } == 0 {
            return None;
        }
    }
    let end = buffer.iter().position(|&c| c == 0).unwrap_or(buffer.len());
    String::from_utf16(&buffer[..end]).ok().filter(|p| !p.is_empty())
}

/// Whether this is Wine rather than Windows: Wine differs in how a
/// pseudoconsole's child gets its console handles.
pub(crate) use cordon_win::is_wine;

fn process_alive(pid: u32) -> bool {
    // SAFETY: no preconditions; the handle is closed below.
    let handle = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if handle.is_null() {
        // A runner started as the sandbox user may not open its parent's
        // process at all: that says nothing about whether it runs.
        return std::io::Error::last_os_error().raw_os_error() == Some(ERROR_ACCESS_DENIED as i32);
    }
    let mut code = 0u32;
    // SAFETY: a live handle and a valid out pointer.
    let alive = unsafe { GetExitCodeProcess(handle, &mut code) } != 0 && code == STILL_ACTIVE as u32;
    // SAFETY: the handle opened above, closed once.
    unsafe { CloseHandle(handle) };
    alive
}

/// The requests to stop that the runner heeds: its console closing, the
/// user logging off, the machine shutting down.
#[derive(Debug)]
pub struct Termination {
    close: tokio::signal::windows::CtrlClose,
    shutdown: tokio::signal::windows::CtrlShutdown,
    /// Ctrl-C and Ctrl-Break on the console the runner shares with its
    /// commands (its own hidden one, or the user's for the one-shot
    /// bootstrap): typed by the user or sent by any command
    /// (`GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0)` reaches every process
    /// on the console). The commands decide what they mean; the runner,
    /// whose handler takes them, does not die of them.
    _interrupts: (tokio::signal::windows::CtrlC, tokio::signal::windows::CtrlBreak),
}

impl Termination {
    /// Listens for the console closing and the machine shutting down, and
    /// takes the console's interrupts.
    pub fn new() -> std::io::Result<Self> {
        Ok(Termination {
            close: tokio::signal::windows::ctrl_close()?,
            shutdown: tokio::signal::windows::ctrl_shutdown()?,
            _interrupts: (tokio::signal::windows::ctrl_c()?, tokio::signal::windows::ctrl_break()?),
        })
    }

    /// For a runner that shares the user's console with its one command:
    /// the same, Ctrl-C and Ctrl-Break left to the command.
    pub fn foreground() -> std::io::Result<Self> {
        Self::new()
    }

    /// Resolves at the next request to stop.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.close.recv() => {}
            _ = self.shutdown.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_users_profile_directory_is_found_from_the_token() {
        let profile = super::own_profile_directory().expect("a profile directory");
        assert!(std::path::Path::new(&profile).is_dir(), "{profile}");
        if let Some(expected) = std::env::var_os("USERPROFILE") {
            assert!(profile.eq_ignore_ascii_case(&expected.to_string_lossy()), "{profile} vs {expected:?}");
        }
    }
}
