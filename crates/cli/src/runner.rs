//! Which runner the `cordon` command starts. `cordon` embeds the runner
//! (`cordon __runner …` is `cordon-runner …`), so one `cargo install` of
//! this crate is a complete cordon, and a command never meets a runner of
//! another build; `$CORDON_RUNNER` names a separate runner instead.

use std::ffi::OsString;

use cordon::{LaunchOptions, Policy, RUNNER_ENV};

/// The hidden subcommand that runs the embedded runner.
pub const SUBCOMMAND: &str = "__runner";

/// If `cordon` was started as the runner (`cordon __runner ARGS`), the
/// runner's argument list (`cordon-runner ARGS`).
pub fn embedded_args() -> Option<Vec<OsString>> {
    let mut args = std::env::args_os();
    let program = args.next()?;
    if args.next()? != SUBCOMMAND {
        return None;
    }
    Some(std::iter::once(program).chain(args).collect())
}

/// Launch options for `policy` that start `$CORDON_RUNNER` if it is set,
/// else this executable as the embedded runner.
pub fn launch_options(policy: Policy) -> anyhow::Result<LaunchOptions> {
    let options = LaunchOptions::new(policy);
    if std::env::var_os(RUNNER_ENV).is_some() {
        return Ok(options.runner(cordon::locate_runner(None)?));
    }
    let exe =
        std::env::current_exe().map_err(|e| anyhow::anyhow!("cannot find cordon's own executable: {e}"))?;
    Ok(options.embedded_runner(exe, [SUBCOMMAND]))
}
