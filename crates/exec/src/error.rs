//! What can go wrong with a call, in words that tell the caller (often a
//! model) what to do next.

/// An exec call that could not be carried out. A command that fails is not
/// one of these: its reply carries its exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// No session has that id (it never existed, exited and was reported,
    /// or was pruned or killed).
    #[error("unknown session_id {id}; {}", live_list(.live))]
    UnknownSession {
        /// The id asked for.
        id: u32,
        /// The ids that do exist.
        live: Vec<u32>,
    },
    /// An argument is wrong; the message says which and why.
    #[error("{0}")]
    InvalidRequest(String),
    /// The command could not be started (its shell missing, a refused
    /// working directory, …).
    #[error("cannot start the command: {0}")]
    Spawn(#[source] cordon::Error),
    /// The sandbox's runner is gone; no session can run any more.
    #[error("the sandbox is gone: {0}")]
    SandboxGone(#[source] cordon::Error),
}

fn live_list(live: &[u32]) -> String {
    if live.is_empty() {
        "there are no live sessions: start one with exec_command".to_string()
    } else {
        let ids: Vec<String> = live.iter().map(u32::to_string).collect();
        format!("live sessions: {} (list_sessions describes them)", ids.join(", "))
    }
}

impl ExecError {
    /// A client error of a spawn or a request about a session: a dead
    /// runner ends every session, a refused request is the caller's to
    /// fix, and anything else kept the command from starting.
    pub(crate) fn from_client(err: cordon::Error) -> Self {
        if err.is_runner_gone() {
            return ExecError::SandboxGone(err);
        }
        match err {
            cordon::Error::Request { message, .. } => ExecError::InvalidRequest(message),
            other => ExecError::Spawn(other),
        }
    }
}
