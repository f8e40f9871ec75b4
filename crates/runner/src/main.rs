//! The `cordon-runner` executable.

fn main() -> std::process::ExitCode {
    cordon_runner::command::main(std::env::args_os())
}
