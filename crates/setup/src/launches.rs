//! What launches change on the user's files, recorded so that it can be
//! undone: a launch needs no setup (restricted-token mode) or adds to it
//! (elevated mode), and leaves ACEs and labels behind on each root it was
//! given — a grant for the root's capability SID and a Low label that let
//! the user's other Low-integrity processes write there too, denies and
//! Medium labels on its protected and denied paths, and the placeholders
//! of protected paths that did not exist (removed when the launch ends,
//! unless its client was killed). Each launch appends
//! what it is about to change to `launches.jsonl` in the state directory
//! (one JSON object a line, each change once), and
//! [`undo`](crate::undo_launches) takes it all off again.
//!
//! Grants are undone before protections, and a protection only once every
//! grant is gone: a deny or Medium label taken off while the grant it
//! guards stays would open what it protects. What cannot be undone stays
//! recorded, and so does a line that cannot be read.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use cordon_sandbox::windows::integrity::Label;
use cordon_sandbox::windows::path;
use cordon_sandbox::windows::sddl::AceKind;
use cordon_sandbox::windows::sid::is_valid_sid;
use cordon_sandbox::windows::token::AceStep;
use serde::{Deserialize, Serialize};

use crate::SetupError;
use crate::host::Host;
use crate::report::{Outcome, SetupReport};

/// The file in the state directory that records launches' changes.
pub const LAUNCHES_FILE: &str = "launches.jsonl";

/// One change a launch makes to a file or directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LaunchChange {
    /// The file or directory.
    pub path: PathBuf,
    /// What is put on it.
    pub change: Change,
}

/// An ACE or a label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// cordon's ACEs of this kind for this SID.
    Ace(String, AceKind),
    /// This mandatory label.
    Label(RecordedLabel),
    /// A placeholder made here: the path did not exist (a protection).
    Placeholder,
}

/// The labels a launch sets; no other is ever taken off (the state
/// directory's own, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedLabel {
    /// [`Label::LowTree`] on a root: a grant.
    Low,
    /// [`Label::MediumTree`] on a protected path: a protection.
    Medium,
}

impl RecordedLabel {
    fn label(self) -> Label {
        match self {
            RecordedLabel::Low => Label::LowTree,
            RecordedLabel::Medium => Label::MediumTree,
        }
    }
}

impl LaunchChange {
    /// The ACE a launch adds.
    pub fn ace(step: &AceStep) -> Self {
        LaunchChange { path: step.path.clone(), change: Change::Ace(step.sid.clone(), step.kind) }
    }

    /// The label a launch sets: [`Label::LowTree`] or
    /// [`Label::MediumTree`]; `None` for another, which no launch sets.
    pub fn label(path: &Path, label: Label) -> Option<Self> {
        let recorded = match label {
            Label::LowTree => RecordedLabel::Low,
            Label::MediumTree => RecordedLabel::Medium,
            Label::LowObject | Label::MediumSecret => return None,
        };
        Some(LaunchChange { path: path.to_path_buf(), change: Change::Label(recorded) })
    }

    /// The placeholder a launch makes.
    pub fn placeholder(path: &Path) -> Self {
        LaunchChange { path: path.to_path_buf(), change: Change::Placeholder }
    }

    /// Whether it gives the sandbox something (and is undone first).
    fn is_grant(&self) -> bool {
        matches!(self.change, Change::Ace(_, AceKind::AllowModify) | Change::Label(RecordedLabel::Low))
    }
}

impl fmt::Display for LaunchChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.change {
            Change::Ace(sid, AceKind::AllowModify) => write!(f, "a launch's grant for {sid} on {path}"),
            Change::Ace(sid, AceKind::DenyWrite) => {
                write!(f, "a launch's deny-write for {sid} on {path}")
            }
            Change::Ace(sid, AceKind::DenyAll) => write!(f, "a launch's deny-all for {sid} on {path}"),
            Change::Label(RecordedLabel::Low) => write!(f, "a launch's Low label on {path}"),
            Change::Label(RecordedLabel::Medium) => write!(f, "a launch's Medium label on {path}"),
            Change::Placeholder => write!(f, "a launch's placeholder {path}"),
        }
    }
}

