//! Sandbox tokens made from a [`RestrictedTokenPlan`]: the runner's in
//! restricted-token mode (made by the client), and the one a runner that
//! is a sandbox user gives its commands (made by the runner), written once.

use std::io;
use std::os::windows::io::OwnedHandle;

use cordon_win::Restriction;

use crate::windows::token::RestrictedTokenPlan;

/// A primary token like `token` (opened with `TOKEN_DUPLICATE`,
/// `TOKEN_QUERY`, `TOKEN_ASSIGN_PRIMARY` and `TOKEN_ADJUST_DEFAULT`),
/// restricted as `plan` says: its flags, deny-only groups and restricting
/// SIDs, at the plan's integrity level, with its default DACL. A step that
/// fails fails the whole: no token is handed out half made. Of the plan's
/// deny-only groups, those `token` holds are named (a standard user's
/// token holds none of them).
pub fn restricted_token(token: &OwnedHandle, plan: &RestrictedTokenPlan) -> io::Result<OwnedHandle> {
    let held: Vec<String> = cordon_win::token_groups(token)?.into_iter().map(|(sid, _)| sid).collect();
    let disabled: Vec<String> = plan
        .deny_only
        .iter()
        .filter(|sid| held.iter().any(|h| h.eq_ignore_ascii_case(sid)))
        .cloned()
        .collect();
    let restriction =
        Restriction { flags: plan.flags, disabled: &disabled, restricting: &plan.restricting_sids };
    let restricted = cordon_win::restricted_token(token, restriction)?;
    cordon_win::set_integrity_level(&restricted, &plan.integrity.sid())?;
    cordon_win::set_default_dacl(&restricted, &plan.default_dacl)?;
    Ok(restricted)
}
