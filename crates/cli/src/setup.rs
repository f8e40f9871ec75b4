//! `cordon setup`: prepares a Windows machine for elevated mode, checks,
//! refreshes or removes that setup (the `cordon_setup` crate does the
//! work). Applying and removing need elevation: an unelevated `cordon
//! setup` starts `cordon-setup.exe` through the UAC prompt and waits for it.

use std::path::{Path, PathBuf};

use cordon_setup::{SetupError, SetupOptions};

/// `cordon setup` arguments.
#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// Show what is in place and what is pending; change nothing. Exit
    /// status 0 when everything is in place, 1 otherwise.
    #[arg(long, conflicts_with_all = ["remove", "refresh"])]
    check: bool,
    /// Undo the setup recorded in the state directory.
    #[arg(long, conflicts_with = "refresh")]
    remove: bool,
    /// Add writable roots you own, without elevation.
    #[arg(long)]
    refresh: bool,
    /// A directory the sandbox users may modify (repeatable).
    #[arg(long = "root", value_name = "DIR")]
    roots: Vec<PathBuf>,
    /// Where the credentials and the marker live [default: %LOCALAPPDATA%\cordon].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Print the report or status as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `cordon setup`; its exit status.
pub fn run(args: &SetupArgs) -> i32 {
    match execute(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("cordon: {err}");
            // Every code is below 256: the exit status is the number.
            (err.number() % 256) as i32
        }
    }
}

fn execute(args: &SetupArgs) -> Result<i32, SetupError> {
    let options = SetupOptions {
        state_dir: args.state_dir.as_deref().map(absolute),
        writable_roots: args.roots.iter().map(|root| absolute(root)).collect(),
        ..SetupOptions::default()
    };
    if args.check {
        let status = cordon_setup::check(&options)?;
        print(&status, args.json);
        return Ok(if status.is_complete() { 0 } else { 1 });
    }
    if args.refresh {
        print(&cordon_setup::refresh(&options)?, args.json);
        return Ok(0);
    }
    if !cordon_setup::is_elevated() {
        // The elevated process gets the administrator's profile: hand it
        // absolute paths, the state directory included.
        let mut forwarded = vec![if args.remove { "remove" } else { "apply" }.to_string()];
        forwarded.push("--state-dir".into());
        forwarded.push(options.state_dir()?.to_string_lossy().into_owned());
        for root in &options.writable_roots {
            forwarded.push("--root".into());
            forwarded.push(root.to_string_lossy().into_owned());
        }
        return cordon_setup::elevate_and_wait(&forwarded);
    }
    let report = if args.remove {
        cordon_setup::remove(&options.state_dir()?)?
    } else {
        cordon_setup::apply(&options)?
    };
    print(&report, args.json);
    Ok(0)
}

fn print<T: serde::Serialize + std::fmt::Display>(value: &T, json: bool) {
    if json {
        println!("{}", serde_json::to_string(value).unwrap_or_default());
    } else {
        print!("{value}");
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
