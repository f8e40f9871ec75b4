//! The legacy request-file bootstrap, and the exit-status rules shared by
//! every one-shot path.
//!
//! The parent writes a [`OneShotRequest`] as JSON into a private directory
//! (directory mode 0700, file 0600) and starts `cordon-runner --request-file
//! PATH` with the stdio the command should have. The runner reads and deletes
//! the file, applies the policy, runs the one command, and exits with
//! [`exit_code`] of its result.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::SpawnErrorKind;

/// Exit status when the command ran past its timeout.
pub const EXIT_TIMED_OUT: i32 = 124;
/// Exit status when cordon itself failed (bad request, sandbox refused, …).
pub const EXIT_CORDON_FAILED: i32 = 125;
/// Exit status when the program exists but cannot be executed.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
/// Exit status when the program was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

/// The request file's content. `P` is the policy type (see `cordon-sandbox`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneShotRequest<P> {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Working directory (default: the runner's).
    #[serde(default)]
    pub cwd: Option<String>,
    /// The command's complete environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Kill the tree and exit 124 after this many milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The sandbox policy to run under.
    pub policy: P,
}

/// The shell's convention for a finished command: its exit code, `128 + N`
/// if signal `N` ended it, 124 if it timed out.
pub fn exit_code(code: Option<i32>, signal: Option<i32>, timed_out: bool) -> i32 {
    if timed_out {
        return EXIT_TIMED_OUT;
    }
    match (code, signal) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => EXIT_CORDON_FAILED,
    }
}

/// The shell's convention for a command that could not start: 127 not found,
/// 126 not executable, 125 anything else.
pub fn spawn_failure_exit_code(kind: SpawnErrorKind) -> i32 {
    match kind {
        SpawnErrorKind::NotFound => EXIT_NOT_FOUND,
        SpawnErrorKind::NotExecutable => EXIT_NOT_EXECUTABLE,
        _ => EXIT_CORDON_FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_rules() {
        assert_eq!(exit_code(Some(3), None, false), 3);
        assert_eq!(exit_code(None, Some(9), false), 137);
        assert_eq!(exit_code(None, Some(9), true), 124);
        assert_eq!(spawn_failure_exit_code(SpawnErrorKind::NotFound), 127);
        assert_eq!(spawn_failure_exit_code(SpawnErrorKind::NotExecutable), 126);
        assert_eq!(spawn_failure_exit_code(SpawnErrorKind::BadCwd), 125);
    }
}
