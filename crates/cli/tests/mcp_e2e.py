"""End-to-end test of `cordon mcp` with the official MCP Python SDK.

Usage: python mcp_e2e.py CORDON WORKSPACE

Starts `CORDON mcp` in WORKSPACE through the SDK's stdio client, once with
the current protocol's discovery and once with the older initialize
handshake, drives every tool as an agent would, then closes the client and
checks by pid that no process of the server's is left. Prints one line per
check and 'N passed, N failed' at the end; exits non-zero on any failure.
"""

import asyncio
import os
import sys
import time

import anyio
from mcp import Client, StdioServerParameters
from mcp_support import alive, check, children_map, comm, descendants, finish

CORDON, WORKSPACE = sys.argv[1], sys.argv[2]
def text_of(result):
    return "".join(block.text for block in result.content if getattr(block, "type", "") == "text")


def server_pids():
    """The `cordon mcp` processes this script started, and all their descendants."""
    mine = [p for p in children_map().get(os.getpid(), []) if comm(p) == "cordon"]
    return [p for server in mine for p in [server, *descendants(server)]]


# Exact outputs are checked with "login": False (call() adds it): the
# profile of the machine running the test may print.


def params():
    return StdioServerParameters(command=CORDON, args=["mcp"], cwd=WORKSPACE)


async def tools_and_schemas(client):
    listed = await client.list_tools()
    tools = {tool.name: tool for tool in listed.tools}
    check("four tools", set(tools) == {"exec_command", "write_stdin", "list_sessions", "kill_session"}, set(tools))
    exec_props = tools["exec_command"].input_schema.get("properties", {})
    for name in ["cmd", "workdir", "tty", "yield_time_ms", "max_output_tokens", "shell", "login", "until"]:
        check(f"exec_command has {name}", name in exec_props, sorted(exec_props))
    check("exec_command requires cmd", tools["exec_command"].input_schema.get("required") == ["cmd"],
          tools["exec_command"].input_schema.get("required"))
    write_props = tools["write_stdin"].input_schema.get("properties", {})
    for name in ["session_id", "chars", "yield_time_ms", "max_output_tokens", "close_stdin", "until", "screen"]:
        check(f"write_stdin has {name}", name in write_props, sorted(write_props))
    for name in ["exec_command", "write_stdin", "kill_session"]:
        out = tools[name].output_schema or {}
        props = set(out.get("properties", {}))
        check(f"{name} declares its output schema",
              {"chunk_id", "wall_time_seconds", "state", "returned_because", "output",
               "original_token_count", "truncated"} <= props, props)


async def call(client, tool, args, **kw):
    if tool == "exec_command":
        args = {"login": False, **args}
    return await client.call_tool(tool, args, **kw)


