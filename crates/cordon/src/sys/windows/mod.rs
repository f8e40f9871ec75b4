//! Starting the runner on Windows: a named pipe created for the runner's
//! identity alone, the runner started under a write-restricted token (or as
//! the sandbox user), on a private desktop, inside a kill-on-close job with
//! every UI limit that the parent holds, and the connecting process checked
//! against the runner's pid.

mod desktop;
mod security;

use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::os::windows::process::ExitStatusExt;
use std::path::PathBuf;
use std::ptr::{null, null_mut};
use std::sync::Arc;
use std::time::Duration;

use cordon_sandbox::windows::command_line::{CommandLineError, command_line, environment_block};
use cordon_sandbox::windows::enforcement::{Identity as Confinement, launch_check};
use cordon_sandbox::windows::job::{JobLimits, runner_job};
use cordon_sandbox::windows::sddl::AceKind;
use cordon_sandbox::windows::sddl::{PipeIdentity, pipe_security};
use cordon_sandbox::windows::setup::{
    CREDENTIALS_FILE, DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER, MARKER_FILE,
};
use cordon_sandbox::windows::token::{AceStep, elevated_launch_aces, restricted_launch_plan};
use tokio::net::windows::named_pipe::{NamedPipeServer, ServerOptions};
use windows_sys::Win32::Foundation::{
    ERROR_LOGON_FAILURE, HANDLE, HANDLE_FLAG_INHERIT, SetHandleInformation, WAIT_OBJECT_0,
};
use windows_sys::Win32::System::Console::{GetStdHandle, STD_ERROR_HANDLE};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOBOBJECT_BASIC_UI_RESTRICTIONS,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectBasicUIRestrictions, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject,
};
use windows_sys::Win32::System::Pipes::GetNamedPipeClientProcessId;
use windows_sys::Win32::System::Threading::{
    CREATE_NO_WINDOW, CREATE_SUSPENDED, CREATE_UNICODE_ENVIRONMENT, CreateProcessAsUserW, CreateProcessW,
    CreateProcessWithLogonW, DeleteProcThreadAttributeList, EXTENDED_STARTUPINFO_PRESENT, GetExitCodeProcess,
    INFINITE, InitializeProcThreadAttributeList, LOGON_WITH_PROFILE, LPPROC_THREAD_ATTRIBUTE_LIST,
    PROC_THREAD_ATTRIBUTE_HANDLE_LIST, PROC_THREAD_ATTRIBUTE_JOB_LIST, PROCESS_INFORMATION, ResumeThread,
    STARTF_USESTDHANDLES, STARTUPINFOEXW, STARTUPINFOW, TerminateProcess, UpdateProcThreadAttribute,
    WaitForSingleObject,
};

use self::desktop::Desktop;
use super::{Launched, RunnerLaunch};
use crate::options::{Transport, WindowsMode};
use crate::{Error, Result};

/// A named pipe, created for the runner's identity alone.
pub(crate) const DEFAULT_TRANSPORT: Transport = Transport::NamedPipe;

/// What of the caller's environment the runner inherits: what a Windows
/// program needs to start (and the log settings).
pub(crate) const RUNNER_ENV_VARS: &[&str] = &[
    "PATH",
    "PATHEXT",
    "SystemRoot",
    "SystemDrive",
    "windir",
    "TEMP",
    "TMP",
    "USERPROFILE",
    "COMSPEC",
    "CORDON_LOG",
    "RUST_BACKTRACE",
];

/// The exit code a runner killed by its parent reports.
const KILLED: u32 = 1;

/// The started runner, in a job that dies with this handle, on a desktop
/// closed with it.
#[derive(Debug)]
pub(crate) struct Runner {
    pid: u32,
    process: Arc<OwnedHandle>,
    job: OwnedHandle,
    // Dropped after the job: the desktop goes once the job's processes
    // have left it and this handle is closed.
    _desktop: Desktop,
}

