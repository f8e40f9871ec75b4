//! `cordon-setup`: sets a Windows machine up for cordon's elevated mode,
//! checks, refreshes or removes that setup, with the command line of
//! `cordon setup` ([`cordon_setup::command`]).
//!
//! ```text
//! cordon-setup [--check | --remove | --refresh] [--root DIR]... [--state-dir DIR] [--json]
//! ```
//!
//! The executable asks for elevation when it starts (its manifest);
//! `--check` and `--refresh` need none and are also available unelevated
//! through `cordon setup`.

use std::process::ExitCode;

use clap::Parser;
use cordon_setup::command::{self, SetupArgs};

#[derive(Debug, Parser)]
#[command(name = "cordon-setup", version, about = "Prepare this Windows machine for cordon's elevated mode")]
struct Cli {
    #[command(flatten)]
    args: SetupArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match command::run(&cli.args) {
        Ok(output) => {
            print!("{}", output.text);
            ExitCode::from(output.status as u8)
        }
        Err(err) => {
            eprintln!("cordon-setup: {err}");
            ExitCode::from(command::exit_status(&err))
        }
    }
}
