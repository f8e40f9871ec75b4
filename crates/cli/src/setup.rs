//! `cordon setup`: prepares a Windows machine for elevated mode, checks,
//! refreshes or removes that setup, with the command line of
//! [`cordon_setup::command`]. Applying and removing need elevation: an
//! unelevated `cordon setup` starts `cordon-setup.exe` with the same
//! arguments through the UAC prompt and waits for it.

pub use cordon_setup::command::SetupArgs;
use cordon_setup::command::{self, CommandOutput};

/// Runs `cordon setup`; its exit status.
pub fn run(args: &SetupArgs) -> i32 {
    let outcome = if args.command().needs_elevation() && !cordon_setup::is_elevated() {
        args.forwarded().and_then(|argv| cordon_setup::elevate_and_wait(&argv))
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
