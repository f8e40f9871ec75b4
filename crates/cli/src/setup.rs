//! `cordon setup`: prepares a Windows machine for elevated mode, checks,
//! refreshes or removes that setup, with the command line of
//! [`cordon_setup::command`]. Applying and removing a setup need
//! elevation: an unelevated `cordon setup` starts itself (`cordon setup`
//! with the same arguments) through the UAC prompt and waits for it.
//! `--remove` first undoes, unelevated, what launches changed on the
//! user's files, and asks for elevation only when a setup is recorded.

use cordon_setup::SetupError;
pub use cordon_setup::command::SetupArgs;
use cordon_setup::command::{self, CommandOutput, SetupCommand};

/// The arguments `cordon` is started with elevated: this subcommand and
/// the forwarded arguments.
fn elevated_argv(forwarded: Vec<String>) -> Vec<String> {
    std::iter::once("setup".to_string()).chain(forwarded).collect()
}

/// Runs `cordon setup`; its exit status.
pub fn run(args: &SetupArgs) -> i32 {
    let outcome = match args.command() {
        _ if cordon_setup::is_elevated() => run_here(args),
        SetupCommand::Remove => remove_unelevated(args),
        command if command.needs_elevation() => elevate(args),
        _ => run_here(args),
    };
    match outcome {
        Ok(status) => status,
        Err(err) => {
            eprintln!("cordon: {err}");
            i32::from(command::exit_status(&err))
        }
    }
}

fn run_here(args: &SetupArgs) -> Result<i32, SetupError> {
    command::run(args).map(|CommandOutput { text, status }| {
        print!("{text}");
        status
    })
}

fn elevate(args: &SetupArgs) -> Result<i32, SetupError> {
    args.forwarded().and_then(|argv| cordon_setup::elevate_and_wait(&elevated_argv(argv)))
}

/// Undoes the launches' changes here, as the user who owns them, then the
/// setup (if one is recorded) elevated; the worse of the two statuses.
fn remove_unelevated(args: &SetupArgs) -> Result<i32, SetupError> {
    let state_dir = args.options().state_dir()?;
    if !cordon_setup::is_set_up(&state_dir)? {
        return run_here(args);
    }
    let undone = cordon_setup::undo_launches(&state_dir)?;
    let CommandOutput { text, status } = command::removed(&undone, args.json);
    if !undone.actions.is_empty() {
        print!("{text}");
    }
    Ok(status.max(elevate(args)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_elevated_cordon_runs_setup_with_the_forwarded_arguments() {
        let forwarded = vec!["--state-dir".to_string(), r"C:\s".to_string()];
        assert_eq!(elevated_argv(forwarded), ["setup", "--state-dir", r"C:\s"]);
    }
}
