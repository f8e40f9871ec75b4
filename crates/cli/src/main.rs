//! `cordon`: run commands and shells inside cordon's sandbox.

mod config;
mod doctor;
mod leftovers;
mod mcp;
mod options;
mod request_file;
mod runner;
mod sanitize;
mod session;
mod setup;
mod sys;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cordon::oneshot::EXIT_CORDON_FAILED;

use crate::options::{Bootstrap, SandboxArgs};
use crate::session::Mode;

/// Run untrusted commands inside an OS sandbox.
#[derive(Debug, Parser)]
#[command(name = "cordon", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Run a command in the sandbox, streaming its output and forwarding
    /// stdin. Exit status: the command's; 128+N if killed by signal N; 124
    /// on timeout; 125 if cordon failed; 126 not executable; 127 not found.
    Run(RunArgs),
    /// An interactive terminal session in the sandbox (default: $SHELL or
    /// /bin/sh).
    Shell(ShellArgs),
    /// Probe what this machine can enforce, and say for each policy whether
    /// it can be enforced fully.
    Doctor(DoctorArgs),
    /// Windows: create the sandbox users, grants and firewall rule of
    /// elevated mode (through UAC), or check, refresh or remove them.
    Setup(setup::SetupArgs),
    /// Serve exec sessions to an AI agent over MCP on stdin/stdout, or
    /// streamable HTTP with --http (exec_command, write_stdin,
    /// list_sessions, kill_session). Every command runs in one sandbox with
    /// the policy of these flags, for the server's life; --explain prints
    /// that policy and what is enforced, and exits.
    Mcp(mcp::McpArgs),
}

#[derive(Debug, clap::Args)]
struct DoctorArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// Run the command on a pseudo-terminal.
    #[arg(long)]
    tty: bool,
    /// Print one JSON object at the end (exit_code, signal, timed_out,
    /// duration_ms, stdout, stderr) instead of streaming.
    #[arg(long)]
    json: bool,
    /// With --json: keep at most this much of each of stdout and stderr
    /// (its first and last halves; the report counts what was dropped).
    #[arg(long, value_name = "SIZE", value_parser = options::parse_size, default_value_t = session::DEFAULT_JSON_LIMIT)]
    json_max_output: u64,
    /// Strip the terminal control strings of the command's output (OSC:
    /// titles, clipboard, hyperlinks; DCS, APC, PM, SOS), keeping colours
    /// and cursor movement: auto (for each of stdout and stderr that is a
    /// terminal), always, never.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        num_args = 0..=1,
        default_missing_value = "always"
    )]
    sanitize_output: sanitize::When,
    /// The command and its arguments (any bytes on Unix).
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

#[derive(Debug, clap::Args)]
struct ShellArgs {
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// Strip the terminal control strings of the session's output, as
    /// `cordon run` does (default: never, for a full terminal).
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "never",
        num_args = 0..=1,
        default_missing_value = "always"
    )]
    sanitize_output: sanitize::When,
    /// The command (default: $SHELL or /bin/sh).
    #[arg(last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

fn main() -> ExitCode {
    // First, before any thread exists: the runner takes its secret out of
    // the environment before anything else runs.
    if let Some(args) = runner::embedded_args() {
        return cordon_runner::command::main(args);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { EXIT_CORDON_FAILED as u8 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("CORDON_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let code = match execute(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("cordon: {err:#}");
            EXIT_CORDON_FAILED
        }
    };
    // Exit at once: a blocked read of cordon's stdin must not hold us.
    std::process::exit(code)
}

fn execute(cli: Cli) -> anyhow::Result<i32> {
    let (sandbox, argv, tty, mode, sanitize) = match cli.command {
        Commands::Run(run) => {
            let mode = if run.json { Mode::Json { max_output: run.json_max_output } } else { Mode::Stream };
            (run.sandbox, run.command, run.tty, mode, run.sanitize_output)
        }
        Commands::Shell(shell) => {
            let argv = if shell.command.is_empty() { vec![sys::shell().into()] } else { shell.command };
            (shell.sandbox, argv, true, Mode::Shell, shell.sanitize_output)
        }
        Commands::Doctor(doctor) => return doctor::run(doctor.json),
        Commands::Setup(args) => return Ok(setup::run(&args)),
        Commands::Mcp(args) => {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            let code = runtime.block_on(mcp::run(&args));
            // The stdin reader may still be blocked in a runtime thread.
            runtime.shutdown_background();
            return code;
        }
    };
    let prepared = sandbox.prepare()?;
    let watch = leftovers::GitWatch::start(&prepared.policy, prepared.temp_dir.host_dir());
    let code = if sandbox.bootstrap == Bootstrap::RequestFile {
        if matches!(mode, Mode::Json { .. })
            || (tty && mode != Mode::Shell)
            || sanitize == sanitize::When::Always
        {
            anyhow::bail!(
                "--json, --tty and --sanitize-output need the IPC bootstrap: with --bootstrap \
                 request-file the command runs on cordon's own stdio"
            );
        }
        request_file::run(&sandbox, &prepared, &argv)
    } else {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let code = runtime.block_on(session::run(&sandbox, &prepared, &argv, tty, mode, sanitize));
        // A read of cordon's stdin may still be blocked in a runtime thread;
        // do not wait for it.
        runtime.shutdown_background();
        code
    };
    watch.report();
    code
}
