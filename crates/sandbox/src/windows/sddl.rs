//! Security descriptors in SDDL: the DACL of the control pipe, and the ACEs
//! cordon adds to files and directories.
//!
//! Every function takes SID strings and refuses one that is not a valid SID
//! ([`is_valid_sid`](super::sid::is_valid_sid)), so no input can add an ACE
//! of its own. The strings are what
//! `ConvertStringSecurityDescriptorToSecurityDescriptorW` takes.

use super::integrity::Label;
use super::sid::{InvalidSid, check_sid, is_logon_sid};

/// `READ_CONTROL`: read the security descriptor. Part of every
/// `FILE_GENERIC_*` mask (as `STANDARD_RIGHTS_READ/WRITE/EXECUTE`).
pub const READ_CONTROL: u32 = 0x0002_0000;
/// `SYNCHRONIZE`: wait on the handle. Part of every `FILE_GENERIC_*` mask,
/// and needed to open a file for synchronous I/O.
pub const SYNCHRONIZE: u32 = 0x0010_0000;
/// `DELETE`: delete (or rename) the object itself.
pub const DELETE: u32 = 0x0001_0000;
/// `WRITE_DAC`: change the object's DACL.
pub const WRITE_DAC: u32 = 0x0004_0000;
/// `WRITE_OWNER`: change the object's owner.
pub const WRITE_OWNER: u32 = 0x0008_0000;
/// `FILE_DELETE_CHILD`: delete (or rename) any entry of a directory,
/// whatever the entry's own DACL says.
pub const FILE_DELETE_CHILD: u32 = 0x0000_0040;

/// `FILE_WRITE_DATA` (add a file, in a directory), `FILE_APPEND_DATA` (add a
/// subdirectory), `FILE_WRITE_EA`, `FILE_WRITE_ATTRIBUTES`: the rights that
/// change a file's content or metadata.
pub const FILE_WRITE_RIGHTS: u32 = 0x0000_0002 | 0x0000_0004 | 0x0000_0010 | 0x0000_0100;

/// `FILE_GENERIC_READ` = `FILE_READ_DATA | FILE_READ_EA |
/// FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE`.
pub const FILE_GENERIC_READ: u32 = 0x0000_0001 | 0x0000_0008 | 0x0000_0080 | READ_CONTROL | SYNCHRONIZE;
/// `FILE_GENERIC_WRITE` = [`FILE_WRITE_RIGHTS`] `| READ_CONTROL | SYNCHRONIZE`.
pub const FILE_GENERIC_WRITE: u32 = FILE_WRITE_RIGHTS | READ_CONTROL | SYNCHRONIZE;
/// `FILE_GENERIC_EXECUTE` = `FILE_EXECUTE | FILE_READ_ATTRIBUTES |
/// READ_CONTROL | SYNCHRONIZE`.
pub const FILE_GENERIC_EXECUTE: u32 = 0x0000_0020 | 0x0000_0080 | READ_CONTROL | SYNCHRONIZE;

/// "Modify" (`0x1301bf`): read, write, execute and delete the object. Not
/// [`FILE_DELETE_CHILD`]: with it, the holder of a writable root could
/// delete or rename a protected entry of the root (`.git`) whatever that
/// entry's deny ACE says. Not `WRITE_DAC` or `WRITE_OWNER` either.
pub const MODIFY: u32 = FILE_GENERIC_READ | FILE_GENERIC_WRITE | FILE_GENERIC_EXECUTE | DELETE;