impl Runner {
    /// The runner's pid.
    pub(crate) fn id(&self) -> Option<u32> {
        Some(self.pid)
    }

    /// Ends the runner and everything in its job.
    pub(crate) fn start_kill(&mut self) -> io::Result<()> {
        // SAFETY: a live job handle.
        if unsafe { TerminateJobObject(self.job.as_raw_handle() as HANDLE, KILLED) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Resolves with the runner's exit code once it has exited (checked
    /// every 50 ms, so that a launch notices a runner that refused to run
    /// without a thread left waiting on it).
    async fn exited(&self) -> u32 {
        let handle = self.process.as_raw_handle() as HANDLE;
        loop {
            // SAFETY: a live process handle; a zero timeout only polls.
            if unsafe { WaitForSingleObject(handle, 0) } == WAIT_OBJECT_0 {
                let mut code = 0u32;
                // SAFETY: as above.
                unsafe { GetExitCodeProcess(handle, &mut code) };
                return code;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the runner to exit.
    pub(crate) async fn wait(&mut self) -> io::Result<std::process::ExitStatus> {
        let process = self.process.clone();
        tokio::task::spawn_blocking(move || {
            let handle = process.as_raw_handle() as HANDLE;
            // SAFETY: a live process handle.
            if unsafe { WaitForSingleObject(handle, INFINITE) } != WAIT_OBJECT_0 {
                return Err(io::Error::last_os_error());
            }
            let mut code = 0u32;
            // SAFETY: as above.
            if unsafe { GetExitCodeProcess(handle, &mut code) } == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(std::process::ExitStatus::from_raw(code))
        })
        .await
        .map_err(io::Error::other)?
    }
}

/// The runner's security context and what the pipes' DACL must grant.
struct Context {
    identity: Identity,
    pipe_identity: PipeIdentity,
}

/// A failed system call on the way to starting the runner.
fn launch_error(step: &str, e: io::Error) -> Error {
    Error::io(step, e)
}

/// Refuses a policy `mode` cannot enforce (unless it says best effort)
/// before anything is started or written: the same check the runner makes
/// of itself once it runs.
fn check_mode(policy: &cordon_sandbox::Policy, mode: WindowsMode) -> Result<()> {
    let (confinement, name) = match mode {
        WindowsMode::RestrictedToken => (Confinement::RestrictedToken, "restricted-token mode"),
        WindowsMode::Elevated => (Confinement::SandboxUser { offline: !policy.network }, "elevated mode"),
    };
    launch_check(policy, &confinement).map(drop).map_err(|e| Error::Launch(format!("{name}: {e}")))
}

/// Decides who the runner runs as, and prepares it (the restricted token,
/// the grants on writable roots, the denies, the sandbox user's SID).
fn context(spec: &RunnerLaunch<'_>) -> Result<Context> {
    let token = security::own_token().map_err(|e| launch_error("opening the process token", e))?;
    let user = security::user_sid(&token).map_err(|e| launch_error("reading the user SID", e))?;
    let logon = security::logon_sid(&token).map_err(|e| launch_error("reading the logon SID", e))?;
    let mode = spec.windows_mode.unwrap_or_else(default_mode);
    let policy = spec.policy;
    if policy.is_confining() {
        check_mode(policy, mode)?;
    }
    let identity = match (mode, policy.is_confining()) {
        (_, false) => Identity::Caller(None),
        (WindowsMode::Elevated, true) => {
            let account = SandboxAccount::for_policy(policy)?;
            let sid = security::account_sid(&account.user)
                .map_err(|e| launch_error(&format!("the sandbox user {}", account.user), e))?;
            let denies = elevated_launch_aces(&policy.filesystem.deny, &sid)
                .map_err(|e| Error::Launch(format!("denied paths: {e}")))?;
            apply_aces(&denies, policy.best_effort)?;
            Identity::SandboxUser(account, sid)
        }
        (WindowsMode::RestrictedToken, true) => {
            let logon = logon.clone().ok_or_else(|| {
                Error::Launch("the process token has no logon SID to restrict the runner with".into())
            })?;
            let fs = &policy.filesystem;
            // The directories: the Unix devices of a written-out policy
            // are no Windows paths (under Wine they would be, on drive Z:).
            let roots: Vec<PathBuf> = fs.writable_dirs().cloned().collect();
            let plan = restricted_launch_plan(&roots, &fs.protected, &fs.deny, &logon)
                .map_err(|e| Error::Launch(format!("restricted token plan: {e}")))?;
            apply_aces(&plan.aces, policy.best_effort)?;
            Identity::Caller(Some(
                security::restricted_token(&token, plan.token.flags, &plan.token.restricting_sids)
                    .map_err(|e| launch_error("creating the restricted token", e))?,
            ))
        }
    };
    let pipe_identity = match (&identity, &logon) {
        (Identity::SandboxUser(_, sid), _) => {
            PipeIdentity::SandboxUser { runner_sid: sid.clone(), owner_sid: user.clone() }
        }
        (Identity::Caller(_), Some(logon_sid)) => {
            PipeIdentity::RestrictedToken { user_sid: user.clone(), logon_sid: logon_sid.clone() }
        }
        (Identity::Caller(_), None) => {
            PipeIdentity::SandboxUser { runner_sid: user.clone(), owner_sid: user.clone() }
        }
    };
    Ok(Context { identity, pipe_identity })
}

/// Adds the plan's ACEs before the runner starts, failing closed: a launch
/// whose grant cannot be applied is refused, and so is one whose deny
/// cannot, unless the policy says best effort (the runner then reports
/// the gap). A protected or denied path that does not exist has no DACL to
/// carry a deny and is skipped (see the limits in docs/windows.md).
fn apply_aces(aces: &[AceStep], best_effort: bool) -> Result<()> {
    for ace in aces {
        match cordon_sandbox::acl::add_ace(&ace.path, &ace.sid, ace.kind) {
            Ok(()) => {}
            Err(e) if ace.kind != AceKind::AllowModify && is_missing(&e) => {
                tracing::debug!(path = %ace.path.display(), "protected or denied path absent: no deny ACE");
            }
            Err(e) if ace.kind != AceKind::AllowModify && best_effort => {
                tracing::warn!(path = %ace.path.display(), %e, "best effort: no deny ACE");
            }
            Err(e) => {
                let what = match ace.kind {
                    AceKind::AllowModify => "granting write on",
                    AceKind::DenyWrite => "denying write on",
                    AceKind::DenyAll => "denying the sandbox user",
                };
                return Err(launch_error(&format!("{what} {}", ace.path.display()), e));
            }
        }
    }
    Ok(())
}

/// `ERROR_FILE_NOT_FOUND` or `ERROR_PATH_NOT_FOUND`.
fn is_missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

impl Context {
    /// A new pipe `name` that only the runner's identity (and the caller,
    /// and SYSTEM) may open: first instance, one instance, local clients
    /// only.
    fn pipe(&self, name: &str, inbound: bool, outbound: bool) -> Result<NamedPipeServer> {
        let sddl =
            pipe_security(&self.pipe_identity).map_err(|e| Error::Launch(format!("pipe security: {e}")))?;
        let mut descriptor = security::SecurityDescriptor::from_sddl(&sddl)
            .map_err(|e| launch_error("pipe security descriptor", e))?;
        // SAFETY: the attributes stay valid for the call.
        unsafe {
            ServerOptions::new()
                .first_pipe_instance(true)
                .reject_remote_clients(true)
                .max_instances(1)
                .access_inbound(inbound)
                .access_outbound(outbound)
                .create_with_security_attributes_raw(name, descriptor.attributes().cast())
        }
        .map_err(|e| launch_error(&format!("creating {name}"), e))
    }

    /// Starts the runner in its context on a new private desktop with
    /// `args` and these standard handles (default: `NUL`, `NUL`, the
    /// caller's stderr).
    fn start(
        &self,
        spec: &RunnerLaunch<'_>,
        args: &[String],
        stdio: Option<[OwnedHandle; 3]>,
    ) -> Result<Runner> {
        let desktop = desktop::new_name()
            .and_then(|name| Desktop::create(&name, &self.pipe_identity))
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

pub(crate) async fn launch(spec: &RunnerLaunch<'_>) -> Result<Launched> {
    if spec.transport != Transport::NamedPipe {
        return Err(Error::Launch("on Windows the channel is a named pipe".into()));
    }
    let context = context(spec)?;
    let pipe_name = format!(r"\\.\pipe\cordon-{}-{}", std::process::id(), random_hex()?);
    let server = context.pipe(&pipe_name, true, true)?;
    let mut args = spec.args.clone();
    args.extend(["--pipe".to_string(), pipe_name.clone()]);
    let mut runner = context.start(spec, &args, None)?;
    let connected = tokio::time::timeout(spec.connect_timeout, async {
        tokio::select! {
            connected = server.connect() => Ok(connected),
            code = runner.exited() => Err(code),
        }
    })
    .await;
    let failure = match connected {
        Err(_) => {
            Some(format!("the runner did not connect to {pipe_name} within {:?}", spec.connect_timeout))
        }
        Ok(Err(code)) => Some(format!(
            "the runner exited with code {code} before it connected to {pipe_name}{}",
            if code == cordon_ipc::oneshot::EXIT_CORDON_FAILED as u32 {
                ": it refused to run (its reason is on stderr)"
            } else {
                ""
            }
        )),
        Ok(Ok(Err(e))) => Some(format!("connecting {pipe_name}: {e}")),
        Ok(Ok(Ok(()))) => match client_pid(&server) {
            Ok(pid) if pid == runner.pid => None,
            Ok(pid) => Some(format!("{pipe_name}: pid {pid} connected, not the runner (pid {})", runner.pid)),
            Err(e) => Some(format!("GetNamedPipeClientProcessId: {e}")),
        },
    };
    if let Some(failure) = failure {
        let _ = runner.start_kill();
        return Err(Error::Launch(failure));
    }
    let (reader, writer) = tokio::io::split(server);
    Ok(Launched { runner, reader: Box::new(reader), writer: Box::new(writer) })
}

/// The request-file bootstrap: starts the runner in its context with
/// `args` (its `--request-file`) on three named pipes created for its
/// identity, pumps the caller's stdin, stdout and stderr through them, and
/// returns the runner's exit code. (A runner that is another user cannot
/// be handed the caller's own console or handles.)
pub(crate) async fn run_request_file(spec: &RunnerLaunch<'_>) -> Result<i32> {
    use tokio::io::AsyncWriteExt;
    let context = context(spec)?;
    let base = format!(r"\\.\pipe\cordon-{}-{}", std::process::id(), random_hex()?);
    let names = ["stdin", "stdout", "stderr"].map(|stream| format!("{base}-{stream}"));
    let mut stdin = context.pipe(&names[0], false, true)?;
    let stdout = context.pipe(&names[1], true, false)?;
    let stderr = context.pipe(&names[2], true, false)?;
    // The runner's ends: synchronous handles, as a program expects its
    // standard handles to be.
    let open = |name: &str, read: bool| -> Result<OwnedHandle> {
        let file = std::fs::OpenOptions::new()
            .read(read)
            .write(!read)
            .open(name)
            .map_err(|e| launch_error(&format!("opening {name}"), e))?;
        inheritable(file.into()).map_err(|e| launch_error("inheritable pipe end", e))
    };
    let ends = [open(&names[0], true)?, open(&names[1], false)?, open(&names[2], false)?];
    // The ends are connected already; this completes the servers' side.
    for (server, name) in [&stdin, &stdout, &stderr].into_iter().zip(&names) {
        server.connect().await.map_err(|e| launch_error(&format!("connecting {name}"), e))?;
    }
    let mut runner = context.start(spec, &spec.args, Some(ends))?;
    let pump_in = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut stdin).await;
        let _ = stdin.shutdown().await;
    });
    let pump_out = tokio::spawn(async move {
        let mut stdout = stdout;
        let _ = tokio::io::copy(&mut stdout, &mut tokio::io::stdout()).await;
    });
    let pump_err = tokio::spawn(async move {
        let mut stderr = stderr;
        let _ = tokio::io::copy(&mut stderr, &mut tokio::io::stderr()).await;
    });
    let status = runner.wait().await.map_err(|e| Error::io("waiting for the runner", e))?;
    // Everything the command wrote is in the pipes once the runner is gone.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = pump_out.await;
        let _ = pump_err.await;
    })
    .await;
    pump_in.abort();
    Ok(status.code().unwrap_or(cordon_ipc::oneshot::EXIT_CORDON_FAILED))
}

/// Who the runner runs as.
enum Identity {
    /// The caller, under this restricted token (or its own, for a policy
    /// that confines nothing).
    Caller(Option<OwnedHandle>),
    /// The sandbox user of `cordon setup`, with its SID.
    SandboxUser(SandboxAccount, String),
}

/// Elevated mode once `cordon setup` has stored the sandbox users'
/// credentials, restricted-token mode until then.
fn default_mode() -> WindowsMode {
    match cordon_setup::default_state_dir() {
        Ok(dir) if dir.join(MARKER_FILE).is_file() && dir.join(CREDENTIALS_FILE).is_file() => {
            WindowsMode::Elevated
        }
        _ => WindowsMode::RestrictedToken,
    }
}

/// A sandbox user and where its credentials are.
struct SandboxAccount {
    user: String,
    state_dir: PathBuf,
}

impl SandboxAccount {
    /// The offline user for a policy without network, the online one
    /// otherwise.
    fn for_policy(policy: &cordon_sandbox::Policy) -> Result<Self> {
        let state_dir =
            cordon_setup::default_state_dir().map_err(|e| Error::Launch(format!("elevated mode: {e}")))?;
        if !state_dir.join(CREDENTIALS_FILE).is_file() {
            return Err(Error::Launch(format!(
                "elevated mode needs `cordon setup` first: no sandbox user credentials in {}",
                state_dir.display()
            )));
        }
        let user = if policy.network { DEFAULT_ONLINE_USER } else { DEFAULT_OFFLINE_USER };
        Ok(SandboxAccount { user: user.to_string(), state_dir })
    }

    fn password(&self) -> Result<String> {
        let credentials = cordon_setup::credentials::load(&self.state_dir)
            .map_err(|e| Error::Launch(format!("elevated mode needs `cordon setup` (credentials: {e})")))?;
        credentials
            .password(&self.user)
            .map_err(|e| Error::Launch(format!("credentials of {}: {e}", self.user)))
    }
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
    let stdio = match stdio {
        Some(stdio) => stdio,
        None => default_stdio().map_err(|e| launch_error("the runner's standard handles", e))?,
    };
    let mut last = None;
    let mut desktop = Some(desktop);
    for _attempt in 0..2 {
        let password = account.password()?;
        match logon_start(spec, args, &account.user, &password, &stdio, &mut desktop) {
            Ok(runner) => return Ok(runner),
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
    let job = new_job(&runner_job(spec.policy))?;
    let (mut line, env) = line_and_environment(spec, args)?;
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
    Ok(Runner { pid: info.dwProcessId, process: Arc::new(process), job, _desktop: desktop })
}

fn client_pid(server: &NamedPipeServer) -> io::Result<u32> {
    let mut pid = 0u32;
    // SAFETY: a live, connected pipe handle.
    if unsafe { GetNamedPipeClientProcessId(server.as_raw_handle() as HANDLE, &mut pid) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pid)
}

fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Launch(format!("no randomness for the pipe name: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Starts the runner in a new kill-on-close job on `desktop`, with `NUL`
/// for stdin and stdout and the parent's stderr for its log.
fn start(
    spec: &RunnerLaunch<'_>,
    args: &[String],
    token: Option<&OwnedHandle>,
    stdio: Option<[OwnedHandle; 3]>,
    desktop: Desktop,
) -> io::Result<Runner> {
    let job = new_job(&runner_job(spec.policy))?;
    let (mut line, env) = line_and_environment(spec, args)?;

    let stdio = match stdio {
        Some(stdio) => stdio,
        None => default_stdio()?,
    };
    let handles = stdio.each_ref().map(|h| h.as_raw_handle() as HANDLE);

    let mut size = 0usize;
    // SAFETY: the documented size query.
    unsafe { InitializeProcThreadAttributeList(null_mut(), 2, 0, &mut size) };
    let mut storage = vec![0usize; size.div_ceil(size_of::<usize>())];
    let list: LPPROC_THREAD_ATTRIBUTE_LIST = storage.as_mut_ptr().cast();
    // SAFETY: storage of the size asked for.
    if unsafe { InitializeProcThreadAttributeList(list, 2, 0, &mut size) } == 0 {
        return Err(io::Error::last_os_error());
    }
    struct ListGuard(LPPROC_THREAD_ATTRIBUTE_LIST);
    impl Drop for ListGuard {
        fn drop(&mut self) {
            // SAFETY: an initialised list, deleted once.
            unsafe { DeleteProcThreadAttributeList(self.0) };
        }
    }
    let _guard = ListGuard(list);
    let jobs = [job.as_raw_handle() as HANDLE];
    // SAFETY: `handles` and `jobs` outlive the CreateProcess call below.
    unsafe {
        if UpdateProcThreadAttribute(
            list,
            0,
            PROC_THREAD_ATTRIBUTE_HANDLE_LIST as usize,
            handles.as_ptr().cast(),
            size_of_val(&handles),
            null_mut(),
            null(),
        ) == 0
            || UpdateProcThreadAttribute(
                list,
                0,
                PROC_THREAD_ATTRIBUTE_JOB_LIST as usize,
                jobs.as_ptr().cast(),
                size_of_val(&jobs),
                null_mut(),
                null(),
            ) == 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: plain data.
    let mut startup: STARTUPINFOEXW = unsafe { std::mem::zeroed() };
    startup.StartupInfo.cb = size_of::<STARTUPINFOEXW>() as u32;
    startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    startup.StartupInfo.hStdInput = handles[0];
    startup.StartupInfo.hStdOutput = handles[1];
    startup.StartupInfo.hStdError = handles[2];
    // The private desktop; the runner's children inherit it.
    startup.StartupInfo.lpDesktop = desktop.startup_path();
    startup.lpAttributeList = list;
    // A console of its own, hidden: the runner's children share it, so
    // console control events reach them and never the parent's console.
    let flags = EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW;
    let app = wide(spec.path.as_os_str());
    // SAFETY: plain data.
    let mut info: PROCESS_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: every pointer is valid for the call; the command line is a
    // mutable NUL-terminated buffer.
    let ok = unsafe {
        match token {
            Some(token) => CreateProcessAsUserW(
                token.as_raw_handle() as HANDLE,
                app.as_ptr(),
                line.as_mut_ptr(),
                null(),
                null(),
                1,
                flags,
                env.as_ptr().cast(),
                null(),
                &startup.StartupInfo,
                &mut info,
            ),
            None => CreateProcessW(
                app.as_ptr(),
                line.as_mut_ptr(),
                null(),
                null(),
                1,
                flags,
                env.as_ptr().cast(),
                null(),
                &startup.StartupInfo,
                &mut info,
            ),
        }
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh handles from CreateProcess, owned by nobody else.
    let (process, _thread) = unsafe {
        (
            OwnedHandle::from_raw_handle(info.hProcess as RawHandle),
            OwnedHandle::from_raw_handle(info.hThread as RawHandle),
        )
    };
    Ok(Runner { pid: info.dwProcessId, process: Arc::new(process), job, _desktop: desktop })
}

/// `NUL` for stdin and stdout, the caller's stderr for the runner's log.
fn default_stdio() -> io::Result<[OwnedHandle; 3]> {
    let null_in = inheritable(std::fs::OpenOptions::new().read(true).open("NUL")?.into())?;
    let null_out = inheritable(std::fs::OpenOptions::new().write(true).open("NUL")?.into())?;
    // SAFETY: no preconditions.
    let parent_err = unsafe { GetStdHandle(STD_ERROR_HANDLE) };
    let err = if parent_err.is_null() || parent_err as isize == -1 {
        inheritable(std::fs::OpenOptions::new().write(true).open("NUL")?.into())?
    } else {
        // SAFETY: the process's live stderr handle, borrowed to copy it.
        let borrowed = unsafe { std::os::windows::io::BorrowedHandle::borrow_raw(parent_err) };
        inheritable(borrowed.try_clone_to_owned()?)?
    };
    Ok([null_in, null_out, err])
}

/// The runner's command line (its path, then `args`) and environment
/// block, as `CreateProcess*W` take them.
fn line_and_environment(spec: &RunnerLaunch<'_>, args: &[String]) -> io::Result<(Vec<u16>, Vec<u16>)> {
    let invalid = |e: CommandLineError| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
    let mut argv = vec![spec.path.to_string_lossy().into_owned()];
    argv.extend(args.iter().cloned());
    let line = command_line(&argv).map_err(invalid)?;
    let env = environment_block(&spec.env).map_err(invalid)?;
    Ok((line, env))
}

/// The runner's job with `limits` ([`runner_job`]: kill on close, no
/// breakaway, every UI limit, the policy's process and memory limits).
/// A limit that cannot be set fails the launch.
fn new_job(limits: &JobLimits) -> io::Result<OwnedHandle> {
    // SAFETY: no name, default security.
    let raw = unsafe { CreateJobObjectW(null(), null()) };
    if raw.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh handle owned by nobody else.
    let job = unsafe { OwnedHandle::from_raw_handle(raw as RawHandle) };
    // SAFETY: plain data.
    let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    info.BasicLimitInformation.LimitFlags = limits.flags;
    info.BasicLimitInformation.ActiveProcessLimit = limits.active_processes;
    info.BasicLimitInformation.PerJobUserTimeLimit = limits.job_user_time;
    info.JobMemoryLimit = usize::try_from(limits.job_memory).unwrap_or(usize::MAX);
    info.ProcessMemoryLimit = usize::try_from(limits.process_memory).unwrap_or(usize::MAX);
    // SAFETY: a live job and a correctly sized structure.
    let ok = unsafe {
        SetInformationJobObject(
            job.as_raw_handle() as HANDLE,
            JobObjectExtendedLimitInformation,
            (&raw const info).cast(),
            size_of_val(&info) as u32,
        )
    };
    if ok == 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("the job's limits: {err}")));
    }
    let ui = JOBOBJECT_BASIC_UI_RESTRICTIONS { UIRestrictionsClass: limits.ui };
    // SAFETY: a live job and a correctly sized structure.
    let ok = unsafe {
        SetInformationJobObject(
            job.as_raw_handle() as HANDLE,
            JobObjectBasicUIRestrictions,
            (&raw const ui).cast(),
            size_of_val(&ui) as u32,
        )
    };
    if ok == 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("the job's UI limits: {err}")));
    }
    Ok(job)
}

fn inheritable(handle: OwnedHandle) -> io::Result<OwnedHandle> {
    // SAFETY: a live handle.
    if unsafe {
        SetHandleInformation(handle.as_raw_handle() as HANDLE, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT)
    } == 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(handle)
}

fn wide(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain([0]).collect()
}
