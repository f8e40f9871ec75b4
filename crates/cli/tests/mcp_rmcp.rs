//! `cordon mcp` driven over stdio by the official Rust SDK's own client
//! (rmcp, as any Rust agent would connect): the handshake, the tools, a
//! command's output and exit code, a pipe session fed and closed, a killed
//! session, and, once the client closes, no process of the server's left.
//! On Linux and on Windows (under Wine by `scripts/test-windows`).

#![cfg(any(target_os = "linux", windows))]

use std::time::{Duration, Instant};

use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt as _, RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

/// Every call gets this long; a hang fails the test instead of stalling it.
const CALL_LIMIT: Duration = Duration::from_secs(60);

type Client = RunningService<RoleClient, ()>;

/// The platform's commands for the scenario.
struct Commands {
    /// Prints `hi` and exits 0.
    echo: &'static str,
    /// Copies its input to its output until end of file.
    cat: &'static str,
    /// Runs for a long time, quietly.
    sleep: &'static str,
}

#[cfg(unix)]
const COMMANDS: Commands = Commands { echo: "echo hi", cat: "cat", sleep: "sleep 100" };
#[cfg(windows)]
const COMMANDS: Commands = Commands { echo: "echo hi", cat: "more", sleep: "ping -n 100 127.0.0.1" };

/// `cordon mcp` in `workspace`, with its pid.
fn server(workspace: &std::path::Path) -> (TokioChildProcess, u32) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cordon"));
    command.arg("mcp").current_dir(workspace);
    if processes::confining_policy_fails_closed() {
        command.args(["--policy", "full-access"]);
    }
    let transport = TokioChildProcess::new(command).expect("starting cordon mcp");
    let pid = transport.id().expect("the server's pid");
    (transport, pid)
}

async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(CALL_LIMIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: no answer within {CALL_LIMIT:?}"),
    }
}

async fn call(client: &Client, tool: &'static str, arguments: Value) -> CallToolResult {
    let Value::Object(mut arguments) = arguments else { panic!("arguments are an object") };
    if tool == "exec_command" && cfg!(unix) {
        // Exact outputs: the login profile of the machine running this may
        // print.
        arguments.entry("login").or_insert(json!(false));
    }
    let params = CallToolRequestParams::new(tool).with_arguments(arguments);
    bounded(tool, client.call_tool(params)).await.unwrap_or_else(|e| panic!("{tool}: {e}"))
}

fn structured(result: &CallToolResult) -> &Value {
    assert_ne!(result.is_error, Some(true), "{result:?}");
    result.structured_content.as_ref().unwrap_or_else(|| panic!("no structuredContent: {result:?}"))
}

fn text(result: &CallToolResult) -> String {
    result.content.iter().filter_map(|block| block.as_text()).map(|t| t.text.as_str()).collect()
}

fn output(reply: &Value) -> String {
    reply["output"].as_str().unwrap_or_else(|| panic!("no output: {reply}")).replace("\r\n", "\n")
}

/// The id of a session still live: running, or (on Linux) blocked
/// reading its input.
fn session_id(reply: &Value) -> u64 {
    assert!(matches!(reply["state"].as_str(), Some("running" | "awaiting_input")), "{reply}");
    reply["session_id"].as_u64().unwrap_or_else(|| panic!("no session_id: {reply}"))
}

