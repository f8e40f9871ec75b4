//! The one command line of setup, shared by `cordon setup` and
//! `cordon-setup.exe` (an unelevated `cordon setup` starts itself again
//! through the UAC prompt with the same arguments):
//!
//! ```text
//! [--check | --remove | --refresh] [--root DIR]... [--state-dir DIR] [--json]
//! ```
//!
//! No action flag applies the setup. The exit status is 0 on success (for
//! `--check`: 0 when everything is in place, 1 otherwise; for `--remove`:
//! 1 when a launch's change could not be undone and stays recorded), else
//! the error's number (E101–E299, below 256).

use std::path::{Path, PathBuf};

use crate::{SetupError, SetupOptions, SetupReport};

/// Setup's arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct SetupArgs {
    /// Show what is in place and what is pending; change nothing. Exit
    /// status 0 when everything is in place, 1 otherwise.
    #[arg(long, conflicts_with_all = ["remove", "refresh"])]
    pub check: bool,
    /// Undo what launches and the setup recorded in the state directory.
    #[arg(long, conflicts_with = "refresh")]
    pub remove: bool,
    /// Add writable roots you own, without elevation.
    #[arg(long)]
    pub refresh: bool,
    /// A directory the sandbox users may modify (repeatable).
    #[arg(long = "root", value_name = "DIR")]
    pub roots: Vec<PathBuf>,
    /// Where the credentials and the marker live [default: %LOCALAPPDATA%\cordon].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print the report or status as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What the arguments ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupCommand {
    /// Create or update the setup (no action flag).
    Apply,
    /// `--check`.
    Check,
    /// `--remove`.
    Remove,
    /// `--refresh`.
    Refresh,
}

impl SetupCommand {
    /// Whether it changes the machine, and so needs elevation (for
    /// `--remove`: only to undo a setup; what launches changed is the
    /// user's to undo, see [`crate::undo_launches`]).
    pub fn needs_elevation(self) -> bool {
        matches!(self, SetupCommand::Apply | SetupCommand::Remove)
    }
}

/// What a command printed, and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// The report or status, as text or JSON.
    pub text: String,
    /// 0, or 1 for a `--check` that found something pending.
    pub status: i32,
}

impl SetupArgs {
    /// The command the flags select.
    pub fn command(&self) -> SetupCommand {
        match (self.check, self.remove, self.refresh) {
            (true, _, _) => SetupCommand::Check,
            (_, true, _) => SetupCommand::Remove,
            (_, _, true) => SetupCommand::Refresh,
            _ => SetupCommand::Apply,
        }
    }

    /// The options, with paths made absolute against the current directory
    /// (on Windows; elsewhere there is nothing to set up).
    pub fn options(&self) -> SetupOptions {
        SetupOptions {
            state_dir: self.state_dir.as_deref().map(absolute),
            writable_roots: self.roots.iter().map(|root| absolute(root)).collect(),
            ..SetupOptions::default()
        }
    }

    /// The same arguments for another process, every path absolute and
    /// the state directory explicit: the elevated process has the
    /// administrator's profile, and maybe another working directory.
    pub fn forwarded(&self) -> Result<Vec<String>, SetupError> {
        let options = self.options();
        let mut argv: Vec<String> = match self.command() {
            SetupCommand::Apply => vec![],
            SetupCommand::Check => vec!["--check".into()],
            SetupCommand::Remove => vec!["--remove".into()],
            SetupCommand::Refresh => vec!["--refresh".into()],
        };
        argv.push("--state-dir".into());
        argv.push(options.state_dir()?.to_string_lossy().into_owned());
        for root in &options.writable_roots {
            argv.push("--root".into());
            argv.push(root.to_string_lossy().into_owned());
        }
        if self.json {
            argv.push("--json".into());
        }
        Ok(argv)
    }
}

