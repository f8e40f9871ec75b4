//! What a run of setup did ([`SetupReport`]) and what a machine has of a
//! setup ([`SetupStatus`]): serialisable for `--json`, and shown one line
//! per item.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What `apply`, `remove` or `refresh` did, step by step, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupReport {
    /// The steps carried out or skipped.
    pub actions: Vec<Action>,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// The step, as the plan words it.
    pub step: String,
    /// What became of it.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What became of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Carried out.
    Done,
    /// Not carried out, for this reason (the step had nothing to act on).
    Skipped {
        /// Why.
        reason: String,
    },
    /// Not carried out, and still recorded to be tried again (a launch's
    /// change that could not be undone, or may not be yet).
    Kept {
        /// Why.
        reason: String,
    },
}

impl SetupReport {
    pub(crate) fn push(&mut self, step: impl fmt::Display, outcome: Outcome) {
        self.actions.push(Action { step: step.to_string(), outcome });
    }

    /// The steps that were skipped, with their reasons.
    pub fn skipped(&self) -> impl Iterator<Item = (&str, &str)> {
        self.actions.iter().filter_map(|action| match &action.outcome {
            Outcome::Skipped { reason } => Some((action.step.as_str(), reason.as_str())),
            Outcome::Done | Outcome::Kept { .. } => None,
        })
    }

    /// The steps that were kept to be tried again, with their reasons.
    pub fn kept(&self) -> impl Iterator<Item = (&str, &str)> {
        self.actions.iter().filter_map(|action| match &action.outcome {
            Outcome::Kept { reason } => Some((action.step.as_str(), reason.as_str())),
            Outcome::Done | Outcome::Skipped { .. } => None,
        })
    }

    /// This report followed by `later`'s actions.
    pub(crate) fn extend(&mut self, later: SetupReport) {
        self.actions.extend(later.actions);
    }
}

impl fmt::Display for SetupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.actions.is_empty() {
            return writeln!(f, "nothing to do");
        }
        for action in &self.actions {
            match &action.outcome {
                Outcome::Done => writeln!(f, "done     {}", action.step)?,
                Outcome::Skipped { reason } => writeln!(f, "skipped  {}: {reason}", action.step)?,
                Outcome::Kept { reason } => writeln!(f, "kept     {}: {reason}", action.step)?,
            }
        }
        Ok(())
    }
}

/// What a machine has of the setup that the options describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupStatus {
    /// The setup version the marker records, if there is a marker.
    pub marker_version: Option<u32>,
    /// Every step of the plan, in order, with its state.
    pub items: Vec<StatusItem>,
    /// What an earlier setup made that these options no longer want (a
    /// root no longer listed); `apply` undoes it.
    pub obsolete: Vec<String>,
}

/// One step of the plan and its state on the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusItem {
    /// The step, as the plan words it.
    pub step: String,
    /// Whether it is in place.
    pub state: ItemState,
}

/// The state of a step on the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// In place.
    Done,
    /// Still to do (`apply`, or `refresh` for a new root).
    Pending,
    /// A protected path that does not exist: nothing to protect yet. Once
    /// it exists, the step is pending again.
    Absent,
}

impl SetupStatus {
    /// Whether nothing is pending or obsolete.
    pub fn is_complete(&self) -> bool {
        self.obsolete.is_empty() && self.pending().next().is_none()
    }

    /// The steps still to do.
    pub fn pending(&self) -> impl Iterator<Item = &StatusItem> {
        self.items.iter().filter(|item| item.state == ItemState::Pending)
    }
}

impl fmt::Display for SetupStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for item in &self.items {
            match item.state {
                ItemState::Done => writeln!(f, "done     {}", item.step)?,
                ItemState::Pending => writeln!(f, "pending  {}", item.step)?,
                ItemState::Absent => writeln!(f, "absent   {} (does not exist yet)", item.step)?,
            }
        }
        for step in &self.obsolete {
            writeln!(f, "obsolete {step}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> SetupStatus {
        SetupStatus {
            marker_version: Some(1),
            items: vec![
                StatusItem { step: "create group CordonSandboxUsers".into(), state: ItemState::Done },
                StatusItem {
                    step: r"let group CordonSandboxUsers modify D:\tmp".into(),
                    state: ItemState::Pending,
                },
                StatusItem {
                    step: r"keep D:\tmp\.git read-only for group CordonSandboxUsers".into(),
                    state: ItemState::Absent,
                },
            ],
            obsolete: vec![r"stop letting group CordonSandboxUsers modify C:\old".into()],
        }
    }

    #[test]
    fn status_shows_one_line_per_item() {
        assert_eq!(
            status().to_string(),
            "done     create group CordonSandboxUsers\n\
             pending  let group CordonSandboxUsers modify D:\\tmp\n\
             absent   keep D:\\tmp\\.git read-only for group CordonSandboxUsers (does not exist yet)\n\
             obsolete stop letting group CordonSandboxUsers modify C:\\old\n"
        );
    }

    #[test]
    fn status_is_complete_only_without_pending_or_obsolete_items() {
        let mut status = status();
        assert!(!status.is_complete());
        assert_eq!(status.pending().count(), 1);
        status.items[1].state = ItemState::Done;
        assert!(!status.is_complete(), "an obsolete grant is still there");
        status.obsolete.clear();
        assert!(status.is_complete(), "an absent protected path is nothing to do");
    }

    #[test]
    fn status_json_round_trips_with_snake_case_states() {
        let status = status();
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["marker_version"], 1);
        assert_eq!(json["items"][1]["state"], "pending");
        assert_eq!(json["items"][2]["state"], "absent");
        assert_eq!(serde_json::from_value::<SetupStatus>(json).unwrap(), status);
    }

    #[test]
    fn report_shows_done_and_skipped_steps() {
        let mut report = SetupReport::default();
        assert_eq!(report.to_string(), "nothing to do\n");
        report.push("create group CordonSandboxUsers", Outcome::Done);
        report.push("delete user X", Outcome::Skipped { reason: "it does not exist".into() });
        assert_eq!(
            report.to_string(),
            "done     create group CordonSandboxUsers\nskipped  delete user X: it does not exist\n"
        );
        assert_eq!(report.skipped().collect::<Vec<_>>(), vec![("delete user X", "it does not exist")]);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["actions"][0],
            serde_json::json!({"step": "create group CordonSandboxUsers", "outcome": "done"})
        );
        assert_eq!(json["actions"][1]["reason"], "it does not exist");
        assert_eq!(serde_json::from_value::<SetupReport>(json).unwrap(), report);
    }
}
