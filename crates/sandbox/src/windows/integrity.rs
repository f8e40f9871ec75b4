//! Mandatory integrity and what a sandbox token may not keep: the level a
//! write-restricted runner runs at, the labels that let it write where it
//! must (and keep it from reading what it must not), its default DACL, and
//! the groups it holds for deny only.
//!
//! A token at Low integrity may not write an object labelled higher (every
//! unlabelled object counts as Medium) nor open a process or thread of a
//! higher level for reading, whatever the DACL grants: the user's own
//! processes, environment and secrets among them, and the owner's implicit
//! `WRITE_DAC` on the user's files and keys. So each writable root, the
//! control pipe, the private desktop and the request file's directory get
//! a Low label, and the sandbox accounts' credentials a Medium label that
//! refuses reads from below.

use super::sid::{InvalidSid, SYSTEM, is_logon_sid};

/// The integrity level SIDs (`S-1-16-RID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IntegrityLevel {
    /// `S-1-16-0`.
    Untrusted,
    /// `S-1-16-4096`: where a write-restricted runner runs.
    Low,
    /// `S-1-16-8192`: a standard user's processes, and every unlabelled
    /// object.
    Medium,
    /// `S-1-16-12288`: an elevated administrator's processes.
    High,
    /// `S-1-16-16384`.
    System,
}

impl IntegrityLevel {
    /// The level's RID (`SECURITY_MANDATORY_*_RID`).
    pub fn rid(self) -> u32 {
        match self {
            IntegrityLevel::Untrusted => 0,
            IntegrityLevel::Low => 0x1000,
            IntegrityLevel::Medium => 0x2000,
            IntegrityLevel::High => 0x3000,
            IntegrityLevel::System => 0x4000,
        }
    }

    /// The level's SID.
    pub fn sid(self) -> String {
        format!("S-1-16-{}", self.rid())
    }

    /// The level a token with integrity RID `rid` is at: the highest level
    /// whose RID is not above it (a RID between two levels counts as the
    /// lower, as the access check treats it).
    pub fn of_rid(rid: u32) -> IntegrityLevel {
        [IntegrityLevel::System, IntegrityLevel::High, IntegrityLevel::Medium, IntegrityLevel::Low]
            .into_iter()
            .find(|level| rid >= level.rid())
            .unwrap_or(IntegrityLevel::Untrusted)
    }
}

/// The integrity level of a write-restricted runner and its commands.
pub const SANDBOX_INTEGRITY: IntegrityLevel = IntegrityLevel::Low;

/// A mandatory label cordon puts on an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// Low, inherited by files and directories beneath, no write up: a
    /// writable root (and the request file's directory), which the Low
    /// runner may then write where its DACL lets it.
    LowTree,
    /// Low, on the object alone: the control pipe, the private desktop.
    LowObject,
    /// Medium, inherited beneath, no write up: a protected path inside a
    /// Low root (`.git`), which no Low process may then write whatever its
    /// DACL grants: neither the sandbox (which its deny ACE also stops) nor
    /// any other Low process of the user's, which the root's Low label
    /// would otherwise let in.
    MediumTree,
    /// Medium, no write up and no read up, inherited beneath: what a Low
    /// process may not even read (the sandbox accounts' DPAPI-protected
    /// passwords, which the user's own restricted token could otherwise
    /// decrypt).
    MediumSecret,
}

impl Label {
    /// The label as an SDDL SACL (`S:(ML;…)`).
    ///
    /// ```
    /// use cordon_sandbox::windows::integrity::Label;
    ///
    /// assert_eq!(Label::LowTree.sddl(), "S:(ML;OICI;NW;;;LW)");
    /// assert_eq!(Label::MediumSecret.sddl(), "S:(ML;OICI;NWNR;;;ME)");
    /// ```
    pub fn sddl(self) -> &'static str {
        match self {
            Label::LowTree => "S:(ML;OICI;NW;;;LW)",
            Label::LowObject => "S:(ML;;NW;;;LW)",
            Label::MediumTree => "S:(ML;OICI;NW;;;ME)",
            Label::MediumSecret => "S:(ML;OICI;NWNR;;;ME)",
        }
    }
}

/// A mandatory label ACE as Windows stores it: its inheritance flags
/// (`OBJECT_INHERIT_ACE`, `CONTAINER_INHERIT_ACE`, …), its policy
/// (`SYSTEM_MANDATORY_LABEL_NO_WRITE_UP`, `…_NO_READ_UP`) and its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelEntry {
    /// The inheritance bits of the ACE header (`0x0f`: OI, CI, NP, IO).
    pub flags: u8,
    /// The policy bits of the mask.
    pub policy: u32,
    /// The level.
    pub level: IntegrityLevel,
}