/// Carries out `args` in this process (elevated or not: an unelevated
/// apply or remove fails with `NotElevated`).
pub fn run(args: &SetupArgs) -> Result<CommandOutput, SetupError> {
    let options = args.options();
    let done = |text| CommandOutput { text, status: 0 };
    match args.command() {
        SetupCommand::Apply => crate::apply(&options).map(|report| done(render(&report, args.json))),
        SetupCommand::Check => crate::check(&options).map(|status| CommandOutput {
            text: render(&status, args.json),
            status: if status.is_complete() { 0 } else { 1 },
        }),
        SetupCommand::Remove => {
            crate::remove(&options.state_dir()?).map(|report| removed(&report, args.json))
        }
        SetupCommand::Refresh => crate::refresh(&options).map(|report| done(render(&report, args.json))),
    }
}

/// What `--remove` prints, and 1 when something stays recorded.
pub fn removed(report: &SetupReport, json: bool) -> CommandOutput {
    CommandOutput { text: render(report, json), status: if report.kept().next().is_some() { 1 } else { 0 } }
}

/// A report or status as text, or as pretty JSON, ending in a newline.
pub fn render<T: serde::Serialize + std::fmt::Display>(value: &T, json: bool) -> String {
    if json {
        let mut text = serde_json::to_string_pretty(value).expect("reports serialise");
        text.push('\n');
        text
    } else {
        value.to_string()
    }
}

/// The exit status of an error: its number, which is below 256.
pub fn exit_status(err: &SetupError) -> u8 {
    (err.number() % 256) as u8
}

fn absolute(path: &Path) -> PathBuf {
    if cfg!(windows) {
        std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{ErrorCode, SetupReport};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: SetupArgs,
    }

    fn parse(args: &[&str]) -> Result<SetupArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("cordon-setup").chain(args.iter().copied())).map(|cli| cli.args)
    }

    #[test]
    fn no_flag_means_apply_and_each_flag_its_command() {
        assert_eq!(parse(&[]).unwrap().command(), SetupCommand::Apply);
        assert_eq!(parse(&["--check"]).unwrap().command(), SetupCommand::Check);
        assert_eq!(parse(&["--remove"]).unwrap().command(), SetupCommand::Remove);
        assert_eq!(parse(&["--refresh"]).unwrap().command(), SetupCommand::Refresh);
        assert!(SetupCommand::Apply.needs_elevation() && SetupCommand::Remove.needs_elevation());
        assert!(!SetupCommand::Check.needs_elevation() && !SetupCommand::Refresh.needs_elevation());
    }

    #[test]
    fn two_commands_unknown_flags_and_words_are_usage_errors() {
        for args in
            [&["--check", "--remove"][..], &["--remove", "--refresh"], &["--force"], &["apply"], &["--root"]]
        {
            assert!(parse(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn forwarded_arguments_parse_back_to_the_same_command_with_the_state_dir_explicit() {
        for args in [
            &["--root", r"C:\my work", "--root", r"D:\b", "--state-dir", r"C:\Users\a b\cordon\", "--json"][..],
            &["--remove", "--state-dir", r"C:\s"],
            &["--check", "--state-dir", r"C:\s", "--root", r"C:\w"],
        ] {
            let parsed = parse(args).unwrap();
            let forwarded = parsed.forwarded().unwrap();
            let again = parse(&forwarded.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
            assert_eq!(again, parsed, "{forwarded:?}");
        }
    }

    #[test]
    fn the_exit_status_is_the_error_number() {
        assert_eq!(exit_status(&SetupError::new(ErrorCode::NotElevated, "x")), 202);
        assert_eq!(exit_status(&crate::plan::validate_user_name("").unwrap_err()), 101);
    }

    #[test]
    fn output_is_text_or_pretty_json() {
        let report = SetupReport::default();
        assert_eq!(render(&report, false), "nothing to do\n");
        assert_eq!(render(&report, true), "{\n  \"actions\": []\n}\n");
    }

    #[cfg(not(windows))]
    #[test]
    fn elsewhere_than_windows_every_command_fails_with_not_windows() {
        for args in [&["--check", "--state-dir", r"C:\s"][..], &["--state-dir", r"C:\s"], &["--refresh"]] {
            let err = run(&parse(args).unwrap()).unwrap_err();
            assert_eq!(err.code, ErrorCode::NotWindows, "{args:?}");
            assert_eq!(exit_status(&err), 201);
        }
    }
}
