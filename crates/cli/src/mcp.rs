//! `cordon mcp`: an MCP server on stdin/stdout whose exec sessions all run
//! in one sandbox, under the policy the sandbox flags give, for the server's
//! life. When the client goes away, every session and the runner go too.

use std::collections::BTreeMap;

use anyhow::Context as _;
use cordon::{LaunchOptions, Sandbox};
use cordon_exec::{ExecConfig, ExecSessions};

use crate::options::{Bootstrap, SandboxArgs};

/// Runs the server until the client leaves; returns cordon's exit status.
pub async fn run(args: &SandboxArgs) -> anyhow::Result<i32> {
    if args.bootstrap == Bootstrap::RequestFile {
        anyhow::bail!("cordon mcp needs the IPC bootstrap: --bootstrap request-file runs one command only");
    }
    let prepared = args.prepare()?;
    let mut options = LaunchOptions::new(prepared.policy.clone());
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
    if let Some(tmp) = prepared.temp_dir.path() {
        env.entry("TMPDIR".into()).or_insert_with(|| tmp.display().to_string());
    }
    let config = ExecConfig { cwd, env, command_timeout: args.timeout, ..ExecConfig::default() };
    let sessions = ExecSessions::new(sandbox, config);
    cordon_mcp::serve_stdio(sessions).await?;
    // The temp dir lives until every session is gone.
    drop(prepared);
    Ok(0)
}
