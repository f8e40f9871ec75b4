//! Starting processes on Windows: on pipes, on a new pseudoconsole, or on
//! the runner's own stdio (the request-file bootstrap).
//!
//! Every child is created inside a job object of its own (through the
//! `PROC_THREAD_ATTRIBUTE_JOB_LIST` attribute, so not even its first
//! instruction runs outside it) that kills everything in it when its last
//! handle closes. Only the stdio handles are inherited, named in a
//! `PROC_THREAD_ATTRIBUTE_HANDLE_LIST`.

use std::collections::BTreeMap;
use std::io;
use std::os::windows::ffi::OsStringExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::path::{Path, PathBuf};
use std::ptr::{null, null_mut};
use std::sync::Arc;

use cordon_ipc::{OsBytes, SpawnError, SpawnErrorKind};
use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_BAD_EXE_FORMAT, ERROR_DIRECTORY, ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND,
    HANDLE, HANDLE_FLAG_INHERIT, INVALID_HANDLE_VALUE, SetHandleInformation,
};
use windows_sys::Win32::System::Console::{
    CreatePseudoConsole, GetStdHandle, STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
};
use windows_sys::Win32::System::Pipes::CreatePipe;
use windows_sys::Win32::System::SystemInformation::GetSystemDirectoryW;
use windows_sys::Win32::System::Threading::{
    CREATE_NEW_PROCESS_GROUP, CREATE_UNICODE_ENVIRONMENT, EXTENDED_STARTUPINFO_PRESENT, GetStartupInfoW,
    PROC_THREAD_ATTRIBUTE_HANDLE_LIST, PROC_THREAD_ATTRIBUTE_JOB_LIST, PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE,
    STARTF_USESTDHANDLES, STARTUPINFOEXW, STARTUPINFOW,
};

use super::io::{InputPipe, OutputPipe, PseudoConsole, Terminal};
use super::tree::{Job, ProcessTree};
use crate::sys::Child;
use crate::sys::{SpawnSpec, StdioMode, io_error, spawn_error};
use cordon_sandbox::windows::command_line::{
    CommandLineError, batch_command_line, cmd_string_line, command_line, environment_block, is_batch_file,
    is_cmd_exe,
};
use cordon_sandbox::windows::path::user_form;
use cordon_win::{AttributeList, wide};

/// The `lpDesktop` the runner was started with (NUL-terminated), if it was
/// given one; read once. `CreateProcessW` takes it as a mutable pointer but
/// does not write through it.
fn own_desktop() -> Option<&'static [u16]> {
    static DESKTOP: std::sync::OnceLock<Option<Vec<u16>>> = std::sync::OnceLock::new();
    DESKTOP
        .get_or_init(|| {
            // SAFETY: plain data, filled in by the call.
            let mut startup: STARTUPINFOW = unsafe { std::mem::zeroed() };
            // SAFETY: a valid out-pointer.
            unsafe { GetStartupInfoW(&mut startup) };
            let p = startup.lpDesktop;
            if p.is_null() {
                return None;
            }
            // SAFETY: a NUL-terminated string in the process parameters,
            // alive as long as the process.
            let len = (0..).take_while(|&i| unsafe { *p.add(i) } != 0).count();
            // SAFETY: `len` units before the NUL.
            let name = unsafe { std::slice::from_raw_parts(p, len) };
            (!name.is_empty()).then(|| name.iter().copied().chain([0]).collect())
        })
        .as_deref()
}

/// What only Windows keeps of a started child: its process handle, to
/// wait for it, and its pseudoconsole, closed once it has exited.
#[derive(Debug)]
pub struct PlatformChild {
    pub(super) process: OwnedHandle,
    pub(super) console: Option<Arc<PseudoConsole>>,
}

