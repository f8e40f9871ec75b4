"""End-to-end test of `cordon mcp --http` with the official MCP Python SDK.

Usage: python mcp_http.py URL TOKEN SERVER_PID

Talks to a running `cordon mcp --http` (started by mcp_http.rs with
CORDON_MCP_TOKEN=TOKEN) through the SDK's streamable HTTP client: a request
without the token is refused; with it, the current revision's stateless
client runs commands and starts a session that outlives the client; the
older revision's client opens an HTTP session, and the exec session it
started is killed when it closes (DELETE). Processes are found by pid under
SERVER_PID. Prints one line per check and 'N passed, N failed' at the end.
"""

import asyncio
import sys
import time

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_support import alive, check, descendants, finish

URL, TOKEN, SERVER_PID = sys.argv[1], sys.argv[2], int(sys.argv[3])
def running_command(argv):
    """Whether a process under the server runs exactly `argv`."""
    for pid in filter(alive, descendants(SERVER_PID)):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[:-1] == [a.encode() for a in argv]:
                    return True
        except OSError:
            pass
    return False


async def wait_until(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.1)
    return condition()


def connect(token=TOKEN, mode="auto"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = streamable_http_client(URL, http_client=create_mcp_http_client(headers=headers))
    return Client(transport, mode=mode)


async def call(client, tool, args):
    if tool == "exec_command":
        args = {"login": False, **args}
    return await client.call_tool(tool, args)


async def main():
    for token, name in [(None, "no token"), ("wrong-" + TOKEN, "a wrong token")]:
        try:
            async with connect(token) as client:
                await client.list_tools()
            check(f"the SDK's client with {name} is refused", False, "the server answered")
        except Exception:  # the SDK wraps the HTTP status in errors of its own
            check(f"the SDK's client with {name} is refused", True)
    async with httpx2.AsyncClient() as raw:
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "raw", "version": "1"}}}
        accept = {"Accept": "application/json, text/event-stream"}
        bare = await raw.post(URL, json=initialize, headers=accept)
        check("without the token: 401", bare.status_code == 401, bare.status_code)
        wrong = await raw.post(URL, json=initialize, headers={**accept, "Authorization": "Bearer x" + TOKEN})
        check("with a wrong token: 401", wrong.status_code == 401, wrong.status_code)
        other = await raw.get(URL.replace("/mcp", "/other"))
        check("another path is not found", other.status_code == 404, other.status_code)

    async with connect() as client:
        check("discovery over HTTP", client.server_info is not None and client.server_info.name == "cordon",
              client.server_info)
        print(f"       protocol version {client.protocol_version}")
        tools = {tool.name for tool in (await client.list_tools()).tools}
        check("four tools", tools == {"exec_command", "write_stdin", "list_sessions", "kill_session"}, tools)
        echo = await call(client, "exec_command", {"cmd": "echo over-http"})
        sc = echo.structured_content or {}
        check("echo over HTTP", sc.get("output") == "over-http\n" and sc.get("exit_code") == 0, sc)
        sort = await call(client, "exec_command", {"cmd": "sort", "yield_time_ms": 250})
        sort_id = (sort.structured_content or {}).get("session_id")
        fed = await call(client, "write_stdin", {"session_id": sort_id, "chars": "b\na\n", "close_stdin": True,
                                                 "yield_time_ms": 5000})
        check("a pipe session fed and closed over HTTP", (fed.structured_content or {}).get("output") == "a\nb\n",
              fed.structured_content)
        kept = await call(client, "exec_command", {"cmd": "exec sleep 1001", "yield_time_ms": 250})
        kept_id = (kept.structured_content or {}).get("session_id")
    check("a stateless client's session outlives the client",
          await wait_until(lambda: running_command(["sleep", "1001"]), 2) and
          running_command(["sleep", "1001"]), descendants(SERVER_PID))

    async with connect(mode="legacy") as legacy:
        check("initialize over HTTP", legacy.server_info is not None, legacy.server_info)
        listed = await call(legacy, "list_sessions", {})
        ids = [s["session_id"] for s in (listed.structured_content or {}).get("sessions", [])]
        check("the server's sessions are shared", kept_id in ids, ids)
        await call(legacy, "exec_command", {"cmd": "exec sleep 1002", "yield_time_ms": 250})
        check("a session-bound command runs", await wait_until(lambda: running_command(["sleep", "1002"]), 5))
    check("closing the HTTP session kills the commands it started",
          await wait_until(lambda: not running_command(["sleep", "1002"])), descendants(SERVER_PID))
    check("and no other", running_command(["sleep", "1001"]))


asyncio.run(main())
finish()
