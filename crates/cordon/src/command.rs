//! What to run: [`Command`], the builder of one spawn request, and the
//! environment it starts from.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use cordon_ipc::{OsBytes, ProcessId, Size};

/// What to run. Like `std::process::Command`: the environment starts as the
/// calling process's unless [`Command::env_clear`] is called — filtered by
/// the sandbox policy's environment rule (secrets out), while variables set
/// with [`Command::env`] always pass.
#[derive(Debug, Clone)]
pub struct Command {
    pub(crate) argv: Vec<OsBytes>,
    pub(crate) cwd: Option<PathBuf>,
    inherit: bool,
    explicit: BTreeMap<String, String>,
    removed: std::collections::BTreeSet<String>,
    pub(crate) tty: Option<Size>,
    pub(crate) stdin: bool,
    pub(crate) timeout: Option<Duration>,
}

impl Command {
    /// A command running `program` (looked up in the child's `PATH` unless it
    /// contains a `/`).
    ///
    /// Programs, arguments and the working directory are `OsStr`s: on Unix
    /// any bytes reach the process as they are (they travel as `bin` when
    /// not UTF-8); a Windows runner refuses what is not valid Unicode.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Command {
            argv: vec![OsBytes::from_os_str(program.as_ref())],
            cwd: None,
            inherit: true,
            explicit: BTreeMap::new(),
            removed: Default::default(),
            tty: None,
            stdin: false,
            timeout: None,
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.argv.push(OsBytes::from_os_str(arg.as_ref()));
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.argv.extend(args.into_iter().map(|arg| OsBytes::from_os_str(arg.as_ref())));
        self
    }

    /// Sets the working directory (default: the runner's).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets an environment variable (passed even if its name looks like a
    /// secret).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.removed.remove(&key);
        self.explicit.insert(key, value.into());
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.explicit.remove(key);
        self.removed.insert(key.to_string());
        self
    }

    /// Starts from an empty environment.
    pub fn env_clear(mut self) -> Self {
        self.inherit = false;
        self.explicit.clear();
        self
    }

    /// Runs on a new pseudo-terminal of this size (output arrives as
    /// [`Stream::Pty`](crate::Stream::Pty); input is always available).
    pub fn tty(mut self, size: Size) -> Self {
        self.tty = Some(size);
        self
    }

    /// In pipe mode, gives the process a stdin pipe (default: `/dev/null`).
    pub fn stdin(mut self, enabled: bool) -> Self {
        self.stdin = enabled;
        self
    }

    /// Kills the tree and reports `timed_out` after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The program, as a log shows it.
    pub(crate) fn program(&self) -> std::borrow::Cow<'_, str> {
        self.argv[0].to_string_lossy()
    }

    /// The environment the command gets under `rule`.
    pub(crate) fn environment(&self, rule: &cordon_sandbox::EnvPolicy) -> BTreeMap<String, String> {
        let parent = if self.inherit { utf8_environment() } else { BTreeMap::new() };
        let mut env = rule.apply(&parent, &self.explicit);
        for key in &self.removed {
            env.remove(key);
        }
        env
    }

    /// The `Spawn` request for this command as process `id`, its
    /// environment filtered by `rule`.
    pub(crate) fn into_spawn(self, id: ProcessId, rule: &cordon_sandbox::EnvPolicy) -> cordon_ipc::Spawn {
        let env = self.environment(rule).into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let cwd = self.cwd.map(|dir| OsBytes::from_os_str(dir.as_os_str()));
        cordon_ipc::Spawn {
            id,
            argv: self.argv,
            cwd,
            env,
            tty: self.tty,
            stdin: self.stdin,
            timeout_ms: self.timeout.map(|t| t.as_millis().try_into().unwrap_or(u64::MAX)),
        }
    }
}

/// The calling process's environment, without the variables whose name or
/// value is not UTF-8 (the protocol carries strings), which are reported.
pub fn utf8_environment() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(key, value)| match (key.into_string(), value.into_string()) {
            (Ok(key), Ok(value)) => Some((key, value)),
            (key, _) => {
                tracing::warn!(variable = ?key, "environment variable is not UTF-8; not passed on");
                None
            }
        })
        .collect()
}