/// Windows arguments, environment and paths are UTF-16 text: bytes that are
/// not UTF-8 (a `bin` on the wire) have no Windows form.
fn text(what: &str, bytes: &OsBytes) -> Result<String, SpawnError> {
    bytes.to_str().map(str::to_string).ok_or_else(|| {
        spawn_error(
            SpawnErrorKind::InvalidRequest,
            format!("{what} {bytes:?} is not valid UTF-8, which Windows cannot pass"),
            None,
        )
    })
}

/// The path a `Spawn`'s `cwd` names: UTF-8 only on Windows.
pub fn path_of(bytes: &OsBytes) -> Result<PathBuf, SpawnError> {
    text("working directory", bytes).map(PathBuf::from)
}

/// Starts a process. Failures are classified for `SpawnFailed`.
pub fn spawn(spec: &SpawnSpec<'_>) -> Result<Child, SpawnError> {
    let argv = spec.argv.iter().map(|arg| text("argument", arg)).collect::<Result<Vec<_>, _>>()?;
    let env_map = spec
        .env
        .iter()
        .map(|(k, v)| Ok((text("environment name", k)?, text("environment value", v)?)))
        .collect::<Result<BTreeMap<_, _>, SpawnError>>()?;
    let Some(name) = argv.first() else {
        return Err(spawn_error(SpawnErrorKind::InvalidRequest, "argv is empty".into(), None));
    };
    let env: Vec<(String, String)> = env_map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let env_block = environment_block(&env)
        .map_err(|e| spawn_error(SpawnErrorKind::InvalidRequest, format!("env: {e}"), None))?;
    let cwd = spec.working_directory(ERROR_DIRECTORY as i32)?;
    let resolved = resolve_program(name, &env_map, cwd.as_deref())?;
    let invalid =
        |e: CommandLineError| spawn_error(SpawnErrorKind::InvalidRequest, format!("argv: {e}"), None);
    // A batch file runs through cmd.exe, which reads the line by its own
    // rules: the system's cmd.exe, with a line quoted for it.
    let (program, mut line) = if is_batch_file(&resolved.to_string_lossy()) {
        let line = batch_command_line(&user_form(&resolved), &argv[1..]).map_err(invalid)?;
        (system_cmd().map_err(|e| io_error("finding cmd.exe", e))?, line)
    } else if let Some(line) = is_cmd_exe(&resolved.to_string_lossy())
        .then(|| cmd_string_line(&user_form(&resolved), &argv[1..]))
        .flatten()
    {
        // `cmd.exe /c STRING`: the shell string as it is, for cmd.exe's
        // own reading.
        (resolved, line.map_err(invalid)?)
    } else {
        (resolved, command_line(&argv).map_err(invalid)?)
    };

    let job = Job::new().map_err(|e| io_error("creating the job object", e))?;
    let mut wiring = Wiring::new(spec.stdio).map_err(|e| io_error("creating the child's stdio", e))?;

    // Declared before the list, which borrows them until it is dropped.
    let job_list = [job.raw()];
    let inherit: Vec<HANDLE> = wiring.inherited.iter().map(|h| h.as_raw_handle() as HANDLE).collect();
    let console_handle = wiring.console.as_ref().and_then(|c| c.raw());
    let mut attributes =
        AttributeList::new(3).map_err(|e| io_error("InitializeProcThreadAttributeList", e))?;
    attributes
        .set(PROC_THREAD_ATTRIBUTE_JOB_LIST as usize, &job_list)
        .map_err(|e| io_error("job list attribute", e))?;
    if !inherit.is_empty() {
        attributes
            .set(PROC_THREAD_ATTRIBUTE_HANDLE_LIST as usize, &inherit)
            .map_err(|e| io_error("handle list attribute", e))?;
    }
    if let Some(hpcon) = console_handle {
        // The pseudoconsole lives in `wiring` until after the process is
        // created.
        attributes
            .set_value(PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE as usize, hpcon as *mut std::ffi::c_void)
            .map_err(|e| io_error("pseudoconsole attribute", e))?;
    }

    // SAFETY: plain data, zero is a valid initial state.
    let mut startup: STARTUPINFOEXW = unsafe { std::mem::zeroed() };
    startup.StartupInfo.cb = size_of::<STARTUPINFOEXW>() as u32;
    startup.lpAttributeList = attributes.as_ptr();
    if let Some([stdin, stdout, stderr]) = &wiring.std_handles {
        startup.StartupInfo.dwFlags |= STARTF_USESTDHANDLES;
        startup.StartupInfo.hStdInput = *stdin;
        startup.StartupInfo.hStdOutput = *stdout;
        startup.StartupInfo.hStdError = *stderr;
    }
    // The runner's own desktop, named: the private one of its launch.
    // Windows would pass it on to a child given none, but naming it keeps
    // a child from ever landing on another (Wine, given none, uses the
    // station's `Default`).
    if let Some(desktop) = own_desktop() {
        startup.StartupInfo.lpDesktop = desktop.as_ptr().cast_mut();
    }
    let mut flags = EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT;
    if matches!(spec.stdio, StdioMode::Pipes { .. }) {
        // Its own group, so CTRL_BREAK reaches it and not the runner.
        flags |= CREATE_NEW_PROCESS_GROUP;
    }
    let program_w = wide(program.as_os_str());
    let cwd_w = cwd.as_ref().map(|c| wide(c.as_os_str()));
    // SAFETY: `startup` and what it points to (the attribute list, which
    // borrows the job, handle and console values above, and the desktop's
    // name) outlive the call; the strings are NUL-terminated. A runner
    // that is a sandbox user starts each command under the token
    // restricted to this launch's roots; any other runner's commands
    // inherit its own token.
    let created = unsafe {
        cordon_win::create_process(
            cordon_sandbox::command_token(),
            &program_w,
            &mut line,
            !inherit.is_empty(),
            flags,
            &env_block,
            cwd_w.as_deref(),
            &startup.StartupInfo,
        )
    }
    .map_err(|err| classify_create_error(&program, err))?;
    let cordon_win::Created { process, thread, pid } = created;
    drop(thread);
    drop(attributes);
    // The child has its copies; ours would keep its pipes open forever.
    wiring.inherited.clear();
    wiring.console_side.clear();
    let tree = ProcessTree::new(pid, job);
    let wired = (|| -> io::Result<_> {
        let stdin = wiring.stdin.take().map(InputPipe::new).transpose()?;
        let stdout = wiring.stdout.take().map(OutputPipe::new).transpose()?;
        let stderr = wiring.stderr.take().map(OutputPipe::new).transpose()?;
        let pty = match (wiring.console.clone(), wiring.pty_output.take(), wiring.pty_input.take()) {
            (Some(console), Some(output), Some(input)) => {
                Some(Terminal::new(OutputPipe::new(output)?, InputPipe::new(input)?, console))
            }
            _ => None,
        };
        Ok((stdin, stdout, stderr, pty))
    })();
    match wired {
        Ok((stdin, stdout, stderr, pty)) => Ok(Child {
            pid,
            tree,
            stdin,
            stdout,
            stderr,
            pty,
            input_watch: None,
            platform: PlatformChild { process, console: wiring.console.take() },
        }),
        Err(err) => {
            tree.kill();
            Err(io_error("wiring the child's stdio", err))
        }
    }
}

