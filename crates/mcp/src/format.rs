//! Results as the model reads them: Codex's text in `content`, the typed
//! fields in `structuredContent`.

use cordon_exec::{ExecReply, SessionInfo, SessionState};
use rmcp::model::{CallToolResult, ContentBlock};

use crate::tools::SessionList;

/// The text of a reply, in Codex's words.
pub(crate) fn reply_text(reply: &ExecReply) -> String {
    let mut text =
        format!("Chunk ID: {}\nWall time: {:.4} seconds\n", reply.chunk_id, reply.wall_time_seconds);
    match (reply.session_id, reply.exit_code) {
        (Some(id), _) => {
            text.push_str(&format!("Process running with session ID {id}\n"));
            if reply.state == SessionState::AwaitingInput {
                text.push_str("Process is waiting for input\n");
            }
        }
        (None, Some(code)) => text.push_str(&format!("Process exited with code {code}\n")),
        (None, None) => text.push_str("Process exited\n"),
    }
    text.push_str(&format!(
        "Original token count: {}\nOutput:\n{}",
        reply.original_token_count, reply.output
    ));
    text
}

pub(crate) fn reply(reply: ExecReply) -> CallToolResult {
    let structured = serde_json::to_value(&reply).expect("a reply serializes");
    let mut result = CallToolResult::structured(structured);
    result.content = vec![ContentBlock::text(reply_text(&reply))];
    result
}

pub(crate) fn list(sessions: Vec<SessionInfo>) -> CallToolResult {
    let text = if sessions.is_empty() {
        "No live sessions.".to_string()
    } else {
        let mut text = String::from("session_id  state           tty    pid      output_bytes  command\n");
        for s in &sessions {
            let state = match s.state {
                SessionState::Running => "running",
                SessionState::Exited => "exited",
                SessionState::AwaitingInput => "awaiting_input",
            };
            text.push_str(&format!(
                "{:<11} {:<15} {:<6} {:<8} {:<13} {}\n",
                s.session_id, state, s.tty, s.pid, s.output_bytes, s.command
            ));
        }
        text
    };
    let structured = serde_json::to_value(SessionList { sessions }).expect("a list serializes");
    let mut result = CallToolResult::structured(structured);
    result.content = vec![ContentBlock::text(text)];
    result
}
