//! Who the runner runs as, decided and prepared before it starts: the
//! caller under a restricted token (with the grants and denies it needs
//! applied), or the sandbox user of `cordon setup`, and what the pipes
//! must let it open.

use std::io;
use std::os::windows::io::OwnedHandle;
use std::path::PathBuf;

use cordon_sandbox::windows::accounts::{
    CREDENTIALS_FILE, DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER, MARKER_FILE,
};
use cordon_sandbox::windows::enforcement::{Identity as Confinement, launch_check};
use cordon_sandbox::windows::integrity::Label;
use cordon_sandbox::windows::sddl::AceKind;
use cordon_sandbox::windows::sddl::PipeIdentity;
use cordon_sandbox::windows::token::{
    AceStep, elevated_launch_aces, foreign_roots, request_file_ace, restricted_launch_plan,
};

use cordon_sandbox::placeholders::{Placeholders, placeholder_points};
use cordon_setup::LaunchChange;

use super::{launch_error, security};
use crate::options::WindowsMode;
use crate::sys::RunnerLaunch;
use crate::{Error, Result};

/// The runner's security context and what the pipes' DACL must grant.
pub(super) struct Context {
    pub(super) identity: Identity,
    pub(super) pipe_identity: PipeIdentity,
    /// Held until the runner is gone, then removed.
    pub(super) placeholders: Placeholders,
}

/// Who the runner runs as.
pub(super) enum Identity {
    /// The caller, under this restricted token (or its own, for a policy
    /// that confines nothing).
    Caller(Option<OwnedHandle>),
    /// The sandbox user of `cordon setup`, with its SID.
    SandboxUser(SandboxAccount, String),
}

/// Elevated mode once `cordon setup` has stored the sandbox users'
/// credentials, restricted-token mode until then.
fn default_mode() -> WindowsMode {
    match cordon_setup::default_state_dir() {
        Ok(dir) if dir.join(MARKER_FILE).is_file() && dir.join(CREDENTIALS_FILE).is_file() => {
            WindowsMode::Elevated
        }
        _ => WindowsMode::RestrictedToken,
    }
}

/// Refuses a policy `mode` cannot enforce (unless it says best effort)
/// before anything is started or written: the same check the runner makes
/// of itself once it runs.
fn check_mode(policy: &cordon_sandbox::Policy, mode: WindowsMode) -> Result<()> {
    let (confinement, name) = match mode {
        WindowsMode::RestrictedToken => (Confinement::RestrictedToken, "restricted-token mode"),
        WindowsMode::Elevated => (Confinement::SandboxUser { offline: !policy.network }, "elevated mode"),
    };
    launch_check(policy, &confinement).map(drop).map_err(|e| Error::Launch(format!("{name}: {e}")))
}

/// Decides who the runner runs as, and prepares it (the restricted token,
/// the grants on writable roots, the denies, the sandbox user's SID).
pub(super) fn context(spec: &RunnerLaunch<'_>) -> Result<Context> {
    let token = security::own_token().map_err(|e| launch_error("opening the process token", e))?;
    let user = cordon_win::token_user_sid(&token).map_err(|e| launch_error("reading the user SID", e))?;
    let logon = cordon_win::token_logon_sid(&token).map_err(|e| launch_error("reading the logon SID", e))?;
    let mode = spec.windows_mode.unwrap_or_else(default_mode);
    let policy = spec.policy;
    if policy.is_confining() {
        check_mode(policy, mode)?;
    }
    let fs = &policy.filesystem;
    // The directories: the Unix devices of a written-out policy are no
    // Windows paths (under Wine they would be, on drive Z:).
    let roots: Vec<PathBuf> = fs.writable_dirs().cloned().collect();
    let mut placeholders = Placeholders::default();
    let identity = match (mode, policy.is_confining()) {
        (_, false) => Identity::Caller(None),
        (WindowsMode::Elevated, true) => {
            let account = SandboxAccount::for_policy(policy)?;
            if !policy.network {
                check_offline_block(&account.user, policy.best_effort)?;
            }
            let sid = security::account_sid(&account.user)
                .map_err(|e| launch_error(&format!("the sandbox user {}", account.user), e))?;
            check_root_owners(&roots, &user)?;
            let aces = elevated_launch_aces(&roots, &fs.protected, &fs.deny, &sid)
                .map_err(|e| Error::Launch(format!("elevated launch plan: {e}")))?;
            let points = placeholder_points(&fs.protected, &roots);
            record_changes(&aces, &[], &points);
            placeholders = hold_placeholders(&points, policy.best_effort)?;
            apply_aces(&aces, policy.best_effort)?;
            Identity::SandboxUser(account, sid)
        }
        (WindowsMode::RestrictedToken, true) => {
            let logon = logon.clone().ok_or_else(|| {
                Error::Launch("the process token has no logon SID to restrict the runner with".into())
            })?;
            let plan = restricted_launch_plan(&roots, &fs.protected, &fs.deny, &logon)
                .map_err(|e| Error::Launch(format!("restricted token plan: {e}")))?;
            let points = placeholder_points(&fs.protected, &roots);
            record_changes(
                &plan.aces,
                &[(&plan.low_labels, Label::LowTree), (&plan.medium_labels, Label::MediumTree)],
                &points,
            );
            placeholders = hold_placeholders(&points, policy.best_effort)?;
            apply_aces(&plan.aces, policy.best_effort)?;
            apply_labels(&plan.low_labels, Label::LowTree, false)?;
            apply_labels(&plan.medium_labels, Label::MediumTree, policy.best_effort)?;
            Identity::Caller(Some(
                cordon_sandbox::restricted_token(&token, &plan.token)
                    .map_err(|e| launch_error("creating the restricted token", e))?,
            ))
        }
    };
    let pipe_identity = match (&identity, &logon) {
        (Identity::SandboxUser(_, sid), _) => {
            PipeIdentity::SandboxUser { runner_sid: sid.clone(), owner_sid: user.clone() }
        }
        (Identity::Caller(_), Some(logon_sid)) => {
            PipeIdentity::RestrictedToken { user_sid: user.clone(), logon_sid: logon_sid.clone() }
        }
        (Identity::Caller(_), None) => {
            PipeIdentity::SandboxUser { runner_sid: user.clone(), owner_sid: user.clone() }
        }
    };
    Ok(Context { identity, pipe_identity, placeholders })
}

