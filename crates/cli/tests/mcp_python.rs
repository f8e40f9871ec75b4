//! `cordon mcp` driven by a client nobody here wrote: the official MCP
//! Python SDK (`mcp_e2e.py` beside this file). `.ci/run` makes a virtualenv
//! with it and names its python in `CORDON_MCP_PYTHON`; without one the test
//! says loudly that it did not run.

#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::Command;

#[test]
fn the_python_sdk_drives_every_tool_and_nothing_outlives_the_client() {
    let Some(python) = std::env::var_os("CORDON_MCP_PYTHON") else {
        eprintln!(
            "SKIPPED the_python_sdk_drives_every_tool_and_nothing_outlives_the_client: CORDON_MCP_PYTHON \
             is not set (a python with `pip install mcp`; .ci/run makes one)"
        );
        return;
    };
    let workspace = tempfile::tempdir().expect("workspace");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_e2e.py");
    let out = Command::new(python)
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_cordon"))
        .arg(workspace.path())
        .output()
        .expect("running the Python SDK test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "the Python SDK test failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}\n{stderr}");
}