/// What a protected path denies (`0xd0156`): [`FILE_WRITE_RIGHTS`],
/// [`DELETE`], [`FILE_DELETE_CHILD`], [`WRITE_DAC`] and [`WRITE_OWNER`].
///
/// This is `FILE_GENERIC_WRITE | DELETE | FILE_DELETE_CHILD` without the
/// `READ_CONTROL` and `SYNCHRONIZE` that `FILE_GENERIC_WRITE` carries: a deny
/// ACE wins over every allow, and denying `SYNCHRONIZE` would refuse every
/// ordinary open, reads included (`icacls /deny` drops them for the same
/// reason). Denying `WRITE_DAC` and `WRITE_OWNER` keeps a trustee that some
/// other ACE grants full control from taking the deny ACE away.
pub const DENY_WRITE: u32 = FILE_WRITE_RIGHTS | DELETE | FILE_DELETE_CHILD | WRITE_DAC | WRITE_OWNER;

/// What a denied path denies the sandbox user (`0x1f01ff`,
/// `FILE_ALL_ACCESS`): everything, reading and opening included.
pub const DENY_ALL: u32 = 0x0001_01ff | READ_CONTROL | WRITE_DAC | WRITE_OWNER | SYNCHRONIZE;

const _: () = assert!(MODIFY == 0x0013_01bf);
const _: () = assert!(DENY_ALL == 0x001f_01ff);
const _: () = assert!(DENY_WRITE == 0x000d_0156);

/// What an ACE cordon puts on a file or directory does (the ACEs
/// themselves: [`super::acl::entries`]). Serialised in snake case
/// (`allow_modify`), as launches record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AceKind {
    /// Allow [`MODIFY`] to everything beneath a writable root, and the root
    /// itself [`MODIFY`] without [`DELETE`]
    /// ([`ROOT_MODIFY`](super::acl::ROOT_MODIFY)): two ACEs.
    AllowModify,
    /// Deny [`DENY_WRITE`], inherited by files and directories beneath.
    DenyWrite,
    /// Deny [`DENY_ALL`], inherited by files and directories beneath.
    DenyAll,
}

impl AceKind {
    /// The ACEs for `sid`, in SDDL.
    pub fn sddl(self, sid: &str) -> Result<String, InvalidSid> {
        check_sid(sid)?;
        Ok(super::acl::entries(self).iter().map(|entry| super::acl::entry_sddl(entry, sid)).collect())
    }
}

/// `(A;;0x1201bf;;;SID)(A;OICIIO;0x1301bf;;;SID)`: `sid` may modify
/// everything beneath the object, and the object itself but for deleting
/// or renaming it.
pub fn allow_modify_ace(sid: &str) -> Result<String, InvalidSid> {
    AceKind::AllowModify.sddl(sid)
}

/// `(D;OICI;0xd0156;;;SID)`: `sid` may not write, delete or re-ACL the object
/// or anything beneath it that inherits; reading stays allowed.
pub fn deny_write_ace(sid: &str) -> Result<String, InvalidSid> {
    AceKind::DenyWrite.sddl(sid)
}

/// Who the runner is, which decides who may open the control pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipeIdentity {
    /// The runner runs as a sandbox user, the parent as the user who made
    /// the pipe.
    SandboxUser {
        /// The sandbox user's SID.
        runner_sid: String,
        /// The SID of the user who creates the pipe (the parent).
        owner_sid: String,
    },
    /// The runner runs as the parent's user under a write-restricted token:
    /// opening the pipe for writing also needs one of the token's
    /// restricting SIDs to be granted write, and the logon SID is the one
    /// that names this logon session only.
    RestrictedToken {
        /// The user's SID (the parent's and the runner's).
        user_sid: String,
        /// The logon SID of the session (`S-1-5-5-X-Y`), one of the
        /// restricting SIDs of the runner's token.
        logon_sid: String,
    },
}

