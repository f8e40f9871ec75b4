//! Starting the runner in its context: `CreateProcess(AsUser)W` with an
//! attribute list, or `CreateProcessWithLogonW` as the sandbox user, on its
//! private desktop, inside a kill-on-close job with the policy's limits.

use std::ffi::OsStr;
use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::ptr::{null, null_mut};
use std::sync::Arc;
use std::thread::JoinHandle;

use cordon_sandbox::placeholders::Placeholders;

use cordon_sandbox::windows::command_line::{
    CommandLineError, command_line, environment_block, without_profile_variables,
};
use cordon_sandbox::windows::job::runner_job;
use cordon_win::AttributeList;
use windows_sys::Win32::Foundation::{
    ERROR_LOGON_FAILURE, HANDLE, HANDLE_FLAG_INHERIT, SetHandleInformation,
};
use windows_sys::Win32::System::Console::{GetStdHandle, STD_ERROR_HANDLE};
use windows_sys::Win32::System::JobObjects::AssignProcessToJobObject;
use windows_sys::Win32::System::Pipes::CreatePipe;
use windows_sys::Win32::System::Threading::{
    CREATE_NO_WINDOW, CREATE_SUSPENDED, CREATE_UNICODE_ENVIRONMENT, CreateProcessWithLogonW,
    EXTENDED_STARTUPINFO_PRESENT, LOGON_WITH_PROFILE, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
    PROC_THREAD_ATTRIBUTE_JOB_LIST, PROCESS_INFORMATION, ResumeThread, STARTF_USESTDHANDLES, STARTUPINFOEXW,
    STARTUPINFOW, TerminateProcess,
};

use super::desktop::{self, Desktop};
use super::identity::{Context, Identity, SandboxAccount};
use super::{KILLED, Runner, launch_error, wide};
use crate::sys::RunnerLaunch;
use crate::{Error, Result};

impl Context {
    /// Starts the runner in its context on a new private desktop with
    /// `args` and these standard handles (default: `NUL`, `NUL`, a pipe
    /// to the caller's stderr).
    pub(super) fn start(
        &self,
        spec: &RunnerLaunch<'_>,
        args: &[String],
        stdio: Option<[OwnedHandle; 3]>,
    ) -> Result<Runner> {
        let desktop = desktop::new_name()
            .and_then(|name| desktop::create(&name, &self.pipe_identity))
            .map_err(|e| launch_error("creating the runner's private desktop", e))?;
        match &self.identity {
            Identity::Caller(token) => start(spec, args, token.as_ref(), stdio, desktop)
                .map_err(|e| launch_error(&format!("starting {}", spec.path.display()), e)),
            Identity::SandboxUser(account, _) => {
                desktop::grant_station(&self.pipe_identity)
                    .map_err(|e| launch_error("granting the sandbox user the window station", e))?;
                start_as_user(spec, args, account, stdio, desktop)
            }
        }
    }
}

/// Starts the runner in a new kill-on-close job on `desktop`, with `NUL`
/// for stdin and stdout and a pipe to the parent's stderr for its log.
pub(super) fn start(
    spec: &RunnerLaunch<'_>,
    args: &[String],
    token: Option<&OwnedHandle>,
    stdio: Option<[OwnedHandle; 3]>,
    desktop: Desktop,
) -> io::Result<Runner> {
    let job = cordon_sandbox::job_object(&runner_job(spec.policy))?;
    let (mut line, env) = line_and_environment(spec, args, &spec.env)?;

    let (stdio, log) = match stdio {
        Some(stdio) => (stdio, None),
        None => default_stdio()?,
    };
    let handles = stdio.each_ref().map(|h| h.as_raw_handle() as HANDLE);

    let jobs = [job.as_raw_handle() as HANDLE];
    // Borrows `handles` and `jobs` until after the CreateProcess call.
    let mut list = AttributeList::new(2)?;
    list.set(PROC_THREAD_ATTRIBUTE_HANDLE_LIST as usize, &handles)?;
    list.set(PROC_THREAD_ATTRIBUTE_JOB_LIST as usize, &jobs)?;
    // SAFETY: plain data.
    let mut startup: STARTUPINFOEXW = unsafe { std::mem::zeroed() };
    startup.StartupInfo.cb = size_of::<STARTUPINFOEXW>() as u32;
    startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    startup.StartupInfo.hStdInput = handles[0];
    startup.StartupInfo.hStdOutput = handles[1];
    startup.StartupInfo.hStdError = handles[2];
    // The private desktop; the runner's children inherit it.
    startup.StartupInfo.lpDesktop = desktop.startup_path();
    startup.lpAttributeList = list.as_ptr();
    // A console of its own, hidden: the runner's children share it, so
    // console control events reach them and never the parent's console.
    let flags = EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW;
    let app = wide(spec.path.as_os_str());
    // SAFETY: `startup` and what it points to (the attribute list, which
    // borrows `handles` and `jobs`, and the desktop's name) outlive the
    // call; the strings are NUL-terminated.
    let created = unsafe {
        cordon_win::create_process(token, &app, &mut line, true, flags, &env, None, &startup.StartupInfo)
    }?;
    Ok(Runner {
        pid: created.pid,
        process: Arc::new(created.process),
        job,
        log,
        placeholders: Placeholders::default(),
        _desktop: desktop,
    })
}

