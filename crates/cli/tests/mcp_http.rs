//! `cordon mcp --http`: which addresses and tokens it accepts, what it
//! answers a request without the token, and the official MCP Python SDK's
//! streamable HTTP client driving it (`mcp_http.py` beside this file; it
//! runs where `.ci/run` named a python with the SDK in `CORDON_MCP_PYTHON`,
//! and says loudly that it did not run elsewhere). A stopped server leaves
//! no process behind.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

// Shared with mcp_rmcp.rs, which uses all of it.
#[allow(dead_code)]
#[path = "support/processes.rs"]
mod processes;

use processes::{alive, descendants};

const TOKEN: &str = "test-token-0123456789abcdef";

fn mcp(args: &[&str], token: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cordon"));
    command.arg("mcp").args(args).env_remove("CORDON_MCP_TOKEN").env_remove("CORDON_RUNNER");
    if let Some(token) = token {
        command.env("CORDON_MCP_TOKEN", token);
    }
    command
}

fn refused(args: &[&str], token: Option<&str>) -> String {
    let out: Output = mcp(args, token).stdin(Stdio::null()).output().expect("running cordon mcp");
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_address_other_machines_can_reach_needs_allow_remote() {
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:8765"] {
        let stderr = refused(&["--http", addr], Some(TOKEN));
        assert!(
            stderr.contains("not a loopback address") && stderr.contains("--allow-remote"),
            "{addr}: {stderr}"
        );
    }
}

#[test]
fn allow_remote_needs_a_token_of_sixteen_characters() {
    let stderr = refused(&["--http", "0.0.0.0:0", "--allow-remote"], None);
    assert!(stderr.contains("needs a bearer token") && stderr.contains("CORDON_MCP_TOKEN"), "{stderr}");
    let stderr = refused(&["--http", "127.0.0.1:0"], Some("short"));
    assert!(stderr.contains("too short"), "{stderr}");
    let stderr = refused(&["--allow-remote"], Some(TOKEN));
    assert!(stderr.contains("--http"), "{stderr}");
}

#[test]
fn an_address_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let stderr = refused(&["--http", &addr], None);
    assert!(stderr.contains(&format!("listening on {addr}")), "{stderr}");
}

/// A running `cordon mcp --http` on a free loopback port, killed if a
/// test fails before it stops it.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(workspace: &Path, token: Option<&str>) -> Server {
        let mut child = mcp(&["--http", "127.0.0.1:0"], token)
            .current_dir(workspace)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting cordon mcp --http");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).expect("the server's first line");
        let addr = line
            .trim()
            .strip_prefix("cordon mcp: serving MCP at http://")
            .and_then(|rest| rest.strip_suffix("/mcp"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Server { child, addr }
    }

    fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// One HTTP/1.1 request; the status code and the whole response.
    fn request(&self, head: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connecting");
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            stream,
            "{head}\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("reading the response");
        let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, response)
    }

    /// Stops it as a service manager would; every process under it must go.
    fn stop(mut self) {
        let pid = self.child.id();
        let tree = descendants(pid);
        assert!(!tree.is_empty(), "the server has no runner");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(0), "{status:?}");
        // The runner exits once its channel closes, just after the server.
        let deadline = Instant::now() + Duration::from_secs(5);
        let left = loop {
            let left: Vec<u32> = tree.iter().copied().filter(|&p| alive(p)).collect();
            if left.is_empty() || Instant::now() > deadline {
                break left;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(left.is_empty(), "left running after the server stopped: {left:?}");
    }
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

fn post(token: Option<&str>) -> String {
    let auth = token.map(|t| format!("\r\nAuthorization: Bearer {t}")).unwrap_or_default();
    format!(
        "POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream{auth}"
    )
}

#[test]
fn with_a_token_a_request_without_it_is_refused_and_one_with_it_served() {
    let workspace = tempfile::tempdir().unwrap();
    let server = Server::start(workspace.path(), Some(TOKEN));
    let (status, response) = server.request(&post(None), INITIALIZE);
    assert_eq!(status, 401, "{response}");
    assert!(response.to_ascii_lowercase().contains("www-authenticate: bearer"), "{response}");
    let (status, response) = server.request(&post(Some("test-token-0123456789abcdeX")), INITIALIZE);
    assert_eq!(status, 401, "{response}");
    let (status, response) = server.request(&post(Some(TOKEN)), INITIALIZE);
    assert_eq!(status, 200, "{response}");
    assert!(response.contains(r#""name":"cordon""#), "{response}");
    let (status, response) = server.request("GET /elsewhere HTTP/1.1", "");
    assert_eq!(status, 404, "{response}");
    server.stop();
}

#[test]
fn a_loopback_server_refuses_web_pages() {
    let workspace = tempfile::tempdir().unwrap();
    let server = Server::start(workspace.path(), None);
    // What a page would send after rebinding its own name to 127.0.0.1.
    let head = post(None).replacen("POST /mcp HTTP/1.1", "POST /mcp HTTP/1.1\r\nHost: attacker.example", 1);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{INITIALIZE}", INITIALIZE.len())
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    // What a page on another site would send to 127.0.0.1 itself.
    let (status, response) =
        server.request(&format!("{}\r\nOrigin: http://attacker.example", post(None)), INITIALIZE);
    assert_eq!(status, 403, "{response}");
    let (status, response) = server.request(&post(None), INITIALIZE);
    assert_eq!(status, 200, "{response}");
    server.stop();
}

#[test]
fn the_python_sdk_drives_the_server_over_http() {
    let Some(python) = std::env::var_os("CORDON_MCP_PYTHON") else {
        eprintln!(
            "SKIPPED the_python_sdk_drives_the_server_over_http: CORDON_MCP_PYTHON is not set (a python \
             with `pip install mcp`; .ci/run makes one)"
        );
        return;
    };
    let workspace = tempfile::tempdir().unwrap();
    let server = Server::start(workspace.path(), Some(TOKEN));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_http.py");
    let out = Command::new(python)
        .arg(script)
        .arg(server.url())
        .arg(TOKEN)
        .arg(server.child.id().to_string())
        .output()
        .expect("running the Python SDK test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "the Python SDK test failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}\n{stderr}");
    // The stateless client's `sleep 1001` is still there: stopping the
    // server must end it.
    server.stop();
}
