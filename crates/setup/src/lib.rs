//! `cordon setup`: prepares a Windows machine for cordon's elevated mode,
//! checks what is in place, refreshes it for new writable roots, and
//! removes it.
//!
//! What setup does is the plan of [`plan`] (pure, tested on every OS): a
//! group and two sandbox users (one kept off the network by a firewall
//! rule), hidden from the logon screen; an inheritable allow-modify ACE for
//! the group on each writable root and a deny-write ACE on each protected
//! path beneath it; the users' passwords, protected with DPAPI for the user
//! who ran setup ([`credentials`]); and a marker, written last. This crate
//! observes the machine, asks the plan what is pending, and carries it out.
//!
//! - [`apply`] and [`remove`] change accounts, the registry and the
//!   firewall: they need an elevated process ([`is_elevated`]); the
//!   `cordon-setup` executable asks for elevation when it starts, and
//!   [`elevate_and_wait`] starts the running executable again, elevated.
//! - [`check`] only looks, and [`refresh`] only grants the group access to
//!   new roots the calling user owns: neither needs elevation.
//!
//! Every function returns a [`SetupError`] with a stable code. On other
//! systems than Windows every function fails with
//! [`ErrorCode::NotWindows`].
//!
//! ```no_run
//! use std::path::PathBuf;
//! use cordon_setup::SetupOptions;
//!
//! let options = SetupOptions::new(vec![PathBuf::from(r"C:\work")]);
//! let status = cordon_setup::check(&options)?;
//! if !status.is_complete() {
//!     print!("{status}");
//! }
//! # Ok::<(), cordon_setup::SetupError>(())
//! ```

#![warn(missing_docs)]

pub mod command;
pub mod credentials;
mod error;
mod files;
mod host;
pub mod launches;
mod matching;
mod observe;
pub mod plan;
mod report;
mod steps;
mod sys;

#[cfg(test)]
mod fake;

use std::path::{Path, PathBuf};

use crate::plan::{SETUP_VERSION, SetupConfig, SetupMarker, SetupPlan, remove_plan};
use cordon_sandbox::windows::path;

pub use error::{ErrorCode, SetupError};
pub use launches::LaunchChange;
pub use report::{Action, ItemState, Outcome, SetupReport, SetupStatus, StatusItem};

use host::Host;
use observe::{marker_path, observe, read_marker};
use steps::{Executor, check_accounts_for_removal, check_accounts_for_setup, missing_root, owner_may_do};

/// The state directory's name under `%LOCALAPPDATA%`.
pub const STATE_DIR_NAME: &str = "cordon";

/// What to set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupOptions {
    /// Where the credentials and the marker live; `None` for
    /// [`default_state_dir`].
    pub state_dir: Option<PathBuf>,
    /// Roots the sandbox users may modify (absolute, existing).
    pub writable_roots: Vec<PathBuf>,
    /// Entries of each root that stay read-only.
    pub protected_names: Vec<String>,
}

