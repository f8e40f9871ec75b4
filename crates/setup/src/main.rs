//! `cordon-setup`: sets a Windows machine up for cordon's elevated mode,
//! checks, refreshes or removes that setup.
//!
//! ```text
//! cordon-setup [apply|check|remove|refresh] [--state-dir DIR] [--root DIR]... [--json]
//! ```
//!
//! Exit code 0 on success; otherwise the error's stable number (E101–E299,
//! all below 256, so the exit code is the number itself), with
//! `cordon-setup: E{n}: …` on standard error. The executable asks for
//! elevation when it starts (its manifest); `check` and `refresh` need none
//! and are also available unelevated through the `cordon_setup` library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cordon_setup::{SetupError, SetupOptions};

#[derive(Debug, PartialEq, Eq, Parser)]
#[command(name = "cordon-setup", version, about = "Prepare this Windows machine for cordon's elevated mode")]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Where the credentials and the marker live [default: %LOCALAPPDATA%\cordon].
    #[arg(long, global = true, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// A directory the sandbox users may modify (repeatable).
    #[arg(long = "root", global = true, value_name = "DIR")]
    roots: Vec<PathBuf>,
    /// Print the report or status as JSON.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
enum Command {
    /// Create or update the setup (the default).
    Apply,
    /// Show what is in place and what is pending; change nothing.
    Check,
    /// Undo the setup recorded in the state directory.
    Remove,
    /// Add writable roots you own without elevation.
    Refresh,
}

impl Args {
    fn command(&self) -> Command {
        self.command.unwrap_or(Command::Apply)
    }

    /// The options, with paths made absolute against the current directory
    /// (on Windows; elsewhere there is nothing to set up).
    fn options(&self) -> SetupOptions {
        SetupOptions {
            state_dir: self.state_dir.as_deref().map(absolute),
            writable_roots: self.roots.iter().map(|root| absolute(root)).collect(),
            ..SetupOptions::default()
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    if cfg!(windows) {
        std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    }
}

/// Carries out the command; its output.
fn run(args: &Args) -> Result<String, SetupError> {
    let options = args.options();
    match args.command() {
        Command::Apply => cordon_setup::apply(&options).map(|report| render(&report, args.json)),
        Command::Check => cordon_setup::check(&options).map(|status| render(&status, args.json)),
        Command::Remove => {
            cordon_setup::remove(&options.state_dir()?).map(|report| render(&report, args.json))
        }
        Command::Refresh => cordon_setup::refresh(&options).map(|report| render(&report, args.json)),
    }
}

fn render<T: serde::Serialize + std::fmt::Display>(value: &T, json: bool) -> String {
    if json {
        let mut text = serde_json::to_string_pretty(value).expect("reports serialise");
        text.push('\n');
        text
    } else {
        value.to_string()
    }
}

/// The process exit code of an error: its number, which is below 256.
fn exit_code(err: &SetupError) -> u8 {
    (err.number() % 256) as u8
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("cordon-setup: {err}");
            ExitCode::from(exit_code(&err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_setup::{ErrorCode, SetupReport};

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("cordon-setup").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn no_command_means_apply() {
        let args = parse(&[]);
        assert_eq!(args.command(), Command::Apply);
        assert_eq!((args.state_dir, args.roots, args.json), (None, vec![], false));
    }

    #[test]
    fn each_command_parses() {
        for (word, command) in [
            ("apply", Command::Apply),
            ("check", Command::Check),
            ("remove", Command::Remove),
            ("refresh", Command::Refresh),
        ] {
            assert_eq!(parse(&[word]).command(), command, "{word}");
        }
    }

    #[test]
    fn options_go_before_or_after_the_command_and_roots_repeat() {
        let after =
            parse(&["refresh", "--state-dir", r"D:\state", "--root", r"C:\a", "--root", r"C:\b", "--json"]);
        let before =
            parse(&["--state-dir", r"D:\state", "--root", r"C:\a", "--root", r"C:\b", "--json", "refresh"]);
        assert_eq!(after, before);
        assert_eq!(after.command(), Command::Refresh);
        assert_eq!(after.state_dir, Some(PathBuf::from(r"D:\state")));
        assert_eq!(after.roots, vec![PathBuf::from(r"C:\a"), PathBuf::from(r"C:\b")]);
        assert!(after.json);
        let options = after.options();
        assert_eq!(options.protected_names, cordon_sandbox::DEFAULT_PROTECTED_NAMES);
        assert_eq!(options.writable_roots.len(), 2);
    }

    #[test]
    fn unknown_commands_and_flags_are_usage_errors() {
        for args in [&["install"][..], &["--force"], &["check", "--root"]] {
            let argv = std::iter::once("cordon-setup").chain(args.iter().copied());
            assert!(Args::try_parse_from(argv).is_err(), "{args:?}");
        }
    }

    #[test]
    fn exit_code_is_the_error_number() {
        assert_eq!(exit_code(&SetupError::new(ErrorCode::NotElevated, "x")), 202);
        let plan = cordon_sandbox::windows::setup::validate_user_name("").unwrap_err();
        assert_eq!(exit_code(&plan.into()), 101);
    }

    #[test]
    fn output_is_text_or_json() {
        let report = SetupReport::default();
        assert_eq!(render(&report, false), "nothing to do\n");
        assert_eq!(render(&report, true), "{\n  \"actions\": []\n}\n");
    }

    #[cfg(not(windows))]
    #[test]
    fn elsewhere_than_windows_the_command_fails_with_not_windows() {
        let err = run(&parse(&["check", "--state-dir", r"C:\s", "--root", r"C:\w"])).unwrap_err();
        assert_eq!(err.code, ErrorCode::NotWindows);
        assert_eq!(exit_code(&err), 201);
    }
}