/// `OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE`.
const OICI: u8 = 0x1 | 0x2;
/// `SYSTEM_MANDATORY_LABEL_NO_WRITE_UP`.
const NO_WRITE_UP: u32 = 0x1;
/// `SYSTEM_MANDATORY_LABEL_NO_READ_UP`.
const NO_READ_UP: u32 = 0x2;

impl Label {
    /// The ACE [`Label::sddl`] makes.
    pub fn entry(self) -> LabelEntry {
        match self {
            Label::LowTree => LabelEntry { flags: OICI, policy: NO_WRITE_UP, level: IntegrityLevel::Low },
            Label::LowObject => LabelEntry { flags: 0, policy: NO_WRITE_UP, level: IntegrityLevel::Low },
            Label::MediumTree => {
                LabelEntry { flags: OICI, policy: NO_WRITE_UP, level: IntegrityLevel::Medium }
            }
            Label::MediumSecret => {
                LabelEntry { flags: OICI, policy: NO_WRITE_UP | NO_READ_UP, level: IntegrityLevel::Medium }
            }
        }
    }

    /// Whether an object whose explicit label is `found` (none: `None`)
    /// has this label already, so that setting it again (and walking a
    /// whole tree to pass it on) can be skipped.
    pub fn is_current(self, found: Option<LabelEntry>) -> bool {
        found.is_some_and(|found| LabelEntry { flags: found.flags & 0x0f, ..found } == self.entry())
    }
}

/// The default DACL of a sandbox token: generic all to SYSTEM and to the
/// logon SID, and nobody else. What the sandbox creates without a DACL of
/// its own (a pipe a build tool makes with default security, its own
/// processes and threads) then admits:
///
/// - its own processes, for writing too: the logon SID is one of a
///   write-restricted token's restricting SIDs, so the restricted check
///   passes (with the user's default DACL, which grants the user alone, a
///   tool's own pipe would refuse the tool and hang it);
/// - not another logon session's processes: two sessions of one sandbox
///   account share the user SID, not the logon SID, so one session's
///   commands cannot open the other's.
///
/// ```
/// use cordon_sandbox::windows::integrity::default_dacl;
///
/// assert_eq!(default_dacl("S-1-5-5-0-4242")?, "D:(A;;GA;;;S-1-5-18)(A;;GA;;;S-1-5-5-0-4242)");
/// # Ok::<(), cordon_sandbox::windows::sid::InvalidSid>(())
/// ```
pub fn default_dacl(logon_sid: &str) -> Result<String, InvalidSid> {
    if !is_logon_sid(logon_sid) {
        return Err(InvalidSid { value: logon_sid.to_string(), expected: "logon SID" });
    }
    Ok(format!("D:(A;;GA;;;{SYSTEM})(A;;GA;;;{logon_sid})"))
}

/// The DACL a runner started as a sandbox user gives its own process:
/// generic all to SYSTEM, and to its owner (the sandbox user, which every
/// other session of the account shares) no more than reading the DACL,
/// which also takes away the owner's implicit `WRITE_DAC`. Its parent holds
/// the handle it was started with; nothing else need open it, and another
/// session's commands, running as the same user, must not read or change
/// it.
pub const RUNNER_PROCESS_DACL: &str = "D:P(A;;GA;;;S-1-5-18)(A;;RC;;;OW)";

/// The groups a sandbox token holds for deny only (its access checks
/// ignore them when they allow, and apply them when they deny): those that
/// give an elevated caller's token its power, so that a runner started
/// from an elevated prompt is no stronger than one started from a standard
/// one. `CreateRestrictedToken` ignores those the token does not hold.
pub const DENY_ONLY_GROUPS: &[&str] = &[
    // BUILTIN\Administrators.
    "S-1-5-32-544",
    // BUILTIN\Power Users.
    "S-1-5-32-547",
    // BUILTIN\Account Operators.
    "S-1-5-32-548",
    // BUILTIN\Server Operators.
    "S-1-5-32-549",
    // BUILTIN\Print Operators.
    "S-1-5-32-550",
    // BUILTIN\Backup Operators.
    "S-1-5-32-551",
    // BUILTIN\Network Configuration Operators.
    "S-1-5-32-556",
    // BUILTIN\Hyper-V Administrators.
    "S-1-5-32-578",
    // NT AUTHORITY\Local account and member of Administrators group.
    "S-1-5-114",
];