/// The handles of one spawn.
#[derive(Default)]
struct Wiring {
    /// The child's ends, inheritable; closed once it has its copies.
    inherited: Vec<OwnedHandle>,
    /// The raw values for `STARTUPINFO`, pointing into `inherited` (or at
    /// the runner's own stdio).
    std_handles: Option<[HANDLE; 3]>,
    stdin: Option<OwnedHandle>,
    stdout: Option<OwnedHandle>,
    stderr: Option<OwnedHandle>,
    console: Option<Arc<PseudoConsole>>,
    /// The pseudoconsole's ends of its pipes; it holds its own copies.
    console_side: Vec<OwnedHandle>,
    pty_output: Option<OwnedHandle>,
    pty_input: Option<OwnedHandle>,
}

impl Wiring {
    fn new(mode: StdioMode) -> io::Result<Wiring> {
        let mut w = Wiring::default();
        match mode {
            StdioMode::Pipes { stdin } => {
                let child_stdin = if stdin {
                    let (read, write) = pipe(Inherit::Read)?;
                    w.stdin = Some(write);
                    read
                } else {
                    null_device()?
                };
                let (out_read, out_write) = pipe(Inherit::Write)?;
                let (err_read, err_write) = pipe(Inherit::Write)?;
                w.stdout = Some(out_read);
                w.stderr = Some(err_read);
                w.std_handles =
                    Some([&child_stdin, &out_write, &err_write].map(|h| h.as_raw_handle() as HANDLE));
                w.inherited = vec![child_stdin, out_write, err_write];
            }
            StdioMode::Pty(size) => {
                let (in_read, in_write) = pipe(Inherit::Neither)?;
                let (out_read, out_write) = pipe(Inherit::Neither)?;
                let mut hpcon = 0;
                let coord = super::io::console_size(size);
                // SAFETY: valid pipe handles; the console duplicates them.
                let hr = unsafe {
                    CreatePseudoConsole(
                        coord,
                        in_read.as_raw_handle() as HANDLE,
                        out_write.as_raw_handle() as HANDLE,
                        0,
                        &mut hpcon,
                    )
                };
                if hr < 0 {
                    return Err(io::Error::from_raw_os_error(hr));
                }
                w.console = Some(Arc::new(PseudoConsole::new(hpcon)));
                // Windows gives the child its console's handles; without
                // explicitly invalid ones it could end up with the runner's
                // own and write past the pseudoconsole. Wine instead copies
                // the runner's standard handles, which reach the
                // pseudoconsole only when they are console handles (a
                // runner on a terminal): see docs/windows.md.
                if !super::is_wine() {
                    w.std_handles = Some([INVALID_HANDLE_VALUE; 3]);
                }
                w.console_side = vec![in_read, out_write];
                w.pty_output = Some(out_read);
                w.pty_input = Some(in_write);
            }
            StdioMode::Inherit => {
                let mut raw = [null_mut(); 3];
                for (slot, which) in
                    raw.iter_mut().zip([STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE])
                {
                    // SAFETY: no preconditions.
                    let handle = unsafe { GetStdHandle(which) };
                    if !handle.is_null() && handle as isize != -1 {
                        // Duplicated inheritable: the runner's own stay as they are.
                        // SAFETY: the runner's live std handle, borrowed.
                        let borrowed = unsafe { std::os::windows::io::BorrowedHandle::borrow_raw(handle) };
                        let copy = borrowed.try_clone_to_owned()?;
                        set_inheritable(&copy, true)?;
                        *slot = copy.as_raw_handle() as HANDLE;
                        w.inherited.push(copy);
                    }
                }
                w.std_handles = Some(raw);
            }
        }
        Ok(w)
    }
}

