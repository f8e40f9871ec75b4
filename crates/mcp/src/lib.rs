//! An MCP server that gives any agent sandboxed exec sessions.
//!
//! [`ExecServer`] exposes one [`ExecSessions`] — every command in one
//! cordon sandbox, under one policy for the server's life — as four tools
//! with Codex's names, parameters, defaults and clamps: `exec_command`,
//! `write_stdin`, `list_sessions` and `kill_session` (plus cordon's own
//! optional parameters `close_stdin`, `until` and `screen`). Each result
//! carries the text agents already know in `content` and the
//! [`ExecReply`](cordon_exec::ExecReply) fields in `structuredContent`,
//! declared by an `outputSchema`.
//!
//! A command that fails is a normal result with its exit code, and a
//! sandbox refusal is the command's own output; only a call that cannot be
//! carried out (an unknown session, a bad argument) is a tool error
//! (`isError: true`) whose text tells the model what to do instead.
//! [`serve`] runs the server until its client goes away, then kills every
//! session: nothing it started outlives it.

#![warn(missing_docs)]

mod format;
mod http;
mod tools;

use std::sync::{Arc, Mutex};

use cordon_exec::{ExecError, ExecSessions};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

pub use http::{ENDPOINT, HttpOptions, serve_http};
pub use tools::{ExecCommandArgs, KillSessionArgs, ListSessionsArgs, SessionList, WriteStdinArgs};

/// What the server tells a client about itself at the handshake.
const INSTRUCTIONS: &str = "Runs shell commands inside cordon's sandbox. exec_command starts a \
command and returns as soon as it exits (or when output matches `until`, or at yield_time_ms); a \
command still running keeps a session: continue it with write_stdin (type into it, poll it with \
empty chars, interrupt it with \"\\u0003\"), see every session with list_sessions, end one with \
kill_session. Writes outside the workspace and network access are refused by the sandbox and \
show up as the command's own errors.";

/// Why the server stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The MCP handshake with the client failed.
    #[error("MCP handshake failed: {0}")]
    Handshake(String),
    /// The connection failed while serving.
    #[error("MCP connection failed: {0}")]
    Connection(String),
}

/// The MCP server over a set of exec sessions.
#[derive(Clone)]
pub struct ExecServer {
    sessions: Arc<ExecSessions>,
    tools: Arc<Vec<Tool>>,
    /// The sessions this server started, for a server that lives as long
    /// as one client's HTTP session.
    scope: Option<Arc<Scope>>,
}

/// The exec sessions started through one server of an HTTP session,
/// killed when it ends. A server made for a single stateless request
/// never sees an `Mcp-Session-Id` header, so its sessions stay the
/// server's.
struct Scope {
    sessions: Arc<ExecSessions>,
    started: Mutex<Vec<u32>>,
    in_http_session: std::sync::atomic::AtomicBool,
}

impl Scope {
    fn note_request(&self, context: &RequestContext<RoleServer>) {
        let in_session = context
            .extensions
            .get::<::http::request::Parts>()
            .is_some_and(|parts| parts.headers.contains_key("mcp-session-id"));
        if in_session {
            self.in_http_session.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn note_reply(&self, reply: &cordon_exec::ExecReply) {
        if let Some(id) = reply.session_id {
            let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
            if !started.contains(&id) {
                started.push(id);
            }
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if !self.in_http_session.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let started = std::mem::take(self.started.get_mut().unwrap_or_else(|e| e.into_inner()));
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if started.is_empty() {
            return;
        }
        tracing::debug!(?started, "HTTP session ended; killing its exec sessions");
        let sessions = self.sessions.clone();
        runtime.spawn(async move {
            for id in started {
                // Gone already (exited and reported, or pruned) is fine.
                let _ = sessions.kill_session(id).await;
            }
        });
    }
}

impl std::fmt::Debug for ExecServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecServer").field("sessions", &self.sessions).finish_non_exhaustive()
    }
}

impl ExecServer {
    /// A server over `sessions`.
    pub fn new(sessions: Arc<ExecSessions>) -> Self {
        ExecServer { sessions, tools: Arc::new(tools::definitions()), scope: None }
    }

    /// A server for one client's HTTP session: the exec sessions started
    /// through it are killed when it (and every clone) is dropped, if its
    /// requests came in an HTTP session (`Mcp-Session-Id`).
    fn session_scoped(sessions: Arc<ExecSessions>) -> Self {
        let scope = Scope {
            sessions: sessions.clone(),
            started: Mutex::new(Vec::new()),
            in_http_session: false.into(),
        };
        ExecServer { scope: Some(Arc::new(scope)), ..ExecServer::new(sessions) }
    }