impl SetupOptions {
    /// Options for these roots, with the default state directory and
    /// protected names (`.git`, `.cordon`).
    pub fn new(writable_roots: Vec<PathBuf>) -> Self {
        SetupOptions {
            state_dir: None,
            writable_roots,
            protected_names: cordon_sandbox::DEFAULT_PROTECTED_NAMES.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The state directory: the one given, else [`default_state_dir`].
    pub fn state_dir(&self) -> Result<PathBuf, SetupError> {
        match &self.state_dir {
            Some(dir) => Ok(dir.clone()),
            None => default_state_dir(),
        }
    }

    /// The plan's configuration: these roots, names and state directory,
    /// with the default accounts.
    pub fn config(&self) -> Result<SetupConfig, SetupError> {
        let mut config = SetupConfig::new(self.state_dir()?, self.writable_roots.clone());
        config.protected_names = self.protected_names.clone();
        Ok(config)
    }
}

impl Default for SetupOptions {
    fn default() -> Self {
        SetupOptions::new(Vec::new())
    }
}

/// `%LOCALAPPDATA%\cordon`: a directory only the user can write, and not in
/// the roaming profile (the credentials only open on this machine).
pub fn default_state_dir() -> Result<PathBuf, SetupError> {
    // Elsewhere than Windows there is no such directory to speak of.
    sys::System::new()?;
    match std::env::var_os("LOCALAPPDATA") {
        Some(dir) if !dir.is_empty() => Ok(path::join(Path::new(&dir), STATE_DIR_NAME)),
        _ => Err(SetupError::new(
            ErrorCode::NoStateDir,
            "%LOCALAPPDATA% is not set: give the state directory (--state-dir)",
        )),
    }
}

/// Sets the machine up as `options` say: observes it, undoes what an
/// earlier setup made that these options no longer want, carries out the
/// pending steps, and writes the marker last. Running it again changes
/// nothing. Needs an elevated process.
pub fn apply(options: &SetupOptions) -> Result<SetupReport, SetupError> {
    apply_on(&mut sys::System::new()?, options)
}

/// What of the setup `options` describe is in place, and what is pending.
/// Changes nothing; needs no elevation.
pub fn check(options: &SetupOptions) -> Result<SetupStatus, SetupError> {
    check_on(&mut sys::System::new()?, options)
}

/// Undoes what launches recorded in `state_dir` ([`undo_launches`]), then
/// the setup recorded in its marker, in reverse order, and deletes the
/// credentials and the marker. Deletes only accounts setup made (and users
/// in the marker's group); refuses before removing anything otherwise.
/// Needs an elevated process when a setup is recorded;
/// [`ErrorCode::NotSetUp`] when neither a setup nor a launch's change is.
pub fn remove(state_dir: &Path) -> Result<SetupReport, SetupError> {
    remove_on(&mut sys::System::new()?, state_dir)
}

/// Records in `state_dir` the ACEs and labels a launch is about to put
/// on the user's files, each change once, so that [`undo_launches`] (and
/// `cordon setup --remove`) can take them off again. Call it before
/// making the changes: a change made and not recorded would stay for good.
pub fn record_launch_changes(state_dir: &Path, changes: &[LaunchChange]) -> Result<(), SetupError> {
    launches::record_on(&mut sys::System::new()?, state_dir, changes)
}

/// Takes off what launches recorded in `state_dir` put on the user's
/// files: grants first, a protection only once every grant is gone. What
/// cannot be undone is reported [`Outcome::Kept`] and stays recorded.
/// Needs no elevation (the user owns what launches changed). Run it while
/// no sandbox starts: a launch records its changes before it makes them,
/// and one that starts meanwhile may find its grant taken off.
pub fn undo_launches(state_dir: &Path) -> Result<SetupReport, SetupError> {
    launches::undo_on(&mut sys::System::new()?, state_dir)
}

/// Whether `state_dir` holds a setup's marker (and removing it needs
/// elevation).
pub fn is_set_up(state_dir: &Path) -> Result<bool, SetupError> {
    Ok(read_marker(&mut sys::System::new()?, state_dir)?.is_some())
}

/// Adds `options.writable_roots` that the marker does not list yet, without
/// elevation: grants the group write on them and denies it on their
/// protected paths (the caller must own each new root), and updates the
/// marker. The accounts and protected names stay the marker's. Fails with
/// [`ErrorCode::NeedsElevation`] when anything else is pending.
pub fn refresh(options: &SetupOptions) -> Result<SetupReport, SetupError> {
    refresh_on(&mut sys::System::new()?, options)
}

/// Whether this process runs elevated (with an administrator's full token).
/// Always false elsewhere than Windows.
pub fn is_elevated() -> bool {
    sys::System::new().map(|mut system| system.is_elevated()).unwrap_or(false)
}

/// Starts the running executable itself again with `args`, elevated (the
/// UAC prompt), waits for it and returns its exit code (0, or the number of
/// its [`SetupError`]). [`ErrorCode::ElevationDeclined`] if the prompt is
/// declined. Never another file found beside it: a `cordon` built or kept
/// in a directory a sandbox may write (a workspace's `target\`) would
/// otherwise elevate whatever the sandbox left there under that name,
/// while the running executable is the one the user chose to run.
///
/// The elevated process has a console of its own, so its messages do not
/// reach the caller. Pass absolute paths and `--state-dir` explicitly: when
/// a standard user elevates with an administrator's credentials, the
/// elevated process runs as that administrator, with the administrator's
/// `%LOCALAPPDATA%`, and the passwords it stores are protected for the
/// administrator, not for the user who will run sandboxes.
pub fn elevate_and_wait(args: &[String]) -> Result<i32, SetupError> {
    sys::elevate_and_wait(args)
}

/// The command line that passes `args` to a program as they are (the C
/// runtime's quoting rules).
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) fn command_parameters(args: &[String]) -> String {
    let mut line = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        cordon_sandbox::windows::command_line::quote_arg(arg, &mut line);
    }
    line
}