/// Which end of a new pipe the child inherits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Inherit {
    Read,
    Write,
    Neither,
}

fn pipe(inherit: Inherit) -> io::Result<(OwnedHandle, OwnedHandle)> {
    let (mut read, mut write) = (null_mut(), null_mut());
    // SAFETY: out-pointers to locals; no security attributes.
    if unsafe { CreatePipe(&mut read, &mut write, null(), 0) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh handles owned by nobody else.
    let (read, write) = unsafe {
        (OwnedHandle::from_raw_handle(read as RawHandle), OwnedHandle::from_raw_handle(write as RawHandle))
    };
    match inherit {
        Inherit::Read => set_inheritable(&read, true)?,
        Inherit::Write => set_inheritable(&write, true)?,
        Inherit::Neither => {}
    }
    Ok((read, write))
}

fn null_device() -> io::Result<OwnedHandle> {
    let file = std::fs::OpenOptions::new().read(true).open("NUL")?;
    let handle = OwnedHandle::from(file);
    set_inheritable(&handle, true)?;
    Ok(handle)
}

fn set_inheritable(handle: &OwnedHandle, inherit: bool) -> io::Result<()> {
    let flag = if inherit { HANDLE_FLAG_INHERIT } else { 0 };
    // SAFETY: a live handle.
    if unsafe { SetHandleInformation(handle.as_raw_handle() as HANDLE, HANDLE_FLAG_INHERIT, flag) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Finds the program the way a shell would: a path is taken relative to the
/// working directory; a bare name is searched in the child's `PATH`, then
/// the system directory; without an extension, `PATHEXT`'s are tried.
fn resolve_program(
    name: &str,
    env: &BTreeMap<String, String>,
    cwd: Option<&Path>,
) -> Result<PathBuf, SpawnError> {
    let lookup = |key: &str| env.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str());
    let pathext = lookup("PATHEXT").unwrap_or(".COM;.EXE;.BAT;.CMD");
    let has_extension = Path::new(name).extension().is_some();
    let with_extensions = |base: PathBuf| -> Option<PathBuf> {
        if base.is_file() {
            return Some(base);
        }
        if has_extension {
            return None;
        }
        pathext
            .split(';')
            .filter(|e| !e.is_empty())
            .map(|ext| {
                let mut p = base.clone().into_os_string();
                p.push(ext);
                PathBuf::from(p)
            })
            .find(|p| p.is_file())
    };
    let not_found = || {
        spawn_error(SpawnErrorKind::NotFound, format!("{name}: not found"), Some(ERROR_FILE_NOT_FOUND as i32))
    };
    if name.contains(['\\', '/', ':']) {
        let path = match cwd {
            Some(cwd) => cwd.join(name),
            None => PathBuf::from(name),
        };
        if path.is_dir() {
            return Err(spawn_error(
                SpawnErrorKind::NotExecutable,
                format!("{name}: is a directory"),
                Some(ERROR_ACCESS_DENIED as i32),
            ));
        }
        return with_extensions(path).ok_or_else(not_found);
    }
    let system = std::env::var_os("SystemRoot").map(|root| PathBuf::from(root).join("System32"));
    let dirs =
        lookup("PATH").into_iter().flat_map(|p| p.split(';')).filter(|d| !d.is_empty()).map(PathBuf::from);
    dirs.chain(system).find_map(|dir| with_extensions(dir.join(name))).ok_or_else(not_found)
}

/// `cmd.exe` in the system directory (`GetSystemDirectoryW`), never one
/// found through `PATH` or `ComSpec`.
fn system_cmd() -> io::Result<PathBuf> {
    let mut buffer = vec![0u16; 260];
    loop {
        // SAFETY: a buffer of the length given.
        let len = unsafe { GetSystemDirectoryW(buffer.as_mut_ptr(), buffer.len() as u32) } as usize;
        if len == 0 {
            return Err(io::Error::last_os_error());
        }
        if len < buffer.len() {
            let dir = PathBuf::from(std::ffi::OsString::from_wide(&buffer[..len]));
            return Ok(dir.join("cmd.exe"));
        }
        buffer.resize(len + 1, 0);
    }
}

fn classify_create_error(program: &Path, err: io::Error) -> SpawnError {
    let code = err.raw_os_error().map(|c| c as u32);
    let kind = match code {
        Some(ERROR_FILE_NOT_FOUND) | Some(ERROR_PATH_NOT_FOUND) => SpawnErrorKind::NotFound,
        Some(ERROR_ACCESS_DENIED) | Some(ERROR_BAD_EXE_FORMAT) => SpawnErrorKind::NotExecutable,
        Some(ERROR_DIRECTORY) => SpawnErrorKind::BadCwd,
        _ => SpawnErrorKind::Os,
    };
    spawn_error(kind, format!("cannot execute {}: {err}", program.display()), err.raw_os_error())
}