/// The security descriptor of the control pipe: a protected DACL (`D:P`,
/// nothing inherited) granting read and write (`GRGW`, no more: not
/// `WRITE_DAC`, not `WRITE_OWNER`) to the runner's identity and to the user
/// who creates the pipe (who opens the client ends of the request-file
/// bootstrap itself), plus, for a write-restricted runner, to the logon SID
/// and a Low label (the runner's integrity level). Nobody else (not
/// SYSTEM, not Everyone, not Administrators) is granted anything; the
/// creator's server end needs no grant.
///
/// ```
/// use cordon_sandbox::windows::sddl::{PipeIdentity, pipe_security};
///
/// let identity = PipeIdentity::RestrictedToken {
///     user_sid: "S-1-5-21-1-2-3-1001".into(),
///     logon_sid: "S-1-5-5-0-4242".into(),
/// };
/// assert_eq!(
///     pipe_security(&identity)?,
///     "D:P(A;;GRGW;;;S-1-5-21-1-2-3-1001)(A;;GRGW;;;S-1-5-5-0-4242)S:(ML;;NW;;;LW)"
/// );
/// # Ok::<(), cordon_sandbox::windows::sid::InvalidSid>(())
/// ```
pub fn pipe_security(identity: &PipeIdentity) -> Result<String, InvalidSid> {
    let mut sddl = String::from("D:P");
    match identity {
        PipeIdentity::SandboxUser { runner_sid, owner_sid } => {
            check_sid(runner_sid)?;
            check_sid(owner_sid)?;
            sddl.push_str(&format!("(A;;GRGW;;;{runner_sid})"));
            if owner_sid != runner_sid {
                sddl.push_str(&format!("(A;;GRGW;;;{owner_sid})"));
            }
        }
        PipeIdentity::RestrictedToken { user_sid, logon_sid } => {
            check_sid(user_sid)?;
            if !is_logon_sid(logon_sid) {
                return Err(InvalidSid { value: logon_sid.clone(), expected: "logon SID" });
            }
            sddl.push_str(&format!("(A;;GRGW;;;{user_sid})(A;;GRGW;;;{logon_sid})"));
            // The runner runs at Low integrity: without a Low label the
            // pipe counts as Medium, which it may not write.
            sddl.push_str(Label::LowObject.sddl());
        }
    }
    Ok(sddl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windows::sid::{ADMINISTRATORS, EVERYONE, SYSTEM};

    const ALICE: &str = "S-1-5-21-1004336348-1177238915-682003330-1001";
    const SANDBOX: &str = "S-1-5-21-1004336348-1177238915-682003330-1005";
    const LOGON: &str = "S-1-5-5-0-315274";

    #[test]
    fn masks_are_the_documented_values() {
        assert_eq!(FILE_GENERIC_READ, 0x0012_0089);
        assert_eq!(FILE_GENERIC_WRITE, 0x0012_0116);
        assert_eq!(FILE_GENERIC_EXECUTE, 0x0012_00a0);
        assert_eq!(MODIFY, 0x0013_01bf);
        assert_eq!(DENY_WRITE, 0x000d_0156);
    }

    #[test]
    fn allow_modify_is_modify_beneath_and_no_delete_on_the_root() {
        assert_eq!(
            allow_modify_ace(SANDBOX).unwrap(),
            format!("(A;;0x1201bf;;;{SANDBOX})(A;OICIIO;0x1301bf;;;{SANDBOX})")
        );
    }

    #[test]
    fn deny_all_is_inheritable_file_all_access() {
        assert_eq!(AceKind::DenyAll.sddl(SANDBOX).unwrap(), format!("(D;OICI;0x1f01ff;;;{SANDBOX})"));
        assert!(AceKind::DenyAll.sddl("WD").is_err());
    }

    #[test]
    fn modify_cannot_delete_children_of_a_root_or_change_its_acl() {
        assert_eq!(MODIFY & FILE_DELETE_CHILD, 0);
        assert_eq!(MODIFY & (WRITE_DAC | WRITE_OWNER), 0);
    }

    #[test]
    fn deny_write_is_inheritable_and_covers_write_delete_and_acl_changes() {
        assert_eq!(deny_write_ace(SANDBOX).unwrap(), format!("(D;OICI;0xd0156;;;{SANDBOX})"));
        let covered = FILE_GENERIC_WRITE & !(READ_CONTROL | SYNCHRONIZE);
        assert_eq!(DENY_WRITE & covered, covered);
        for right in [DELETE, FILE_DELETE_CHILD, WRITE_DAC, WRITE_OWNER] {
            assert_eq!(DENY_WRITE & right, right);
        }
    }

    #[test]
    fn deny_write_leaves_protected_files_readable() {
        assert_eq!(DENY_WRITE & FILE_GENERIC_READ, 0);
        assert_eq!(DENY_WRITE & FILE_GENERIC_EXECUTE, 0);
    }

    #[test]
    fn ace_injection_through_the_trustee_is_refused() {
        for sid in ["S-1-5-18)(A;OICI;FA;;;WD", "WD", "", "S-1-5-21-1-2-3-1001;"] {
            assert!(allow_modify_ace(sid).is_err(), "{sid:?}");
            assert!(deny_write_ace(sid).is_err(), "{sid:?}");
        }
    }

    #[test]
    fn pipe_of_a_sandbox_user_runner_admits_runner_and_owner_only() {
        let identity = PipeIdentity::SandboxUser { runner_sid: SANDBOX.into(), owner_sid: ALICE.into() };
        let sddl = pipe_security(&identity).unwrap();
        assert_eq!(sddl, format!("D:P(A;;GRGW;;;{SANDBOX})(A;;GRGW;;;{ALICE})"));
        assert!(!sddl.contains("GA") && !sddl.contains(SYSTEM), "read and write, for these two only");
        assert!(!sddl.contains(EVERYONE) && !sddl.contains("WD"));
        assert!(!sddl.contains(ADMINISTRATORS) && !sddl.contains("BA"));
    }

    #[test]
    fn pipe_dacl_is_protected_from_inheritance() {
        let identity = PipeIdentity::SandboxUser { runner_sid: SANDBOX.into(), owner_sid: ALICE.into() };
        assert!(pipe_security(&identity).unwrap().starts_with("D:P("));
    }

    #[test]
    fn pipe_of_a_write_restricted_runner_grants_write_to_the_logon_sid() {
        let identity = PipeIdentity::RestrictedToken { user_sid: ALICE.into(), logon_sid: LOGON.into() };
        assert_eq!(
            pipe_security(&identity).unwrap(),
            format!("D:P(A;;GRGW;;;{ALICE})(A;;GRGW;;;{LOGON})S:(ML;;NW;;;LW)")
        );
    }

    #[test]
    fn pipe_of_a_write_restricted_runner_needs_a_logon_sid() {
        for logon in [EVERYONE, ALICE, "S-1-5-5-0", "BA"] {
            let identity = PipeIdentity::RestrictedToken { user_sid: ALICE.into(), logon_sid: logon.into() };
            let err = pipe_security(&identity).unwrap_err();
            assert_eq!(err.expected, "logon SID", "{logon}");
        }
    }

    #[test]
    fn pipe_owner_that_is_the_runner_is_named_once() {
        let identity = PipeIdentity::SandboxUser { runner_sid: ALICE.into(), owner_sid: ALICE.into() };
        assert_eq!(pipe_security(&identity).unwrap(), format!("D:P(A;;GRGW;;;{ALICE})"));
    }

    #[test]
    fn pipe_injection_through_an_identity_is_refused() {
        let bad = "S-1-5-21-1-2-3-1001)(A;;GA;;;WD";
        for identity in [
            PipeIdentity::SandboxUser { runner_sid: bad.into(), owner_sid: ALICE.into() },
            PipeIdentity::SandboxUser { runner_sid: SANDBOX.into(), owner_sid: bad.into() },
            PipeIdentity::RestrictedToken { user_sid: bad.into(), logon_sid: LOGON.into() },
        ] {
            assert!(pipe_security(&identity).is_err(), "{identity:?}");
        }
    }
}
