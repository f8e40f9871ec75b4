//! `cordon mcp`: an MCP server on stdin/stdout, or on streamable HTTP,
//! whose exec sessions all run in one sandbox, under the policy the sandbox
//! flags give, for the server's life. When the client goes away (or, over
//! HTTP, the server is stopped), every session and the runner go too.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::Context as _;
use cordon::Sandbox;
use cordon_exec::{ExecConfig, ExecSessions};
use cordon_mcp::HttpOptions;

use crate::options::{Bootstrap, SandboxArgs};

/// The environment variable holding the bearer token of `--http`.
pub const TOKEN_ENV: &str = "CORDON_MCP_TOKEN";

/// The shortest bearer token accepted.
const MIN_TOKEN_LEN: usize = 16;

/// `cordon mcp`'s arguments.
#[derive(Debug, clap::Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// Serve streamable HTTP at http://ADDR/mcp instead of stdin/stdout,
    /// until SIGINT or SIGTERM. ADDR must be a loopback address
    /// (127.0.0.1:8765, [::1]:0) unless --allow-remote. With
    /// CORDON_MCP_TOKEN set, every request must carry `Authorization:
    /// Bearer` that token.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// With --http: allow an address other machines can reach (and any
    /// Host header). Needs CORDON_MCP_TOKEN (at least 16 characters): the
    /// commands run with the user's rights in the workspace.
    #[arg(long, requires = "http")]
    pub allow_remote: bool,
}

/// How `--http` admits requests, from the flags and `$CORDON_MCP_TOKEN`.
fn http_options(addr: SocketAddr, allow_remote: bool, token: Option<String>) -> anyhow::Result<HttpOptions> {
    if !addr.ip().is_loopback() && !allow_remote {
        anyhow::bail!(
            "--http {addr} is not a loopback address: anyone who can reach it could run commands in the              workspace; bind 127.0.0.1 or [::1], or add --allow-remote (with {TOKEN_ENV} set)"
        );
    }
    let token = token.filter(|t| !t.is_empty());
    if let Some(token) = &token
        && token.len() < MIN_TOKEN_LEN
    {
        anyhow::bail!("{TOKEN_ENV} is too short: use at least {MIN_TOKEN_LEN} characters");
    }
    if allow_remote && token.is_none() {
        anyhow::bail!(
            "--allow-remote needs a bearer token: set {TOKEN_ENV} (at least {MIN_TOKEN_LEN} characters)"
        );
    }
    Ok(HttpOptions { bearer_token: token, any_host: allow_remote })
}

/// Runs the server until the client leaves; returns cordon's exit status.
pub async fn run(mcp: &McpArgs) -> anyhow::Result<i32> {
    let args = &mcp.sandbox;
    let http = match mcp.http {
        Some(addr) => Some((addr, http_options(addr, mcp.allow_remote, std::env::var(TOKEN_ENV).ok())?)),
        None => None,
    };
    if args.bootstrap == Bootstrap::RequestFile {
        anyhow::bail!("cordon mcp needs the IPC bootstrap: --bootstrap request-file runs one command only");
    }
    let prepared = args.prepare()?;
    let mut options = crate::runner::launch_options(prepared.policy.clone())?;
    if let Some(mode) = args.windows_mode {
        options = options.windows_mode(mode.into());
    }
    let sandbox = Sandbox::launch(options).await.context("starting the sandbox")?;
    if args.explain {
        crate::session::explain(&prepared.policy, Some(&sandbox.info().sandbox));
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), sandbox.shutdown()).await;
        return Ok(0);
    }
    let workspace = cordon::named_current_dir().context("reading the working directory")?;
    let cwd = match &args.cwd {
        Some(dir) => workspace.join(dir),
        None => workspace,
    };
    // What the user set explicitly, over the non-interactive defaults; the
    // rest of the environment is the policy's filtered inheritance.
    let mut env: BTreeMap<String, String> = args.env.iter().cloned().collect();
    for (name, value) in prepared.temp_dir.variables() {
        env.entry(name).or_insert(value);
    }
    let config = ExecConfig { cwd, env, command_timeout: args.timeout, ..ExecConfig::default() };
    let sessions = ExecSessions::new(sandbox, config);
    match http {
        None => cordon_mcp::serve_stdio(sessions).await?,
        Some((addr, options)) => {
            let listener = match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => listener,
                Err(err) => {
                    sessions.shutdown().await;
                    return Err(anyhow::Error::new(err).context(format!("listening on {addr}")));
                }
            };
            let bound = listener.local_addr().context("reading the bound address")?;
            eprintln!("cordon mcp: serving MCP at http://{bound}{}", cordon_mcp::ENDPOINT);
            cordon_mcp::serve_http(sessions, listener, options, crate::sys::termination()).await;
        }
    }
    // The temp dir lives until every session is gone.
    drop(prepared);
    Ok(0)
}