fn not_elevated(what: &str) -> SetupError {
    SetupError::new(
        ErrorCode::NotElevated,
        format!("{what} needs an elevated process (run cordon-setup as administrator)"),
    )
}

fn check_roots_exist(host: &mut impl Host, roots: &[PathBuf]) -> Result<(), SetupError> {
    match roots.iter().find(|root| !host.path_exists(root)) {
        Some(root) => Err(missing_root(root)),
        None => Ok(()),
    }
}

fn check_marker_version(marker: Option<&SetupMarker>) -> Result<(), SetupError> {
    match marker {
        Some(marker) if marker.version > SETUP_VERSION => Err(SetupError::new(
            ErrorCode::BadMarker,
            format!(
                "the machine was set up by a newer cordon (setup version {}, this one knows {SETUP_VERSION})",
                marker.version
            ),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn apply_on(host: &mut impl Host, options: &SetupOptions) -> Result<SetupReport, SetupError> {
    let plan = SetupPlan::compute(&options.config()?)?;
    if !host.is_elevated() {
        return Err(not_elevated("cordon setup"));
    }
    check_roots_exist(host, &plan.marker().writable_roots)?;
    let marker = read_marker(host, &plan.marker().state_dir)?;
    check_marker_version(marker.as_ref())?;
    check_accounts_for_setup(host, &plan)?;
    let observation = observe(host, &plan, marker.clone())?;
    let obsolete = plan.obsolete(&observation.state)?;
    if let Some(old) = &marker {
        check_accounts_for_removal(host, &obsolete, &old.group)?;
    }
    let mut executor = Executor::new(host);
    for step in &obsolete {
        executor.undo(step)?;
    }
    for step in plan.pending(&observation.state) {
        executor.run(step)?;
    }
    let report = executor.report;
    for step in plan.steps() {
        if let plan::SetupStep::FirewallBlockOutbound(rule) = step {
            verify_block_on(host, rule)?;
        }
    }
    Ok(report)
}

/// Fails with [`ErrorCode::FirewallIneffective`] unless `rule` (the
/// offline user's) is in place and the firewall enforces it (on for every
/// profile, local rules applied), and the user's filtering-platform
/// filters are there and whole: they alone block loopback.
fn verify_block_on(host: &mut impl Host, rule: &plan::FirewallRule) -> Result<(), SetupError> {
    let sid = observe::sid_of(host, &rule.user, host::AccountKind::User)?
        .ok_or_else(|| SetupError::new(ErrorCode::Accounts, format!("user {} does not exist", rule.user)))?;
    let in_place = host.has_firewall_rule(rule, &sid)?;
    let filters_in_force = host.has_wfp_filters(&plan::WfpFilter::block_all(&rule.user))?;
    let gaps = matching::offline_block_gaps(&host.firewall_switches()?, in_place, filters_in_force);
    if gaps.is_empty() {
        return Ok(());
    }
    Err(SetupError::new(
        ErrorCode::FirewallIneffective,
        format!(
            "the offline user {} would not be kept off the network: {}; turn the firewall on for every \
             profile (and let local rules apply), then run `cordon setup` again",
            rule.user,
            gaps.join("; ")
        ),
    ))
}

/// Whether the firewall keeps the offline user `user` off the network
/// now: its rule there, unchanged, the firewall on for every profile and
/// local rules applied, the filters that block loopback there and whole
/// ([`plan::WfpFilter::is_in_force`]); [`ErrorCode::FirewallIneffective`] with every gap
/// otherwise. Needs no elevation. A launch that relies on the block checks
/// it first, every time: the rule, or the firewall, may be gone since
/// setup.
pub fn verify_offline_block(user: &str) -> Result<(), SetupError> {
    verify_block_on(&mut sys::System::new()?, &plan::FirewallRule::block_outbound(user))
}

pub(crate) fn check_on(host: &mut impl Host, options: &SetupOptions) -> Result<SetupStatus, SetupError> {
    let plan = SetupPlan::compute(&options.config()?)?;
    let marker = read_marker(host, &plan.marker().state_dir)?;
    let marker_version = marker.as_ref().map(|m| m.version);
    let observation = observe(host, &plan, marker)?;
    let pending = plan.pending(&observation.state);
    let items = plan
        .steps()
        .iter()
        .map(|step| {
            let state = if pending.iter().any(|p| std::ptr::eq(*p, step)) {
                ItemState::Pending
            } else if step.ace().is_some_and(|(path, _, _)| observation.absent.iter().any(|a| a == path)) {
                ItemState::Absent
            } else {
                ItemState::Done
            };
            StatusItem { step: step.to_string(), state }
        })
        .collect();
    let obsolete = plan.obsolete(&observation.state)?.iter().map(ToString::to_string).collect();
    Ok(SetupStatus { marker_version, items, obsolete })
}

pub(crate) fn remove_on(host: &mut impl Host, state_dir: &Path) -> Result<SetupReport, SetupError> {
    let marker = read_marker(host, state_dir)?;
    if marker.is_some() && !host.is_elevated() {
        return Err(not_elevated("cordon setup remove"));
    }
    let Some(marker) = marker else {
        if !launches::any_recorded(host, state_dir)? {
            return Err(SetupError::new(
                ErrorCode::NotSetUp,
                format!(
                    "neither a setup nor a launch's change is recorded in {}: nothing to remove",
                    state_dir.display()
                ),
            ));
        }
        return launches::undo_on(host, state_dir);
    };
    let steps = remove_plan(&marker)?;
    check_accounts_for_removal(host, &steps, &marker.group)?;
    let mut report = launches::undo_on(host, state_dir)?;
    let mut executor = Executor::new(host);
    for step in &steps {
        executor.undo(step)?;
    }
    report.extend(executor.report);
    Ok(report)
}

pub(crate) fn refresh_on(host: &mut impl Host, options: &SetupOptions) -> Result<SetupReport, SetupError> {
    let state_dir = options.state_dir()?;
    let Some(marker) = read_marker(host, &state_dir)? else {
        return Err(SetupError::new(
            ErrorCode::NotSetUp,
            format!(
                "no setup is recorded in {}: run `cordon setup` first",
                marker_path(&state_dir).display()
            ),
        ));
    };
    check_marker_version(Some(&marker))?;
    let mut config = marker.config();
    let new_roots: Vec<PathBuf> = options
        .writable_roots
        .iter()
        .filter(|root| {
            !config.writable_roots.iter().any(|known| path::normalize(known) == path::normalize(root))
        })
        .cloned()
        .collect();
    config.writable_roots.extend(new_roots.iter().cloned());
    let plan = SetupPlan::compute(&config)?;
    check_roots_exist(host, &new_roots)?;
    for root in &new_roots {
        if !host.owned_by_caller(root)? {
            return Err(SetupError::new(
                ErrorCode::NotOwner,
                format!(
                    "{} is not yours: only an elevated `cordon setup` may grant the sandbox users write on it",
                    root.display()
                ),
            ));
        }
    }
    let observation = observe(host, &plan, Some(marker))?;
    let pending = plan.pending(&observation.state);
    let elevated_only: Vec<String> =
        pending.iter().filter(|step| !owner_may_do(step)).map(|step| step.to_string()).collect();
    if !elevated_only.is_empty() {
        return Err(SetupError::new(
            ErrorCode::NeedsElevation,
            format!("run `cordon setup` (elevated): pending {}", elevated_only.join("; ")),
        ));
    }
    for step in &pending {
        if let Some((path, _, _)) = step.ace()
            && host.path_exists(path)
            && !host.owned_by_caller(path)?
        {
            return Err(SetupError::new(
                ErrorCode::NotOwner,
                format!("{} is not yours: run `cordon setup` (elevated) to {step}", path.display()),
            ));
        }
    }
    let mut executor = Executor::new(host);
    for step in pending {
        executor.run(step)?;
    }
    Ok(executor.report)
}

#[cfg(test)]
mod tests;