/// A line of the file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    path: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ace: Option<AceKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<RecordedLabel>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    placeholder: bool,
}

impl Line {
    fn new(path: &Path) -> Self {
        Line { path: path.to_path_buf(), ace: None, sid: None, label: None, placeholder: false }
    }
}

impl LaunchChange {
    fn line(&self) -> String {
        let line = match &self.change {
            Change::Ace(sid, ace) => {
                Line { ace: Some(*ace), sid: Some(sid.clone()), ..Line::new(&self.path) }
            }
            Change::Label(label) => Line { label: Some(*label), ..Line::new(&self.path) },
            Change::Placeholder => Line { placeholder: true, ..Line::new(&self.path) },
        };
        serde_json::to_string(&line).expect("a line serialises")
    }

    fn from_line(text: &str) -> Option<Self> {
        let line: Line = serde_json::from_str(text).ok()?;
        let change = match line {
            Line { ace: Some(ace), sid: Some(sid), label: None, placeholder: false, .. }
                if is_valid_sid(&sid) =>
            {
                Change::Ace(sid, ace)
            }
            Line { ace: None, sid: None, label: Some(label), placeholder: false, .. } => Change::Label(label),
            Line { ace: None, sid: None, label: None, placeholder: true, .. } => Change::Placeholder,
            _ => return None,
        };
        path::is_absolute(&line.path).then_some(LaunchChange { path: line.path, change })
    }
}

/// The record's changes, and the lines that are none (kept as they are).
fn parse(content: &[u8]) -> (Vec<LaunchChange>, Vec<String>) {
    let text = String::from_utf8_lossy(content);
    let mut changes = Vec::new();
    let mut unreadable = Vec::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        match LaunchChange::from_line(line) {
            Some(change) => changes.push(change),
            None => unreadable.push(line.to_string()),
        }
    }
    (changes, unreadable)
}

/// The lines to append for `changes` that `recorded` does not hold yet,
/// each once.
fn new_lines(recorded: &[LaunchChange], changes: &[LaunchChange]) -> String {
    let mut seen: BTreeSet<&LaunchChange> = recorded.iter().collect();
    let mut lines = String::new();
    for change in changes {
        if seen.insert(change) {
            lines.push_str(&change.line());
            lines.push('\n');
        }
    }
    lines
}