/// Starts the runner as the sandbox user with `CreateProcessWithLogonW`,
/// suspended, puts it in a kill-on-close job, then lets it run. (That API
/// takes no attribute list, so neither the job nor the handle list can be
/// given at creation.) A logon failure is retried once with the
/// credentials read again: `cordon setup` may have just renewed them.
fn start_as_user(
    spec: &RunnerLaunch<'_>,
    args: &[String],
    account: &SandboxAccount,
    stdio: Option<[OwnedHandle; 3]>,
    desktop: Desktop,
) -> Result<Runner> {
    let (stdio, mut log) = match stdio {
        Some(stdio) => (stdio, None),
        None => default_stdio().map_err(|e| launch_error("the runner's standard handles", e))?,
    };
    let mut last = None;
    let mut desktop = Some(desktop);
    for _attempt in 0..2 {
        let password = account.password()?;
        match logon_start(spec, args, &account.user, &password, &stdio, &mut desktop) {
            Ok(mut runner) => {
                runner.log = log.take();
                return Ok(runner);
            }
            Err(err) if err.raw_os_error() == Some(ERROR_LOGON_FAILURE as i32) => last = Some(err),
            Err(err) => {
                return Err(Error::Launch(format!("starting the runner as {}: {err}", account.user)));
            }
        }
    }
    Err(Error::Launch(format!(
        "logging on as {} failed twice ({}); run `cordon setup` again",
        account.user,
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

fn logon_start(
    spec: &RunnerLaunch<'_>,
    args: &[String],
    user: &str,
    password: &str,
    stdio: &[OwnedHandle; 3],
    desktop: &mut Option<Desktop>,
) -> io::Result<Runner> {
    let job = cordon_sandbox::job_object(&runner_job(spec.policy))?;
    // The caller's profile paths are not the sandbox user's: the runner
    // sets its own (see the runner's `sys::startup`).
    let (mut line, env) = line_and_environment(spec, args, &without_profile_variables(&spec.env))?;
    let app = wide(spec.path.as_os_str());
    let user_w = wide(OsStr::new(user));
    let domain_w = wide(OsStr::new("."));
    let mut password_w = wide(OsStr::new(password));
    // SAFETY: plain data.
    let mut startup: STARTUPINFOW = unsafe { std::mem::zeroed() };
    startup.cb = size_of::<STARTUPINFOW>() as u32;
    // The logon service duplicates these into the new process.
    startup.dwFlags = STARTF_USESTDHANDLES;
    startup.hStdInput = stdio[0].as_raw_handle() as HANDLE;
    startup.hStdOutput = stdio[1].as_raw_handle() as HANDLE;
    startup.hStdError = stdio[2].as_raw_handle() as HANDLE;
    // Never null: with no desktop named the logon service would put the
    // runner on the caller's own (and grant the sandbox user access to it).
    let desktop_ref = desktop.as_ref().ok_or_else(|| io::Error::other("the private desktop is gone"))?;
    startup.lpDesktop = desktop_ref.startup_path();
    // SAFETY: plain data.
    let mut info: PROCESS_INFORMATION = unsafe { std::mem::zeroed() };
    let flags = CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW;
    // SAFETY: every pointer is valid for the call; the command line is a
    // mutable NUL-terminated buffer.
    let ok = unsafe {
        CreateProcessWithLogonW(
            user_w.as_ptr(),
            domain_w.as_ptr(),
            password_w.as_ptr(),
            LOGON_WITH_PROFILE,
            app.as_ptr(),
            line.as_mut_ptr(),
            flags,
            env.as_ptr().cast(),
            null(),
            &startup,
            &mut info,
        )
    };
    let created = if ok == 0 { Err(io::Error::last_os_error()) } else { Ok(()) };
    // The password does not linger in this process's memory.
    password_w.iter_mut().for_each(|c| *c = 0);
    created?;
    // SAFETY: fresh handles from CreateProcessWithLogonW.
    let (process, thread) = unsafe {
        (
            OwnedHandle::from_raw_handle(info.hProcess as RawHandle),
            OwnedHandle::from_raw_handle(info.hThread as RawHandle),
        )
    };
    // SAFETY: live job and process handles.
    if unsafe { AssignProcessToJobObject(job.as_raw_handle() as HANDLE, process.as_raw_handle() as HANDLE) }
        == 0
    {
        let err = io::Error::last_os_error();
        // SAFETY: the suspended process we created.
        unsafe { TerminateProcess(process.as_raw_handle() as HANDLE, KILLED) };
        return Err(err);
    }
    // SAFETY: the suspended main thread.
    unsafe { ResumeThread(thread.as_raw_handle() as HANDLE) };
    let desktop = desktop.take().ok_or_else(|| io::Error::other("the private desktop is gone"))?;
    Ok(Runner {
        pid: info.dwProcessId,
        process: Arc::new(process),
        job,
        log: None,
        placeholders: Placeholders::default(),
        _desktop: desktop,
    })
}

/// `NUL` for stdin and stdout, and for the runner's log a pipe whose bytes
/// a thread of the parent copies to its own stderr (`NUL` if it has
/// none). Never the caller's stderr handle itself: where that is a
/// console, its holder may read the console's screen buffer (whatever the
/// user's terminal shows) and not only write to it. With the copying
/// thread, if there is one.
fn default_stdio() -> io::Result<([OwnedHandle; 3], Option<JoinHandle<()>>)> {
    let null_in = inheritable(std::fs::OpenOptions::new().read(true).open("NUL")?.into())?;
    let null_out = inheritable(std::fs::OpenOptions::new().write(true).open("NUL")?.into())?;
    // SAFETY: no preconditions.
    let parent_err = unsafe { GetStdHandle(STD_ERROR_HANDLE) };
    if parent_err.is_null() || parent_err as isize == -1 {
        let err = inheritable(std::fs::OpenOptions::new().write(true).open("NUL")?.into())?;
        return Ok(([null_in, null_out, err], None));
    }
    let (mut read, mut write): (HANDLE, HANDLE) = (null_mut(), null_mut());
    // SAFETY: out-pointers; no security attributes (not inheritable).
    if unsafe { CreatePipe(&mut read, &mut write, null(), 0) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh handles from CreatePipe, owned by nobody else.
    let (mut reader, writer) = unsafe {
        (
            std::fs::File::from(OwnedHandle::from_raw_handle(read as RawHandle)),
            OwnedHandle::from_raw_handle(write as RawHandle),
        )
    };
    let copier = std::thread::Builder::new().name("cordon-runner-log".into()).spawn(move || {
        // Ends when the runner and whatever holds a copy of the write end
        // have exited.
        let _ = std::io::copy(&mut reader, &mut std::io::stderr());
    })?;
    Ok(([null_in, null_out, inheritable(writer)?], Some(copier)))
}

/// The runner's command line (its path, then `args`) and environment
/// block, as `CreateProcess*W` take them: `env`, the launch's environment
/// or what of it another user may be given.
fn line_and_environment(
    spec: &RunnerLaunch<'_>,
    args: &[String],
    env: &[(String, String)],
) -> io::Result<(Vec<u16>, Vec<u16>)> {
    let invalid = |e: CommandLineError| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
    let mut argv = vec![spec.path.to_string_lossy().into_owned()];
    argv.extend(args.iter().cloned());
    let line = command_line(&argv).map_err(invalid)?;
    let env = environment_block(env).map_err(invalid)?;
    Ok((line, env))
}

pub(super) fn inheritable(handle: OwnedHandle) -> io::Result<OwnedHandle> {
    // SAFETY: a live handle.
    if unsafe {
        SetHandleInformation(handle.as_raw_handle() as HANDLE, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT)
    } == 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(handle)
}
