//! The session table and the four calls.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cordon::{Command, Sandbox, Signal, Size};
use regex::Regex;
use tokio::sync::oneshot;

use crate::error::ExecError;
use crate::session::{Control, Session};
use crate::sys;
use crate::types::*;

/// The interrupt character, which `write_stdin` turns into an interrupt in
/// both modes.
pub const INTERRUPT: &str = "\u{3}";

/// Ids are drawn from this range.
const IDS: std::ops::RangeInclusive<u32> = 1000..=99_999;

/// How long `kill_session` and shutdown wait for a tree to be reported dead.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Told, during a wait, how many bytes of output arrived so far.
pub type Progress<'a> = &'a (dyn Fn(u64) + Send + Sync);

/// Sessions of commands in one sandbox. Dropping it kills every session's
/// process tree (and, with the sandbox, the runner).
pub struct ExecSessions {
    sandbox: Sandbox,
    config: ExecConfig,
    /// The runner tells when a process waits for input (Linux); without
    /// that, output followed by quiet ends a wait as `idle` instead.
    detects_input: bool,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    live: HashMap<u32, Arc<Session>>,
    used: HashSet<u32>,
}

impl std::fmt::Debug for ExecSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecSessions").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The non-interactive environment every session starts with: nothing may
/// wait on a pager, an editor or a credential prompt.
pub fn non_interactive_env(tty: bool) -> BTreeMap<String, String> {
    let term = if tty { "xterm-256color" } else { "dumb" };
    [
        ("NO_COLOR", "1"),
        ("TERM", term),
        ("PAGER", "cat"),
        ("GIT_PAGER", "cat"),
        ("MANPAGER", "cat"),
        ("GIT_EDITOR", "true"),
        ("EDITOR", "true"),
        ("GIT_TERMINAL_PROMPT", "0"),
        ("GCM_INTERACTIVE", "never"),
        ("DEBIAN_FRONTEND", "noninteractive"),
        ("LANG", "C.UTF-8"),
        ("LC_ALL", "C.UTF-8"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `requested` or `default`, clamped to `min..=max`.
fn clamp_yield(requested: Option<u64>, default: u64, max: u64) -> Duration {
    Duration::from_millis(requested.unwrap_or(default).clamp(MIN_YIELD_MS, max))
}

/// How long output must have been quiet before the session is asked
/// whether it waits for input, and how often it is asked again.
const INPUT_QUIET: Duration = Duration::from_millis(100);

/// Where the runner cannot tell whether a process waits for input: how
/// long output must have been quiet for the call to return as `idle`
/// (unless the caller set an `idle_ms` of its own). Long enough that a
/// command pausing between lines of work is not cut short.
const QUIET_WITHOUT_INPUT_DETECTION: Duration = Duration::from_secs(1);

struct Wait {
    deadline: Instant,
    regex: Option<Regex>,
    idle: Option<Duration>,
    max_tokens: usize,
    screen: bool,
    /// Return when the process waits for input (not while killing it).
    on_input: bool,
}

fn compile(until: Option<&Until>) -> Result<(Option<Regex>, Option<Duration>), ExecError> {
    let Some(until) = until else { return Ok((None, None)) };
    let regex = match &until.regex {
        Some(pattern) => Some(Regex::new(pattern).map_err(|e| {
            ExecError::InvalidRequest(format!("until.regex is not a valid regular expression: {e}"))
        })?),
        None => None,
    };
    Ok((regex, until.idle_ms.map(Duration::from_millis)))
}

impl ExecSessions {
    /// Sessions in `sandbox`, under `config`.
    pub fn new(sandbox: Sandbox, config: ExecConfig) -> Self {
        let detects_input = sandbox.info().features.iter().any(|f| f == "awaiting-input");
        ExecSessions { sandbox, config, detects_input, table: Mutex::new(Table::default()) }
    }

    /// The sandbox every session runs in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The configuration.
    pub fn config(&self) -> &ExecConfig {
        &self.config
    }

    /// Starts `request.cmd` in a new session and waits for its first answer.
    pub async fn exec_command(&self, request: ExecRequest) -> Result<ExecReply, ExecError> {
        self.exec_command_with(request, None).await
    }

    /// [`ExecSessions::exec_command`], telling `progress` as output arrives.
    pub async fn exec_command_with(
        &self,
        request: ExecRequest,
        progress: Option<Progress<'_>>,
    ) -> Result<ExecReply, ExecError> {
        let started = Instant::now();
        if request.cmd.trim().is_empty() {
            return Err(ExecError::InvalidRequest("cmd is empty: give the shell command to run".into()));
        }
        let (regex, idle) = compile(request.until.as_ref())?;
        let wait = Wait {
            deadline: started + clamp_yield(request.yield_time_ms, EXEC_YIELD_DEFAULT_MS, MAX_YIELD_MS),
            regex,
            idle,
            max_tokens: request.max_output_tokens.unwrap_or(MAX_OUTPUT_TOKENS_DEFAULT),
            screen: false,
            on_input: true,
        };
        let workdir = self.workdir(request.workdir.as_deref())?;
        let tty = request.tty.unwrap_or(false).then_some(self.config.tty_size);
        let mut env = non_interactive_env(tty.is_some());
        env.extend(self.config.env.clone());
        let login = request.login.unwrap_or(sys::LOGIN_DEFAULT);
        let environment = {
            let mut seen = self.sandbox.policy().env.apply(&cordon::utf8_environment(), &BTreeMap::new());
            seen.extend(env.clone());
            seen
        };
        let argv = sys::shell_argv(request.shell.as_deref(), login, &request.cmd, &environment);
        let mut command = Command::new(&argv[0]).args(&argv[1..]).cwd(&workdir);
        for (key, value) in env {
            command = command.env(key, value);
        }
        if let Some(timeout) = self.config.command_timeout {
            command = command.timeout(timeout);
        }
        command = match tty {
            Some(size) => command.tty(size),
            None => command.stdin(true),
        };
        let (id, pruned) = self.reserve()?;
        drop(pruned);
        let process = match self.sandbox.spawn(command).await {
            Ok(process) => process,
            Err(err) => {
                return Err(ExecError::from_client(err));
            }
        };
        let session = Session::start(id, request.cmd.clone(), tty, self.config.buffer_bytes, process);
        self.table.lock().expect("session table").live.insert(id, session.clone());
        tracing::debug!(id, cmd = %request.cmd, "session started");
        Ok(self.wait(&session, started, &wait, progress).await)
    }

    /// Types into a session (or polls it) and waits for its answer.
    pub async fn write_stdin(&self, request: WriteRequest) -> Result<ExecReply, ExecError> {
        self.write_stdin_with(request, None).await
    }

    /// [`ExecSessions::write_stdin`], telling `progress` as output arrives.
    pub async fn write_stdin_with(
        &self,
        request: WriteRequest,
        progress: Option<Progress<'_>>,
    ) -> Result<ExecReply, ExecError> {
        let started = Instant::now();
        let session = self.session(request.session_id)?;
        let (regex, idle) = compile(request.until.as_ref())?;
        let polling = request.chars.is_empty();
        let yield_time = if polling {
            let max = if request.until.is_some() { MAX_UNTIL_POLL_MS } else { MAX_YIELD_MS };
            clamp_yield(request.yield_time_ms, POLL_YIELD_DEFAULT_MS, max)
        } else {
            clamp_yield(request.yield_time_ms, WRITE_YIELD_DEFAULT_MS, MAX_YIELD_MS)
        };
        if request.screen && !session.tty {
            return Err(ExecError::InvalidRequest(format!(
                "session {} runs on pipes and has no screen: call write_stdin without screen",
                session.id
            )));
        }
        let wait = Wait {
            deadline: started + yield_time,
            regex,
            idle,
            max_tokens: request.max_output_tokens.unwrap_or(MAX_OUTPUT_TOKENS_DEFAULT),
            screen: request.screen,
            on_input: true,
        };
        session.state().touch();
        if !polling {
            session.state().input_sent();
        }
        let finished = session.state().finished();
        if !finished {
            self.deliver(&session, &request).await?;
        } else if !polling || request.close_stdin {
            tracing::debug!(id = session.id, "input for a session that has exited is dropped");
        }
        Ok(self.wait(&session, started, &wait, progress).await)
    }

    async fn deliver(&self, session: &Session, request: &WriteRequest) -> Result<(), ExecError> {
        use std::sync::atomic::Ordering;
        if request.chars == INTERRUPT {
            if session.tty {
                // The line discipline turns ^C into SIGINT for the
                // foreground group, as at a real terminal.
                let _ = session.stdin.write(INTERRUPT).await;
            } else {
                session.control(Control::Signal(Signal::Interrupt));
            }
        } else if !request.chars.is_empty() {
            if session.stdin_closed.load(Ordering::SeqCst) {
                return Err(ExecError::InvalidRequest(format!(
                    "the input of session {} is closed (close_stdin was sent): it takes no more \
                     characters; poll with empty chars, or kill_session",
                    session.id
                )));
            }
            if let Err(err) = session.stdin.write(request.chars.as_bytes()).await {
                self.input_error(session, err)?;
            }
        }
        if request.close_stdin && !session.stdin_closed.swap(!session.tty, Ordering::SeqCst) {
            if let Err(err) = session.stdin.close().await {
                self.input_error(session, err)?;
            }
        }
        Ok(())
    }

    /// Input that could not be written because the process exited is not an
    /// error: the reply says it exited.
    fn input_error(&self, session: &Session, err: cordon::Error) -> Result<(), ExecError> {
        match err {
            cordon::Error::Exited => Ok(()),
            cordon::Error::RunnerGone(_) => Err(ExecError::SandboxGone(err)),
            other => {
                tracing::debug!(id = session.id, error = %other, "input not delivered");
                Ok(())
            }
        }
    }

    /// Every live session, most recently used first.
    pub fn list_sessions(&self) -> Vec<SessionInfo> {
        let sessions: Vec<Arc<Session>> =
            self.table.lock().expect("session table").live.values().cloned().collect();
        let mut infos: Vec<SessionInfo> = sessions.iter().map(|s| s.info()).collect();
        infos.sort_by(|a, b| {
            b.last_used_unix_ms.cmp(&a.last_used_unix_ms).then(b.session_id.cmp(&a.session_id))
        });
        infos
    }

    /// Kills a session's whole process tree and returns its final reply.
    pub async fn kill_session(&self, session_id: u32) -> Result<ExecReply, ExecError> {
        let started = Instant::now();
        let session = self.session(session_id)?;
        session.control(Control::Terminate);
        let wait = Wait {
            deadline: started + KILL_WAIT,
            regex: None,
            idle: None,
            max_tokens: MAX_OUTPUT_TOKENS_DEFAULT,
            screen: false,
            on_input: false,
        };
        let reply = self.wait(&session, started, &wait, None).await;
        // Gone from the table even if the runner was slow to report.
        self.table.lock().expect("session table").live.remove(&session_id);
        Ok(reply)
    }

    /// Resizes a tty session's terminal.
    pub async fn resize(&self, session_id: u32, rows: u16, cols: u16) -> Result<(), ExecError> {
        let session = self.session(session_id)?;
        if !session.tty {
            return Err(ExecError::InvalidRequest(format!(
                "session {session_id} runs on pipes: only tty sessions resize"
            )));
        }
        if rows == 0 || cols == 0 {
            return Err(ExecError::InvalidRequest("rows and cols must be at least 1".into()));
        }
        let (reply, answer) = oneshot::channel();
        if !session.control(Control::Resize(Size { rows, cols }, reply)) {
            return Err(ExecError::InvalidRequest(format!("session {session_id} has exited")));
        }
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(cordon::Error::Exited)) | Err(_) => {
                Err(ExecError::InvalidRequest(format!("session {session_id} has exited")))
            }
            Ok(Err(err)) => Err(ExecError::from_client(err)),
        }
    }

    /// Kills every session's tree and waits (a few seconds at most) until
    /// each is reported dead.
    pub async fn shutdown(&self) {
        let sessions: Vec<Arc<Session>> =
            self.table.lock().expect("session table").live.drain().map(|(_, s)| s).collect();
        for session in &sessions {
            session.control(Control::Terminate);
        }
        let deadline = tokio::time::Instant::now() + KILL_WAIT;
        for session in sessions {
            loop {
                let changed = session.shared.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if session.state().finished() {
                    break;
                }
                if tokio::time::timeout_at(deadline, changed).await.is_err() {
                    break;
                }
            }
        }
    }

    fn session(&self, id: u32) -> Result<Arc<Session>, ExecError> {
        let table = self.table.lock().expect("session table");
        table.live.get(&id).cloned().ok_or_else(|| {
            let mut live: Vec<u32> = table.live.keys().copied().collect();
            live.sort_unstable();
            ExecError::UnknownSession { id, live }
        })
    }

    /// A working directory: the configured one, or `requested` relative to
    /// it, if it exists and the policy lets commands read it.
    fn workdir(&self, requested: Option<&Path>) -> Result<PathBuf, ExecError> {
        let dir = match requested {
            Some(dir) => self.config.cwd.join(dir),
            None => return Ok(self.config.cwd.clone()),
        };
        let real = std::fs::canonicalize(&dir).map_err(|e| {
            ExecError::InvalidRequest(format!("workdir {}: {e}; give an existing directory", dir.display()))
        })?;
        if !real.is_dir() {
            return Err(ExecError::InvalidRequest(format!("workdir {} is not a directory", dir.display())));
        }
        let policy = self.sandbox.policy();
        let fs = &policy.filesystem;
        let within = |roots: &[PathBuf]| {
            roots
                .iter()
                .any(|root| real.starts_with(std::fs::canonicalize(root).unwrap_or_else(|_| root.clone())))
        };
        let readable = !policy.is_confining() || fs.read_everything || within(&fs.read) || within(&fs.write);
        if within(&fs.deny) || !readable {
            return Err(ExecError::InvalidRequest(format!(
                "workdir {} is outside what the sandbox may read; use a directory inside the workspace",
                dir.display()
            )));
        }
        Ok(sys::working_directory(real))
    }

    /// A fresh id and a free slot, pruning a session if the table is full.
    /// Returns the pruned sessions, whose trees die when they are dropped.
    fn reserve(&self) -> Result<(u32, Vec<Arc<Session>>), ExecError> {
        let mut table = self.table.lock().expect("session table");
        let mut pruned = Vec::new();
        while table.live.len() >= self.config.max_sessions.max(1) {
            let mut by_use: Vec<(Instant, bool, u32)> = table
                .live
                .values()
                .map(|s| {
                    let state = s.state();
                    (state.last_used, state.finished(), s.id)
                })
                .collect();
            // Most recent first; the first `keep` are never pruned.
            by_use.sort_by_key(|entry| std::cmp::Reverse(entry.0));
            let keep = self.config.keep_recent.min(by_use.len().saturating_sub(1));
            let candidates = &by_use[keep..];
            let victim = candidates
                .iter()
                .rev()
                .find(|(_, finished, _)| *finished)
                .or_else(|| candidates.last())
                .map(|(_, _, id)| *id)
                .expect("a full table has a candidate");
            tracing::debug!(id = victim, "pruning session");
            if let Some(session) = table.live.remove(&victim) {
                session.control(Control::Terminate);
                pruned.push(session);
            }
        }
        let free = (*IDS.end() - *IDS.start() + 1) as usize - table.used.len();
        if free == 0 {
            return Err(ExecError::InvalidRequest("every session id of this server has been used".into()));
        }
        let id = loop {
            let mut bytes = [0u8; 4];
            getrandom::fill(&mut bytes)
                .map_err(|e| ExecError::InvalidRequest(format!("no randomness for a session id: {e}")))?;
            let id = IDS.start() + u32::from_le_bytes(bytes) % (IDS.end() - IDS.start() + 1);
            if !table.used.contains(&id) {
                break id;
            }
        };
        table.used.insert(id);
        Ok((id, pruned))
    }

    /// Waits for `session`'s answer and builds the reply.
    async fn wait(
        &self,
        session: &Session,
        started: Instant,
        wait: &Wait,
        progress: Option<Progress<'_>>,
    ) -> ExecReply {
        let bytes_at_start = session.state().raw_bytes;
        let mut told = bytes_at_start;
        let mut next_input_check = started + INPUT_QUIET;
        let because = loop {
            let changed = session.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = Instant::now();
            let mut wake = wait.deadline;
            let mut ask_input = false;
            {
                let state = session.state();
                if state.finished() {
                    break ReturnedBecause::Exited;
                }
                if state.raw_bytes != told {
                    told = state.raw_bytes;
                    if let Some(progress) = progress {
                        progress(told - bytes_at_start);
                    }
                }
                if let Some(regex) = &wait.regex {
                    if state.raw_bytes != bytes_at_start && regex.is_match(&state.peek().text) {
                        break ReturnedBecause::Matched;
                    }
                }
                if let (Some(idle), Some(last)) = (wait.idle, state.last_output) {
                    if state.raw_bytes != bytes_at_start {
                        if last + idle <= now {
                            break ReturnedBecause::Idle;
                        }
                        wake = wake.min(last + idle);
                    }
                }
                if wait.on_input {
                    let quiet_from =
                        state.last_output.map_or(started, |last| last.max(started)) + INPUT_QUIET;
                    next_input_check = next_input_check.max(quiet_from);
                    if self.detects_input {
                        ask_input = next_input_check <= now;
                        wake = wake.min(if ask_input { now + INPUT_QUIET } else { next_input_check });
                    } else if wait.idle.is_none()
                        && let Some(last) = state.last_output.filter(|_| state.raw_bytes != bytes_at_start)
                    {
                        // No way to see a reader waiting: output that has
                        // gone quiet is the best sign there is, and it is
                        // called what it is.
                        let quiet_from = last + QUIET_WITHOUT_INPUT_DETECTION;
                        if quiet_from <= now {
                            break ReturnedBecause::Idle;
                        }
                        wake = wake.min(quiet_from);
                    }
                }
            }
            if ask_input {
                next_input_check = now + INPUT_QUIET;
                if session.awaiting_input().await {
                    // Output may have come while the runner answered.
                    if session.state().raw_bytes == told {
                        break ReturnedBecause::AwaitingInput;
                    }
                    continue;
                }
            }
            if now >= wait.deadline {
                break ReturnedBecause::Deadline;
            }
            let _ = tokio::time::timeout_at(wake.into(), changed).await;
        };
        self.reply(session, started, because, wait)
    }

    fn reply(&self, session: &Session, started: Instant, because: ReturnedBecause, wait: &Wait) -> ExecReply {
        let mut state = session.state();
        state.touch();
        let delta = state.peek();
        state.take(&delta);
        let (output, original_token_count, truncated) = match (wait.screen, state.screen()) {
            (true, Some(screen)) => {
                let (text, cut) =
                    crate::truncate::truncate_middle(&screen, wait.max_tokens * BYTES_PER_TOKEN);
                (text, screen.len().div_ceil(BYTES_PER_TOKEN), cut)
            }
            _ => Session::budget(&delta, wait.max_tokens),
        };
        let exit = state.exit;
        let finished = state.finished();
        let session_state = state.session_state();
        let lost = state.lost.clone();
        drop(state);
        if finished {
            // Its exit is reported now: the id is done.
            self.table.lock().expect("session table").live.remove(&session.id);
        }
        let mut output = output;
        if let (None, Some(reason)) = (exit, lost) {
            output.push_str(&format!("\n[cordon: the sandbox's runner is gone: {reason}]"));
        }
        ExecReply {
            chunk_id: chunk_id(),
            wall_time_seconds: started.elapsed().as_secs_f64(),
            session_id: (!finished).then_some(session.id),
            exit_code: exit.map(|s| s.exit_code()),
            signal: exit.and_then(|s| s.signal),
            state: session_state,
            returned_because: because,
            output,
            original_token_count,
            truncated,
        }
    }
}

impl Drop for ExecSessions {
    fn drop(&mut self) {
        // Each session's drop asks for its tree's end; the sandbox's drop
        // then closes the channel, on which the runner kills whatever is
        // left and exits.
        self.table.lock().map(|mut t| t.live.clear()).ok();
    }
}

/// Six hex digits.
fn chunk_id() -> String {
    let mut bytes = [0u8; 3];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes.copy_from_slice(&nanos.subsec_nanos().to_le_bytes()[..3]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