async def scenario(client):
    await tools_and_schemas(client)

    echo = await call(client, "exec_command", {"cmd": "echo hello", "login": False})
    text = text_of(echo)
    check("echo: Codex's text", text.startswith("Chunk ID: ") and "\nWall time: " in text
          and "Process exited with code 0\n" in text and text.endswith("Output:\nhello\n"), repr(text))
    sc = echo.structured_content or {}
    check("echo: structured reply", sc.get("exit_code") == 0 and sc.get("output") == "hello\n"
          and sc.get("state") == "exited" and sc.get("returned_because") == "exited", sc)
    check("echo: not an error", not echo.is_error)

    login = await client.call_tool("exec_command", {"cmd": "shopt -q login_shell && echo login-shell",
                                                    "shell": "/bin/bash"})
    check("a login shell by default", "login-shell\n" in text_of(login), text_of(login))

    failing = await call(client, "exec_command", {"cmd": "exit 3"})
    check("a failed command is a normal result", not failing.is_error
          and (failing.structured_content or {}).get("exit_code") == 3, failing)

    py = await call(client, "exec_command", {"cmd": "python3 -i -q", "tty": True})
    psc = py.structured_content or {}
    py_id = psc.get("session_id")
    check("python3 -i starts on a tty and returns at its prompt, awaiting input",
          py_id is not None and "Process running with session ID" in text_of(py)
          and "Process is waiting for input" in text_of(py)
          and psc.get("returned_because") == "awaiting_input" and psc.get("wall_time_seconds", 99) < 5,
          text_of(py))
    two = await call(client, "write_stdin", {"session_id": py_id, "chars": "1+1\n", "yield_time_ms": 10000})
    tsc = two.structured_content or {}
    check("python3 answers 1+1 with 2 and is back at its prompt",
          "\n2\n" in tsc.get("output", "") and tsc.get("state") == "awaiting_input", text_of(two))

    sleeper = await call(client, "exec_command", {"cmd": "sleep 100", "yield_time_ms": 250})
    sleep_id = (sleeper.structured_content or {}).get("session_id")
    stopped = await call(client, "write_stdin", {"session_id": sleep_id, "chars": "\u0003", "yield_time_ms": 5000})
    ssc = stopped.structured_content or {}
    check("interrupt ends sleep 100", ssc.get("state") == "exited" and ssc.get("exit_code") == 130, ssc)

    sort = await call(client, "exec_command", {"cmd": "sort", "yield_time_ms": 250})
    sort_id = (sort.structured_content or {}).get("session_id")
    sorted_ = await call(client, "write_stdin", {"session_id": sort_id, "chars": "pear\napple\n",
                                                 "close_stdin": True, "yield_time_ms": 5000})
    osc = sorted_.structured_content or {}
    check("pipe session fed and closed", osc.get("output") == "apple\npear\n" and osc.get("exit_code") == 0, osc)

    outside = os.path.join(os.path.expanduser("~"), f"cordon-e2e-outside-{os.getpid()}")
    refused = await call(client, "exec_command", {"cmd": f"echo x > {outside}"})
    rsc = refused.structured_content or {}
    check("a write outside the workspace is the command's own failure",
          not refused.is_error and rsc.get("exit_code") not in (None, 0)
          and ("Read-only file system" in rsc.get("output", "") or "Permission denied" in rsc.get("output", "")),
          rsc)
    check("and nothing was written", not os.path.exists(outside))

    progress = []

    async def on_progress(value, total, message):
        progress.append(value)

    counted = await call(client, "exec_command",
                         {"cmd": "for i in 1 2 3; do echo $i; sleep 0.3; done", "yield_time_ms": 10000},
                         progress_callback=on_progress)
    check("progress notifications while waiting", len(progress) >= 2
          and (counted.structured_content or {}).get("exit_code") == 0, progress)

    late = await call(client, "exec_command", {"cmd": "sleep 1; echo late; sleep 100", "yield_time_ms": 250})
    late_id = (late.structured_content or {}).get("session_id")
    with anyio.move_on_after(0.5) as scope:
        await call(client, "write_stdin", {"session_id": late_id, "chars": "", "yield_time_ms": 20000})
    check("a cancelled call returns nothing", scope.cancelled_caught)
    after = await call(client, "write_stdin", {"session_id": late_id, "chars": "", "until": {"regex": "late"}})
    asc = after.structured_content or {}
    check("cancelling ends the wait, not the session", asc.get("state") == "running"
          and asc.get("output") == "late\n", asc)

    victim = await call(client, "exec_command", {"cmd": "sleep 100", "yield_time_ms": 250})
    victim_id = (victim.structured_content or {}).get("session_id")
    killed = await call(client, "kill_session", {"session_id": victim_id})
    check("kill_session ends the session", (killed.structured_content or {}).get("state") == "exited", killed)
    listed = await call(client, "list_sessions", {})
    ids = [s["session_id"] for s in (listed.structured_content or {}).get("sessions", [])]
    check("list_sessions shows live sessions only", victim_id not in ids and py_id in ids, ids)

    unknown = await call(client, "write_stdin", {"session_id": 7, "chars": ""})
    check("an unknown session is a tool error", unknown.is_error and "unknown session_id 7" in text_of(unknown),
          text_of(unknown))
    bad = await call(client, "exec_command", {"cmd": "true", "yield_time_ms": "soon"})
    check("a bad argument is a tool error", bad.is_error and "yield_time_ms" in text_of(bad), text_of(bad))

    # Left running for the teardown check: a pipe and a tty session.
    await call(client, "exec_command", {"cmd": "sleep 1000", "yield_time_ms": 250})
    await call(client, "exec_command", {"cmd": "sleep 1000", "tty": True, "yield_time_ms": 250})


async def main():
    async with Client(params(), mode="legacy") as legacy:
        check("initialize handshake", legacy.server_info is not None and legacy.server_info.name == "cordon",
              legacy.server_info)
        echoed = await legacy.call_tool("exec_command", {"cmd": "echo legacy", "login": False})
        check("legacy: echo", (echoed.structured_content or {}).get("output") == "legacy\n", echoed)

    async with Client(params()) as client:
        check("discovery (current revision)", client.server_info is not None, client.protocol_version)
        print(f"       protocol version {client.protocol_version}")
        await scenario(client)
        pids = server_pids()
        check("the server, its runner and its sessions are seen", len(pids) >= 4, pids)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        await anyio.sleep(0.1)
    left = [p for p in pids if alive(p)]
    check("no process of the server's is left after the client closed", not left,
          [(p, comm(p)) for p in left])


asyncio.run(main())
finish()