/// The whole record of `changes` (each once) and the `unreadable` lines
/// kept as they were.
fn record_text(changes: &[LaunchChange], unreadable: &[String]) -> String {
    let mut text = new_lines(&[], changes);
    for line in unreadable {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Each change once, grants before protections and placeholders last (a
/// placeholder removed first would leave its deny and label unreached),
/// in the order recorded otherwise.
fn undo_order(changes: Vec<LaunchChange>) -> Vec<LaunchChange> {
    let mut seen = BTreeSet::new();
    let mut unique: Vec<LaunchChange> =
        changes.into_iter().filter(|change| seen.insert(change.clone())).collect();
    unique.sort_by_key(|change| match change.change {
        _ if change.is_grant() => 0,
        Change::Placeholder => 2,
        _ => 1,
    });
    unique
}

/// Past this many lines, a launch that records drops first the lines of
/// paths that are gone (each `cordon run`'s private temp directory adds
/// its grant, and is deleted after).
const COMPACT_AFTER: usize = 1024;

pub(crate) fn record_on(
    host: &mut impl Host,
    state_dir: &Path,
    changes: &[LaunchChange],
) -> Result<(), SetupError> {
    let file = path::join(state_dir, LAUNCHES_FILE);
    let (recorded, unreadable) = host.read_file(&file)?.map(|content| parse(&content)).unwrap_or_default();
    if recorded.len() + unreadable.len() >= COMPACT_AFTER {
        // Rewritten whole (a launch appending at this very moment may lose
        // its lines: once in a thousand launches, for a moment).
        let lasting: Vec<LaunchChange> =
            recorded.into_iter().filter(|change| host.path_exists(&change.path)).collect();
        let mut text = record_text(&lasting, &unreadable);
        text.push_str(&new_lines(&lasting, changes));
        return host.write_file(&file, text.as_bytes());
    }
    let lines = new_lines(&recorded, changes);
    if lines.is_empty() {
        return Ok(());
    }
    host.append_file(&file, lines.as_bytes())
}

pub(crate) fn undo_on(host: &mut impl Host, state_dir: &Path) -> Result<SetupReport, SetupError> {
    let file = path::join(state_dir, LAUNCHES_FILE);
    let mut report = SetupReport::default();
    let Some(content) = host.read_file(&file)? else {
        return Ok(report);
    };
    let (changes, unreadable) = parse(&content);
    let mut remaining = Vec::new();
    let mut grant_kept = false;
    for change in undo_order(changes) {
        if !change.is_grant() && grant_kept {
            report.push(&change, kept("a grant it guards is not undone"));
            remaining.push(change);
            continue;
        }
        match undo_one(host, &change) {
            Ok(outcome) => report.push(&change, outcome),
            Err(err) => {
                report.push(&change, kept(&err.to_string()));
                grant_kept |= change.is_grant();
                remaining.push(change);
            }
        }
    }
    for line in &unreadable {
        report.push(format!("the line {line:?} of {}", file.display()), kept("not a launch's change"));
    }
    if remaining.is_empty() && unreadable.is_empty() {
        host.delete_file(&file)?;
    } else {
        host.write_file(&file, record_text(&remaining, &unreadable).as_bytes())?;
    }
    Ok(report)
}

fn skipped(reason: &str) -> Outcome {
    Outcome::Skipped { reason: reason.to_string() }
}

fn kept(reason: &str) -> Outcome {
    Outcome::Kept { reason: reason.to_string() }
}

fn undo_one(host: &mut impl Host, change: &LaunchChange) -> Result<Outcome, SetupError> {
    if !host.path_exists(&change.path) {
        return Ok(skipped("it no longer exists"));
    }
    match &change.change {
        Change::Ace(sid, ace) => host.remove_ace(&change.path, sid, *ace).map(|()| Outcome::Done),
        Change::Label(label) => Ok(match host.remove_label(&change.path, label.label())? {
            true => Outcome::Done,
            false => skipped("its label is not cordon's (changed since)"),
        }),
        Change::Placeholder => Ok(match host.remove_placeholder(&change.path)? {
            true => Outcome::Done,
            false => skipped("it is no placeholder now (something was put there)"),
        }),
    }
}

/// Whether the state directory records changes of launches.
pub(crate) fn any_recorded(host: &mut impl Host, state_dir: &Path) -> Result<bool, SetupError> {
    Ok(host.read_file(&path::join(state_dir, LAUNCHES_FILE))?.is_some_and(|content| !content.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;

    const CAPABILITY: &str = "S-1-15-3-1024-1-2-3-4-5-6-7-8";
    const SANDBOX_USER: &str = "S-1-5-21-1-2-3-1005";

    fn ace(path: &str, sid: &str, kind: AceKind) -> LaunchChange {
        LaunchChange::ace(&AceStep { path: PathBuf::from(path), sid: sid.into(), kind })
    }

    fn label(path: &str, label: Label) -> LaunchChange {
        LaunchChange::label(Path::new(path), label).unwrap()
    }

    fn restricted_launch() -> Vec<LaunchChange> {
        vec![
            ace(r"C:\w", CAPABILITY, AceKind::AllowModify),
            ace(r"C:\w\.git", CAPABILITY, AceKind::DenyWrite),
            label(r"C:\w", Label::LowTree),
            label(r"C:\w\.git", Label::MediumTree),
            LaunchChange::placeholder(Path::new(r"C:\w\.vscode")),
        ]
    }

    #[test]
    fn every_change_makes_one_line_that_reads_back_as_itself() {
        let mut changes = restricted_launch();
        changes.push(ace(r"C:\Users\me\.ssh", SANDBOX_USER, AceKind::DenyAll));
        let text = new_lines(&[], &changes);
        assert_eq!(text.lines().count(), changes.len());
        let (read, unreadable) = parse(text.as_bytes());
        assert_eq!(read, changes);
        assert!(unreadable.is_empty());
    }

    #[test]
    fn only_the_two_labels_a_launch_sets_are_recorded() {
        assert!(LaunchChange::label(Path::new(r"C:\s"), Label::MediumSecret).is_none());
        assert!(LaunchChange::label(Path::new(r"C:\s"), Label::LowObject).is_none());
    }

    #[test]
    fn a_line_that_is_no_change_is_unreadable_not_a_guess() {
        for line in [
            "{not json",
            r#"{"path":"C:\\w","ace":"allow_modify"}"#,
            r#"{"path":"C:\\w","ace":"allow_modify","sid":"me"}"#,
            r#"{"path":"C:\\w","label":"low","sid":"S-1-15-3-1024-1"}"#,
            r#"{"path":"C:\\w","label":"secret"}"#,
            r#"{"path":"relative","label":"low"}"#,
            r#"{"path":"C:\\w","label":"low","extra":1}"#,
            r#"{"path":"C:\\w","label":"low","placeholder":true}"#,
            r#"{"path":"C:\\w","placeholder":false}"#,
        ] {
            let (changes, unreadable) = parse(line.as_bytes());
            assert!(changes.is_empty(), "{line}: {changes:?}");
            assert_eq!(unreadable, [line]);
        }
    }

    #[test]
    fn a_change_recorded_already_is_not_appended_again() {
        let recorded = restricted_launch();
        let mut again = restricted_launch();
        again.push(again[0].clone());
        assert_eq!(new_lines(&recorded, &again), "");
        let new = ace(r"C:\other", CAPABILITY, AceKind::AllowModify);
        again.push(new.clone());
        assert_eq!(new_lines(&recorded, &again), format!("{}\n", new.line()));
    }

    #[test]
    fn a_long_record_forgets_the_paths_that_are_gone() {
        let (mut host, state) = host_with_launch();
        let file = path::join(&state, LAUNCHES_FILE);
        for i in 0..COMPACT_AFTER + 10 {
            let temp = format!(r"C:\Temp\cordon-tmp-{i}");
            record_on(&mut host, &state, &[ace(&temp, CAPABILITY, AceKind::AllowModify)]).unwrap();
        }
        let (left, _) = parse(&host.read_file(&file).unwrap().unwrap());
        assert!(left.len() < COMPACT_AFTER, "{} lines", left.len());
        for change in restricted_launch() {
            assert!(left.contains(&change), "{change} is kept: its path exists");
        }
        let newest =
            ace(&format!(r"C:\Temp\cordon-tmp-{}", COMPACT_AFTER + 9), CAPABILITY, AceKind::AllowModify);
        assert!(left.contains(&newest), "what was just recorded stays, its path gone or not");
    }

    #[test]
    fn grants_are_undone_before_protections() {
        let order = undo_order(restricted_launch());
        let grants = order.iter().take_while(|change| change.is_grant()).count();
        assert_eq!(grants, 2);
        assert!(order[grants..].iter().all(|change| !change.is_grant()));
        assert_eq!(order.last().unwrap().change, Change::Placeholder, "{order:?}");
    }

    fn host_with_launch() -> (FakeHost, PathBuf) {
        let mut host = FakeHost::with_dirs(&[r"C:\w", r"C:\w\.git"]);
        let state = PathBuf::from(r"C:\Users\me\AppData\Local\cordon");
        for change in restricted_launch() {
            match &change.change {
                Change::Ace(sid, kind) => host.add_ace(&change.path, sid, *kind).unwrap(),
                Change::Label(recorded) => {
                    host.labels.insert(path::normalize(&change.path), recorded.label());
                }
                Change::Placeholder => {
                    host.paths.insert(path::normalize(&change.path));
                    host.placeholders.insert(path::normalize(&change.path));
                }
            }
        }
        record_on(&mut host, &state, &restricted_launch()).unwrap();
        record_on(&mut host, &state, &restricted_launch()).unwrap();
        (host, state)
    }

    #[test]
    fn undo_takes_off_every_recorded_change_and_the_record() {
        let (mut host, state) = host_with_launch();
        assert!(any_recorded(&mut host, &state).unwrap());
        let report = undo_on(&mut host, &state).unwrap();
        assert_eq!(report.actions.len(), 5, "each change once: {report}");
        assert_eq!(report.skipped().count() + report.kept().count(), 0, "{report}");
        assert!(host.placeholders.is_empty() && !host.path_exists(Path::new(r"C:\w\.vscode")));
        assert!(host.aces.is_empty(), "{:?}", host.aces);
        assert!(host.labels.is_empty(), "{:?}", host.labels);
        assert!(!any_recorded(&mut host, &state).unwrap());
        assert_eq!(undo_on(&mut host, &state).unwrap().actions, []);
    }

    #[test]
    fn a_grant_that_cannot_be_undone_keeps_it_and_every_protection() {
        let (mut host, state) = host_with_launch();
        host.fail_on = Some("remove AllowModify".into());
        let report = undo_on(&mut host, &state).unwrap();
        assert_eq!(report.kept().count(), 4, "the grant, both protections, the placeholder: {report}");
        assert!(host.path_exists(Path::new(r"C:\w\.vscode")));
        assert!(host.has_ace_of(r"C:\w\.git", CAPABILITY, AceKind::DenyWrite));
        assert!(host.labels.contains_key(&path::normalize(Path::new(r"C:\w\.git"))));
        host.fail_on = None;
        let report = undo_on(&mut host, &state).unwrap();
        assert_eq!((report.actions.len(), report.kept().count()), (4, 0), "what was kept: {report}");
        assert!(host.aces.is_empty() && host.labels.is_empty());
    }

    #[test]
    fn a_label_changed_since_and_a_path_gone_are_skipped_and_forgotten() {
        let (mut host, state) = host_with_launch();
        host.labels.insert(path::normalize(Path::new(r"C:\w")), Label::MediumTree);
        host.paths.remove(&path::normalize(Path::new(r"C:\w\.git")));
        let report = undo_on(&mut host, &state).unwrap();
        let skipped: Vec<_> = report.skipped().map(|(_, reason)| reason.to_string()).collect();
        assert_eq!(skipped.len(), 3, "{report}");
        assert!(skipped.iter().any(|reason| reason.contains("not cordon's")), "{skipped:?}");
        assert_eq!(host.labels.get(&path::normalize(Path::new(r"C:\w"))), Some(&Label::MediumTree));
        assert!(!any_recorded(&mut host, &state).unwrap(), "nothing left to undo");
    }

    #[test]
    fn an_unreadable_line_is_reported_and_kept() {
        let (mut host, state) = host_with_launch();
        host.append_file(&path::join(&state, LAUNCHES_FILE), b"{torn\n").unwrap();
        let report = undo_on(&mut host, &state).unwrap();
        assert_eq!(report.kept().count(), 1, "{report}");
        assert!(host.aces.is_empty());
        let left = host.read_file(&path::join(&state, LAUNCHES_FILE)).unwrap().unwrap();
        assert_eq!(left, b"{torn\n");
    }
}