    /// The tools it offers, with their schemas.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    async fn call(&self, name: &str, arguments: Value, progress: Option<Progress>) -> CallToolResult {
        let outcome = match name {
            "exec_command" => match tools::parse::<ExecCommandArgs>(name, arguments) {
                Ok(args) => {
                    let report = progress.as_ref().map(Progress::callback);
                    let report = report.as_ref().map(|f| f as cordon_exec::Progress<'_>);
                    let reply = self.sessions.exec_command_with(args.into_request(), report).await;
                    if let (Some(scope), Ok(reply)) = (&self.scope, &reply) {
                        scope.note_reply(reply);
                    }
                    reply.map(format::reply)
                }
                Err(message) => Err(message),
            },
            "write_stdin" => match tools::parse::<WriteStdinArgs>(name, arguments) {
                Ok(args) => {
                    let report = progress.as_ref().map(Progress::callback);
                    let report = report.as_ref().map(|f| f as cordon_exec::Progress<'_>);
                    self.sessions.write_stdin_with(args.into_request(), report).await.map(format::reply)
                }
                Err(message) => Err(message),
            },
            "list_sessions" => match tools::parse::<ListSessionsArgs>(name, arguments) {
                Ok(_) => Ok(format::list(self.sessions.list_sessions())),
                Err(message) => Err(message),
            },
            "kill_session" => match tools::parse::<KillSessionArgs>(name, arguments) {
                Ok(args) => self.sessions.kill_session(args.session_id).await.map(format::reply),
                Err(message) => Err(message),
            },
            _ => unreachable!("unknown tools are refused before the call"),
        };
        match outcome {
            Ok(result) => result,
            Err(err) => tool_error(&err),
        }
    }
}

/// A call that could not be carried out, as the model should read it.
fn tool_error(err: &ExecError) -> CallToolResult {
    let text = match err {
        ExecError::SandboxGone(_) => format!("{err}. The server cannot run commands any more; restart it."),
        _ => err.to_string(),
    };
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// Progress notifications for one call: output sizes go through a channel
/// to one task, so they reach the client in order.
struct Progress {
    sender: mpsc::UnboundedSender<u64>,
}

impl Progress {
    fn start(context: &RequestContext<RoleServer>) -> Option<Progress> {
        let token = context.meta.get_progress_token()?;
        let peer = context.peer.clone();
        let (sender, mut sizes) = mpsc::unbounded_channel::<u64>();
        tokio::spawn(async move {
            while let Some(bytes) = sizes.recv().await {
                let param = ProgressNotificationParam::new(token.clone(), bytes as f64)
                    .with_message(format!("{bytes} bytes of output so far"));
                if peer.notify_progress(param).await.is_err() {
                    break;
                }
            }
        });
        Some(Progress { sender })
    }

    fn callback(&self) -> impl Fn(u64) + Send + Sync + use<> {
        let sender = self.sender.clone();
        move |bytes| {
            let _ = sender.send(bytes);
        }
    }
}

impl ServerHandler for ExecServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("cordon", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if !self.tools.iter().any(|t| t.name == request.name) {
            let names: Vec<&str> = self.tools.iter().map(|t| t.name.as_ref()).collect();
            return Err(McpError::invalid_params(
                format!("unknown tool {:?}; this server has {}", request.name, names.join(", ")),
                None,
            ));
        }
        if let Some(scope) = &self.scope {
            scope.note_request(&context);
        }
        let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
        let progress = Progress::start(&context);
        let call = self.call(&request.name, arguments, progress);
        // A cancelled call ends its wait, not its session: what it would
        // have returned stays for the next call on the session.
        tokio::select! {
            result = call => Ok(result.into()),
            _ = context.ct.cancelled() => Err(McpError::internal_error("the request was cancelled", None)),
        }
    }
}

/// Serves `sessions` over `transport` (a reader and a writer, such as
/// [`rmcp::transport::stdio`]) until the client goes away, then kills every
/// session and waits for their trees to be reported dead.
pub async fn serve<R, W>(sessions: ExecSessions, transport: (R, W)) -> Result<(), ServeError>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let sessions = Arc::new(sessions);
    let server = ExecServer::new(sessions.clone());
    let outcome = match server.serve(transport).await {
        Ok(running) => running.waiting().await.map(|_| ()).map_err(|e| ServeError::Connection(e.to_string())),
        Err(err) => Err(ServeError::Handshake(err.to_string())),
    };
    tracing::debug!("MCP client gone; ending every session");
    sessions.shutdown().await;
    outcome
}

/// Serves `sessions` on this process's stdin and stdout; see [`serve`].
pub async fn serve_stdio(sessions: ExecSessions) -> Result<(), ServeError> {
    serve(sessions, rmcp::transport::stdio()).await
}