#[tokio::test]
async fn the_rust_sdk_drives_every_tool_and_nothing_outlives_the_client() {
    let workspace = tempfile::tempdir().expect("workspace");
    let (transport, server_pid) = server(workspace.path());
    let client: Client = bounded("initialize", ().serve(transport)).await.expect("initialize");
    let info = client.peer_info().expect("the server's initialize result");
    assert_eq!(info.server_info.as_ref().map(|i| i.name.as_str()), Some("cordon"), "{info:?}");
    assert!(info.capabilities.tools.is_some(), "{info:?}");

    let tools = bounded("tools/list", client.list_all_tools()).await.expect("tools/list");
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(names, ["exec_command", "kill_session", "list_sessions", "write_stdin"]);
    assert!(tools.iter().all(|t| t.name == "list_sessions" || t.output_schema.is_some()));

    let echo = call(&client, "exec_command", json!({ "cmd": COMMANDS.echo })).await;
    let reply = structured(&echo);
    assert_eq!(output(reply), "hi\n", "{reply}");
    assert_eq!(reply["exit_code"], 0, "{reply}");
    assert_eq!(reply["returned_because"], "exited", "{reply}");
    assert!(text(&echo).contains("Process exited with code 0\n"), "{}", text(&echo));

    let cat = call(&client, "exec_command", json!({ "cmd": COMMANDS.cat, "yield_time_ms": 250 })).await;
    let id = session_id(structured(&cat));
    let fed = call(
        &client,
        "write_stdin",
        json!({ "session_id": id, "chars": "fed\n", "until": { "regex": "fed" }, "yield_time_ms": 5000 }),
    )
    .await;
    assert_eq!(output(structured(&fed)), "fed\n", "{fed:?}");
    session_id(structured(&fed));
    let closed = call(
        &client,
        "write_stdin",
        json!({ "session_id": id, "chars": "last\n", "close_stdin": true, "yield_time_ms": 5000 }),
    )
    .await;
    let reply = structured(&closed);
    assert_eq!(output(reply), "last\n", "{reply}");
    assert_eq!((&reply["state"], &reply["exit_code"]), (&json!("exited"), &json!(0)), "{reply}");

    let sleeper = call(&client, "exec_command", json!({ "cmd": COMMANDS.sleep, "yield_time_ms": 250 })).await;
    let id = session_id(structured(&sleeper));
    let listed = call(&client, "list_sessions", json!({})).await;
    let sessions = structured(&listed)["sessions"].as_array().expect("sessions").clone();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["session_id"], id);
    let killed_pid = sessions[0]["pid"].as_u64().expect("pid") as u32;
    let killed = call(&client, "kill_session", json!({ "session_id": id })).await;
    assert_eq!(structured(&killed)["state"], "exited", "{killed:?}");
    assert!(
        processes::gone_within(killed_pid, Duration::from_secs(10)).await,
        "killed session {killed_pid} lives"
    );
    let listed = call(&client, "list_sessions", json!({})).await;
    assert_eq!(structured(&listed)["sessions"], json!([]), "{listed:?}");
    let unknown = call(&client, "write_stdin", json!({ "session_id": id, "chars": "" })).await;
    assert_eq!(unknown.is_error, Some(true), "a killed session is unknown: {unknown:?}");

    // A session left running, for the close to end.
    call(&client, "exec_command", json!({ "cmd": COMMANDS.sleep, "yield_time_ms": 250 })).await;
    let mut tree = processes::descendants(server_pid);
    assert!(tree.len() >= 2, "the server has a runner and a session under it: {tree:?}");
    tree.push(server_pid);
    let closing = Instant::now();
    bounded("close", client.cancel()).await.expect("close");
    // rmcp closes the server's stdin, waits 3 s for it to exit, then kills
    // it: a close within that grace is the server ending on its own.
    assert!(
        closing.elapsed() < Duration::from_millis(2500),
        "the server took {:?} to end after its input closed",
        closing.elapsed()
    );
    for pid in tree {
        assert!(
            processes::gone_within(pid, Duration::from_secs(10)).await,
            "process {pid} of the server outlived its client ({:?} after the close)",
            closing.elapsed()
        );
    }
}

#[tokio::test]
async fn a_client_of_the_current_revision_discovers_the_server() {
    let workspace = tempfile::tempdir().expect("workspace");
    let (transport, _) = server(workspace.path());
    let lifecycle = ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::LATEST] };
    let client: Client =
        bounded("server/discover", ().serve_with_lifecycle(transport, lifecycle)).await.expect("discover");
    let info = client.peer_info().expect("the server's discover result");
    assert_eq!(info.protocol_version, ProtocolVersion::LATEST, "{info:?}");
    let echo = call(&client, "exec_command", json!({ "cmd": COMMANDS.echo })).await;
    assert_eq!(output(structured(&echo)), "hi\n");
    bounded("close", client.cancel()).await.expect("close");
}

#[path = "support/processes.rs"]
mod processes;
