//! The four tools: their arguments (Codex's names, defaults and clamps,
//! plus cordon's optional additions), schemas and descriptions.

use std::path::PathBuf;

use cordon_exec::{ExecReply, ExecRequest, Until, WriteRequest};
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Arguments of `exec_command`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecCommandArgs {
    /// Shell command to execute.
    pub cmd: String,
    /// Optional working directory to run the command in; defaults to the
    /// workspace. Relative paths are taken from the workspace.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Whether to allocate a TTY for the command. Defaults to false (plain
    /// pipes, stdout and stderr both captured, stdin open for write_stdin);
    /// set to true to run it on a terminal (interactive programs, REPLs,
    /// full-screen programs).
    #[serde(default)]
    pub tty: Option<bool>,
    /// How long to wait (in milliseconds) for output before yielding; the
    /// call returns sooner when the command exits. Default 10000, clamped to
    /// 250..=30000.
    #[serde(default)]
    pub yield_time_ms: Option<u64>,
    /// Maximum number of tokens to return. Excess output will be truncated
    /// in the middle. Default 10000.
    #[serde(default)]
    pub max_output_tokens: Option<usize>,
    /// Shell binary to launch. Defaults to $SHELL, /bin/bash, /bin/sh; on
    /// Windows cmd.exe, and powershell or pwsh runs PowerShell.
    #[serde(default)]
    pub shell: Option<String>,
    /// Whether to run the shell with -l (login) semantics. Defaults to true;
    /// ignored on Windows.
    #[serde(default)]
    pub login: Option<bool>,
    /// Return early: when the output matches `regex`, or once output arrived
    /// and then stayed quiet for `idle_ms` (e.g. a server that printed its
    /// banner).
    #[serde(default)]
    pub until: Option<Until>,
}

impl ExecCommandArgs {
    pub(crate) fn into_request(self) -> ExecRequest {
        ExecRequest {
            cmd: self.cmd,
            workdir: self.workdir.map(PathBuf::from),
            tty: self.tty,
            yield_time_ms: self.yield_time_ms,
            max_output_tokens: self.max_output_tokens,
            shell: self.shell,
            login: self.login,
            until: self.until,
        }
    }
}

/// Arguments of `write_stdin`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteStdinArgs {
    /// Identifier of the running exec session.
    pub session_id: u32,
    /// Characters to write to stdin (may be empty to poll). "\u0003" alone
    /// interrupts the command (Ctrl-C), on a terminal or on pipes.
    #[serde(default)]
    pub chars: String,
    /// How long to wait (in milliseconds) for output before yielding.
    /// Default 250 when writing, 5000 when polling; clamped to 250..=30000
    /// (a poll with `until` may wait up to 300000).
    #[serde(default)]
    pub yield_time_ms: Option<u64>,
    /// Maximum number of tokens to return. Excess output will be truncated
    /// in the middle. Default 10000.
    #[serde(default)]
    pub max_output_tokens: Option<usize>,
    /// End the command's input after `chars` (on pipes: close stdin; on a
    /// terminal: send end-of-file).
    #[serde(default)]
    pub close_stdin: bool,
    /// Return early: when the new output matches `regex`, or once output
    /// arrived and then stayed quiet for `idle_ms`.
    #[serde(default)]
    pub until: Option<Until>,
    /// For a TTY session: return the whole current screen (rows × columns)
    /// instead of the new output, for full-screen programs.
    #[serde(default)]
    pub screen: bool,
}

impl WriteStdinArgs {
    pub(crate) fn into_request(self) -> WriteRequest {
        WriteRequest {
            session_id: self.session_id,
            chars: self.chars,
            yield_time_ms: self.yield_time_ms,
            max_output_tokens: self.max_output_tokens,
            close_stdin: self.close_stdin,
            until: self.until,
            screen: self.screen,
        }
    }
}

/// Arguments of `list_sessions`: none.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSessionsArgs {}

/// Arguments of `kill_session`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KillSessionArgs {
    /// Identifier of the exec session to end, with every process it started.
    pub session_id: u32,
}

/// The structured result of `list_sessions`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SessionList {
    /// Every live session, most recently used first.
    pub sessions: Vec<cordon_exec::SessionInfo>,
}

/// Reads a tool's arguments; a message for the model when they are wrong.
pub(crate) fn parse<T: DeserializeOwned>(
    tool: &str,
    arguments: serde_json::Value,
) -> Result<T, cordon_exec::ExecError> {
    // The path names the argument at fault, which serde_json's own message
    // does not.
    serde_path_to_error::deserialize(arguments).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let at = if path == "." { String::new() } else { format!(" `{path}`") };
        cordon_exec::ExecError::InvalidRequest(format!(
            "invalid argument{at} for {tool}: {inner}; see the tool's input schema"
        ))
    })
}

/// The tool definitions.
pub(crate) fn definitions() -> Vec<Tool> {
    let exec = Tool::new(
        "exec_command",
        "Runs a shell command in the sandbox and returns its output. Returns as soon as the command \
         exits, or when the output matches `until`, or after yield_time_ms; if it is still running, \
         the result carries a session ID to continue with write_stdin. Writes outside the workspace \
         and network access are refused by the sandbox and show up as the command's own errors.",
        schema_for_type::<ExecCommandArgs>(),
    )
    .with_output_schema::<ExecReply>();
    let write = Tool::new(
        "write_stdin",
        "Writes characters to an exec session's stdin and returns the output that arrived since \
         the previous call on it. Empty chars polls. \"\\u0003\" interrupts (Ctrl-C). close_stdin \
         ends the input (for commands that read until end of file).",
        schema_for_type::<WriteStdinArgs>(),
    )
    .with_output_schema::<ExecReply>();
    let list = Tool::new(
        "list_sessions",
        "Lists the live exec sessions: ID, command, whether on a TTY, state, pid, start and last \
         use, bytes of output.",
        schema_for_type::<ListSessionsArgs>(),
    )
    .with_output_schema::<SessionList>()
    .annotate(ToolAnnotations::new().read_only(true));
    let kill = Tool::new(
        "kill_session",
        "Ends an exec session: kills its command and every process it started, and returns the \
         output that was not read yet.",
        schema_for_type::<KillSessionArgs>(),
    )
    .with_output_schema::<ExecReply>()
    .annotate(ToolAnnotations::new().destructive(true));
    vec![exec, write, list, kill]
}