/// Which of `enabled_groups` (the SIDs of a token's enabled, not
/// deny-only, groups) a sandbox token must not hold.
pub fn powerful_groups(enabled_groups: &[String]) -> Vec<&str> {
    enabled_groups
        .iter()
        .filter(|sid| DENY_ONLY_GROUPS.iter().any(|group| group.eq_ignore_ascii_case(sid)))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windows::sid::{ADMINISTRATORS, EVERYONE, is_valid_sid};

    #[test]
    fn levels_have_their_documented_sids_and_order() {
        assert_eq!(IntegrityLevel::Low.sid(), "S-1-16-4096");
        assert_eq!(IntegrityLevel::Medium.sid(), "S-1-16-8192");
        assert_eq!(IntegrityLevel::High.sid(), "S-1-16-12288");
        assert!(IntegrityLevel::Low < IntegrityLevel::Medium);
        assert_eq!(SANDBOX_INTEGRITY, IntegrityLevel::Low);
    }

    #[test]
    fn a_rid_between_levels_counts_as_the_lower() {
        assert_eq!(IntegrityLevel::of_rid(0x1000), IntegrityLevel::Low);
        assert_eq!(IntegrityLevel::of_rid(0x1fff), IntegrityLevel::Low);
        assert_eq!(IntegrityLevel::of_rid(0x2100), IntegrityLevel::Medium);
        assert_eq!(IntegrityLevel::of_rid(0x3000), IntegrityLevel::High);
        assert_eq!(IntegrityLevel::of_rid(0x500), IntegrityLevel::Untrusted);
        assert_eq!(IntegrityLevel::of_rid(0x5000), IntegrityLevel::System);
    }

    #[test]
    fn labels_are_low_no_write_up_or_medium_no_read_up() {
        assert_eq!(Label::LowTree.sddl(), "S:(ML;OICI;NW;;;LW)");
        assert_eq!(Label::LowObject.sddl(), "S:(ML;;NW;;;LW)");
        assert_eq!(Label::MediumTree.sddl(), "S:(ML;OICI;NW;;;ME)");
        assert!(Label::MediumSecret.sddl().contains("NR") && Label::MediumSecret.sddl().ends_with(";ME)"));
    }

    #[test]
    fn a_label_already_there_is_current_and_any_other_is_not() {
        let low = Label::LowTree.entry();
        assert!(Label::LowTree.is_current(Some(low)));
        // An ACE inherited from above (INHERITED_ACE) counts the same.
        assert!(Label::LowTree.is_current(Some(LabelEntry { flags: low.flags | 0x10, ..low })));
        assert!(!Label::LowTree.is_current(None));
        assert!(!Label::LowTree.is_current(Some(LabelEntry { flags: 0, ..low })), "not inherited beneath");
        assert!(!Label::LowTree.is_current(Some(LabelEntry { level: IntegrityLevel::Medium, ..low })));
        assert!(
            !Label::MediumSecret.is_current(Some(LabelEntry { policy: 0x1, ..Label::MediumSecret.entry() }))
        );
    }

    #[test]
    fn entries_say_what_the_sddl_says() {
        assert_eq!(Label::LowTree.entry(), LabelEntry { flags: 3, policy: 1, level: IntegrityLevel::Low });
        assert_eq!(Label::LowObject.entry().flags, 0);
        assert_eq!(Label::MediumSecret.entry().policy, 3);
    }

    #[test]
    fn the_default_dacl_admits_system_and_the_logon_session_only() {
        let dacl = default_dacl("S-1-5-5-0-315274").unwrap();
        assert_eq!(dacl, "D:(A;;GA;;;S-1-5-18)(A;;GA;;;S-1-5-5-0-315274)");
        assert!(!dacl.contains(EVERYONE) && !dacl.contains("S-1-5-21-"));
        for bad in ["S-1-5-21-1-2-3-1001", EVERYONE, "S-1-5-5-0-1)(A;;GA;;;WD", ""] {
            assert!(default_dacl(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_runner_process_dacl_grants_its_owner_nothing_but_reading_it() {
        assert!(RUNNER_PROCESS_DACL.starts_with("D:P("), "protected: nothing inherited");
        assert!(RUNNER_PROCESS_DACL.contains("(A;;RC;;;OW)"));
        assert!(!RUNNER_PROCESS_DACL.contains("S-1-5-21-") && !RUNNER_PROCESS_DACL.contains(EVERYONE));
    }

    #[test]
    fn the_deny_only_groups_are_sids_and_include_administrators() {
        assert!(DENY_ONLY_GROUPS.iter().all(|sid| is_valid_sid(sid)));
        assert!(DENY_ONLY_GROUPS.contains(&ADMINISTRATORS));
        assert!(!DENY_ONLY_GROUPS.contains(&EVERYONE));
    }

    #[test]
    fn powerful_groups_are_found_among_enabled_ones() {
        let groups: Vec<String> =
            [EVERYONE, "S-1-5-32-545", ADMINISTRATORS, "S-1-5-114"].iter().map(|s| s.to_string()).collect();
        assert_eq!(powerful_groups(&groups), [ADMINISTRATORS, "S-1-5-114"]);
        assert!(powerful_groups(&groups[..2]).is_empty());
    }
}
