//! The one error type of setup: a stable code and a message that names
//! the input and says what to do.

use std::fmt;

use cordon_sandbox::windows::sid::InvalidSid;

/// Why setup (or a look at it) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    /// What kind of problem, with a stable number.
    pub code: ErrorCode,
    /// What is wrong, naming the input, the account or the path.
    pub message: String,
}

impl SetupError {
    /// An error of this kind.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        SetupError { code, message: message.into() }
    }

    /// The stable number (`E{number}`), which is also `cordon-setup`'s exit
    /// code: every number is below 256.
    pub fn number(&self) -> u32 {
        self.code.number()
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E{}: {}", self.number(), self.message)
    }
}

impl std::error::Error for SetupError {}

impl From<InvalidSid> for SetupError {
    fn from(err: InvalidSid) -> Self {
        SetupError::new(ErrorCode::InvalidSid, err.to_string())
    }
}

/// The kinds of [`SetupError`]. Their numbers are stable and never reused:
/// 101–199 are the plan's (a configuration or marker that cannot be used),
/// 201–299 the machine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A user name Windows would refuse (E101).
    InvalidUserName,
    /// A group name Windows would refuse (E102).
    InvalidGroupName,
    /// Two accounts with one name: users and groups share one namespace
    /// (E103).
    NameConflict,
    /// A path that is not absolute (E104).
    RelativePath,
    /// A path spelled so that it may alias another one (`..`, trailing
    /// dots, streams), or not valid Unicode (E105).
    NonCanonicalPath,
    /// A writable root listed twice (E106).
    DuplicateRoot,
    /// A writable root that is a whole drive or share (E107).
    RootTooBroad,
    /// A protected name that is not a single file name (E108).
    InvalidProtectedName,
    /// A state directory the sandbox accounts could write (E109).
    StateDirWritable,
    /// A string that should be a SID and is not (E110).
    InvalidSid,
    /// An account that does not exist on the machine (E111).
    UnknownAccount,
    /// Setup changes a Windows machine; this is not one (E201).
    NotWindows,
    /// The step needs an administrator and the process is not elevated
    /// (E202).
    NotElevated,
    /// `refresh` found pending steps that only an elevated setup may do
    /// (E203).
    NeedsElevation,
    /// No setup is recorded in the state directory (E204).
    NotSetUp,
    /// The marker cannot be read, parsed, or comes from a newer setup (E205).
    BadMarker,
    /// The credentials file is missing, unreadable, malformed, or has no
    /// password for the user (E206).
    Credentials,
    /// DPAPI could not protect or unprotect a password (E207).
    Dpapi,
    /// Creating, changing, reading or deleting a local account failed (E208).
    Accounts,
    /// Reading or writing the registry failed (E209).
    Registry,
    /// Reading or writing a file's DACL failed (E210).
    Acl,
    /// A writable root does not exist (E211).
    PathMissing,
    /// `refresh` was asked for a root that the calling user does not own
    /// (E212).
    NotOwner,
    /// Reading or writing the firewall rule failed (E213).
    Firewall,
    /// An account the marker names was not made by setup, so it is not
    /// deleted (E214).
    ForeignAccount,
    /// Reading or writing a file in the state directory failed (E215).
    Io,
    /// The elevation prompt was declined (E216).
    ElevationDeclined,
    /// The elevated `cordon-setup` could not be started or waited for
    /// (E217).
    Elevation,
    /// No state directory was given and `%LOCALAPPDATA%` is not set (E218).
    NoStateDir,
    /// The firewall would not enforce the offline user's rule: it is off
    /// for a profile, local rules are overridden, or the rule is gone
    /// (E219).
    FirewallIneffective,
}

impl ErrorCode {
    /// The stable number, shown as `E{number}`.
    pub fn number(self) -> u32 {
        match self {
            ErrorCode::InvalidUserName => 101,
            ErrorCode::InvalidGroupName => 102,
            ErrorCode::NameConflict => 103,
            ErrorCode::RelativePath => 104,
            ErrorCode::NonCanonicalPath => 105,
            ErrorCode::DuplicateRoot => 106,
            ErrorCode::RootTooBroad => 107,
            ErrorCode::InvalidProtectedName => 108,
            ErrorCode::StateDirWritable => 109,
            ErrorCode::InvalidSid => 110,
            ErrorCode::UnknownAccount => 111,
            ErrorCode::NotWindows => 201,
            ErrorCode::NotElevated => 202,
            ErrorCode::NeedsElevation => 203,
            ErrorCode::NotSetUp => 204,
            ErrorCode::BadMarker => 205,
            ErrorCode::Credentials => 206,
            ErrorCode::Dpapi => 207,
            ErrorCode::Accounts => 208,
            ErrorCode::Registry => 209,
            ErrorCode::Acl => 210,
            ErrorCode::PathMissing => 211,
            ErrorCode::NotOwner => 212,
            ErrorCode::Firewall => 213,
            ErrorCode::ForeignAccount => 214,
            ErrorCode::Io => 215,
            ErrorCode::ElevationDeclined => 216,
            ErrorCode::Elevation => 217,
            ErrorCode::NoStateDir => 218,
            ErrorCode::FirewallIneffective => 219,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_errors_have_stable_numbers_that_fit_an_exit_code() {
        let codes = [
            ErrorCode::NotWindows,
            ErrorCode::NotElevated,
            ErrorCode::NeedsElevation,
            ErrorCode::NotSetUp,
            ErrorCode::BadMarker,
            ErrorCode::Credentials,
            ErrorCode::Dpapi,
            ErrorCode::Accounts,
            ErrorCode::Registry,
            ErrorCode::Acl,
            ErrorCode::PathMissing,
            ErrorCode::NotOwner,
            ErrorCode::Firewall,
            ErrorCode::ForeignAccount,
            ErrorCode::Io,
            ErrorCode::ElevationDeclined,
            ErrorCode::Elevation,
            ErrorCode::NoStateDir,
            ErrorCode::FirewallIneffective,
        ];
        let numbers: Vec<u32> = codes.iter().map(|c| c.number()).collect();
        assert_eq!(numbers, (201..=219).collect::<Vec<_>>());
        assert!(numbers.iter().all(|&n| n < 256));
    }

    #[test]
    fn plan_errors_have_their_number_and_message() {
        let err = crate::plan::validate_user_name("a@b").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidUserName);
        assert_eq!(err.number(), 101);
        assert!(err.to_string().starts_with("E101: user name \"a@b\""), "{err}");
        let sid = SetupError::from(cordon_sandbox::windows::sid::check_sid("BA").unwrap_err());
        assert_eq!(sid.number(), 110);
    }
}
