//! The one error type of setup: a stable code and a message that names
//! the input and says what to do.

use std::fmt;

use cordon_sandbox::windows::setup::{SetupError as PlanError, SetupErrorCode};

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

impl From<PlanError> for SetupError {
    fn from(err: PlanError) -> Self {
        SetupError { code: ErrorCode::Plan(err.code), message: err.message }
    }
}

/// The kinds of [`SetupError`]. Their numbers are stable and never reused:
/// 101–199 are the plan's ([`SetupErrorCode`], a configuration or marker
/// that cannot be used), 201–299 the machine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The configuration or the marker is not valid (E101–E199).
    Plan(SetupErrorCode),
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
}

impl ErrorCode {
    /// The stable number, shown as `E{number}`.
    pub fn number(self) -> u32 {
        match self {
            ErrorCode::Plan(code) => code.number(),
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
        ];
        let numbers: Vec<u32> = codes.iter().map(|c| c.number()).collect();
        assert_eq!(numbers, (201..=218).collect::<Vec<_>>());
        assert!(numbers.iter().all(|&n| n < 256));
    }

    #[test]
    fn plan_errors_keep_their_number_and_message() {
        let plan = cordon_sandbox::windows::setup::validate_user_name("a@b").unwrap_err();
        let err = SetupError::from(plan);
        assert_eq!(err.code, ErrorCode::Plan(SetupErrorCode::InvalidUserName));
        assert_eq!(err.number(), 101);
        assert!(err.to_string().starts_with("E101: user name \"a@b\""), "{err}");
    }
}