impl Context {
    /// Lets the runner read and delete `request` (the one-shot bootstrap's
    /// file, in a directory of the user's alone): a grant on its directory
    /// for the sandbox user, or for the logon SID a restricted token is
    /// checked against. A runner that is the caller itself needs none.
    pub(super) fn grant_request_file(&self, request: &std::path::Path) -> Result<()> {
        let reader = match (&self.identity, &self.pipe_identity) {
            (Identity::SandboxUser(_, sid), _) => sid,
            (Identity::Caller(Some(_)), PipeIdentity::RestrictedToken { logon_sid, .. }) => logon_sid,
            _ => return Ok(()),
        };
        let ace =
            request_file_ace(request, reader).map_err(|e| Error::Launch(format!("request file: {e}")))?;
        apply_aces(std::slice::from_ref(&ace), false)?;
        if matches!(self.identity, Identity::Caller(_)) {
            // The Low runner deletes the file it has read.
            apply_labels(&[ace.path], Label::LowTree, false)?;
        }
        Ok(())
    }
}

/// Records what the launch is about to put on the user's files, so that
/// `cordon setup --remove` takes it off again. A launch that cannot record
/// goes on with a warning: restricted-token mode needs no setup and no
/// state directory, and the record only serves undoing, not the sandbox.
/// The request file's grant is not recorded: its directory is the
/// launch's own, and deleted with it.
fn record_changes(aces: &[AceStep], labels: &[(&[PathBuf], Label)], placeholders: &[PathBuf]) {
    let changes: Vec<LaunchChange> = aces
        .iter()
        .map(LaunchChange::ace)
        .chain(
            labels
                .iter()
                .flat_map(|(paths, label)| paths.iter().filter_map(|path| LaunchChange::label(path, *label))),
        )
        .chain(placeholders.iter().map(|path| LaunchChange::placeholder(path)))
        .collect();
    let recorded = cordon_setup::default_state_dir()
        .and_then(|state_dir| cordon_setup::record_launch_changes(&state_dir, &changes));
    if let Err(err) = recorded {
        tracing::warn!(%err, "the launch's ACEs and labels are not recorded; `cordon setup --remove` will not undo them");
    }
}

/// Makes the placeholders of the protected paths that do not exist, before
/// the ACEs and labels (which then protect them too), failing closed
/// unless the policy says best effort: without its placeholder the sandbox
/// could create a protected path.
fn hold_placeholders(points: &[PathBuf], best_effort: bool) -> Result<Placeholders> {
    match cordon_sandbox::placeholders::hold(points) {
        Ok(placeholders) => Ok(placeholders),
        Err(e) if best_effort => {
            tracing::warn!(%e, "best effort: a protected path that does not exist has no placeholder");
            Ok(Placeholders::default())
        }
        Err(e) => Err(launch_error("holding the protected paths that do not exist", e)),
    }
}

