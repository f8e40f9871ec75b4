//! `cordon setup`: prepares a Windows machine for elevated mode, checks,
//! refreshes or removes that setup, with the command line of
//! [`cordon_setup::command`]. Applying and removing need elevation: an
//! unelevated `cordon setup` starts itself (`cordon setup` with the same
//! arguments) through the UAC prompt and waits for it.

pub use cordon_setup::command::SetupArgs;
use cordon_setup::command::{self, CommandOutput};

/// The arguments `cordon` is started with elevated: this subcommand and
/// the forwarded arguments.
fn elevated_argv(forwarded: Vec<String>) -> Vec<String> {
    std::iter::once("setup".to_string()).chain(forwarded).collect()
}

/// Runs `cordon setup`; its exit status.
pub fn run(args: &SetupArgs) -> i32 {
    let outcome = if args.command().needs_elevation() && !cordon_setup::is_elevated() {
        args.forwarded().and_then(|argv| cordon_setup::elevate_and_wait(&elevated_argv(argv)))
    } else {
        command::run(args).map(|CommandOutput { text, status }| {
            print!("{text}");
            status
        })
    };
    match outcome {
        Ok(status) => status,
        Err(err) => {
            eprintln!("cordon: {err}");
            i32::from(command::exit_status(&err))
        }
    }
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