/// Adds the plan's ACEs before the runner starts, failing closed: a launch
/// whose grant cannot be applied is refused, and so is one whose deny
/// cannot, unless the policy says best effort (the runner then reports
/// the gap). A protected or denied path that does not exist has no DACL to
/// carry a deny and is skipped (see the limits in docs/windows.md).
fn apply_aces(aces: &[AceStep], best_effort: bool) -> Result<()> {
    for ace in aces {
        match cordon_sandbox::acl::add_ace(&ace.path, &ace.sid, ace.kind) {
            Ok(()) => {}
            Err(e) if ace.kind != AceKind::AllowModify && is_missing(&e) => {
                tracing::debug!(path = %ace.path.display(), "protected or denied path absent: no deny ACE");
            }
            Err(e) if ace.kind != AceKind::AllowModify && best_effort => {
                tracing::warn!(path = %ace.path.display(), %e, "best effort: no deny ACE");
            }
            Err(e) => {
                let what = match ace.kind {
                    AceKind::AllowModify => "granting write on",
                    AceKind::DenyWrite => "denying write on",
                    AceKind::DenyAll => "denying the sandbox user",
                };
                return Err(launch_error(&format!("{what} {}", ace.path.display()), e));
            }
        }
    }
    Ok(())
}

/// Refuses an elevated launch that names a writable root another user
/// owns ([`foreign_roots`]), before anything is granted.
fn check_root_owners(roots: &[PathBuf], caller_sid: &str) -> Result<()> {
    let owners = roots
        .iter()
        .map(|root| {
            let owner = cordon_sandbox::acl::owner_sid(root)
                .map_err(|e| launch_error(&format!("reading the owner of {}", root.display()), e))?;
            Ok((root.clone(), owner))
        })
        .collect::<Result<Vec<_>>>()?;
    match foreign_roots(&owners, caller_sid).first() {
        None => Ok(()),
        Some((root, owner)) => Err(Error::Launch(format!(
            "elevated mode: {} is owned by {owner}, not by you ({caller_sid}): the sandbox accounts are \
             shared by this machine's users, so a sandbox may be given only directories you own",
            root.display()
        ))),
    }
}

/// Refuses an offline launch the firewall would not keep off the network
/// (its rule gone or changed, the firewall off for a profile, local rules
/// overridden), checked at every launch: any of it may have changed since
/// `cordon setup`. With best effort the launch goes on, and says so.
fn check_offline_block(user: &str, best_effort: bool) -> Result<()> {
    match cordon_setup::verify_offline_block(user) {
        Ok(()) => Ok(()),
        Err(e) if best_effort => {
            tracing::warn!(%e, "best effort: the network may not be blocked");
            Ok(())
        }
        Err(e) => Err(Error::Launch(format!("elevated mode cannot keep {user} off the network: {e}"))),
    }
}

/// Gives each path `label` before the runner starts, failing closed: a
/// root that cannot be labelled Low refuses the launch (the Low runner
/// could write none of it), and so does a protected path that cannot be
/// labelled Medium, unless `best_effort` (its deny ACE still holds). A
/// protected path that does not exist has nothing to carry a label and is
/// skipped, as its deny ACE is.
fn apply_labels(paths: &[PathBuf], label: Label, best_effort: bool) -> Result<()> {
    for path in paths {
        match cordon_sandbox::acl::set_label(path, label) {
            Ok(()) => {}
            Err(e) if label == Label::MediumTree && is_missing(&e) => {
                tracing::debug!(path = %path.display(), "protected path absent: no label");
            }
            Err(e) if best_effort => tracing::warn!(path = %path.display(), %e, "best effort: no label"),
            Err(e) => return Err(launch_error(&format!("labelling {} ({label:?})", path.display()), e)),
        }
    }
    Ok(())
}

/// `ERROR_FILE_NOT_FOUND` or `ERROR_PATH_NOT_FOUND`.
fn is_missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// A sandbox user and where its credentials are.
pub(super) struct SandboxAccount {
    pub(super) user: String,
    state_dir: PathBuf,
}

impl SandboxAccount {
    /// The offline user for a policy without network, the online one
    /// otherwise.
    fn for_policy(policy: &cordon_sandbox::Policy) -> Result<Self> {
        let state_dir =
            cordon_setup::default_state_dir().map_err(|e| Error::Launch(format!("elevated mode: {e}")))?;
        if !state_dir.join(CREDENTIALS_FILE).is_file() {
            return Err(Error::Launch(format!(
                "elevated mode needs `cordon setup` first: no sandbox user credentials in {}",
                state_dir.display()
            )));
        }
        let user = if policy.network { DEFAULT_ONLINE_USER } else { DEFAULT_OFFLINE_USER };
        Ok(SandboxAccount { user: user.to_string(), state_dir })
    }

    pub(super) fn password(&self) -> Result<String> {
        let credentials = cordon_setup::credentials::load(&self.state_dir)
            .map_err(|e| Error::Launch(format!("elevated mode needs `cordon setup` (credentials: {e})")))?;
        credentials
            .password(&self.user)
            .map_err(|e| Error::Launch(format!("credentials of {}: {e}", self.user)))
    }
}
