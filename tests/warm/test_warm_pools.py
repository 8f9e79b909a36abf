"""Warm pools (issue #19 item 3): stdio MCP servers kept by `tau serve --local` between runs.

The npm `@modelcontextprotocol/server-everything` partner is started through a wrapper that appends a line to a file
each time it starts, so the tests count process starts (not time). Runs go through a real server (`Traced.remote`)
and replay a cassette whose model calls the server's `echo` tool, so each run really talks to the pooled process.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
from tau_e2e import Sandbox, record_cassette
from warm_helpers import LocalServer, run_traced, start_server

ROOT = Path(__file__).resolve().parents[2]
EVERYTHING_JS = ROOT / "tests" / "partners" / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist"


def _require_everything() -> str:
    node = shutil.which("node")
    if node is None or not (EVERYTHING_JS / "index.js").exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("test partner unavailable in CI: run scripts/install-test-partners.sh")
        pytest.skip("npm test partners are not installed: run scripts/install-test-partners.sh")
    return node


def _counted_server(box: Sandbox, starts: Path) -> str:
    """An MCP config whose one stdio server is server-everything behind a wrapper counting its starts in `starts`."""
    node = _require_everything()
    wrapper = box.root / "everything.sh"
    wrapper.write_text(f'#!/bin/sh\necho "$$" >> {starts}\nexec {node} {EVERYTHING_JS / "index.js"} stdio\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return json.dumps({"mcpServers": {"everything": {"command": str(wrapper)}}})


def _echo_cassette(box: Sandbox, config: str, word: str) -> Path:
    from tau.testing import calls, reply

    recording = Sandbox(box.root / "recording")
    steps = [calls(("mcp__everything__echo", {"message": word}), text="Echoing."), reply("Echoed.")]
    cassette = box.root / f"echo-{word}.cassette.json"
    record_cassette(recording, _args("echo it", config, None), steps, cassette)
    return cassette


def _args(prompt: str, config: str, cassette: Path | None) -> list[str]:
    """`run` arguments (without `run` while recording, cassette None): MCP tools allowed, stream-json out."""
    if cassette is None:
        return ["-p", prompt, "--mcp-config", config, "--permission-mode", "bypassPermissions"]
    return ["run", *_args(prompt, config, None), "--model", f"replay:{cassette}", "-o", "stream-json"]


def _tool_results(stdout: bytes) -> list[str]:
    events = [json.loads(line) for line in stdout.splitlines()]
    return [str(e.get("output")) for e in events if e.get("type") == "tool.completed" and e.get("status") == "success"]


def _started(server: LocalServer) -> list[str]:
    return [line for line in server.lines if "pooled MCP server" in line and "started" in line]


def test_three_runs_pay_the_mcp_server_start_once(sandbox: Sandbox, server: LocalServer) -> None:
    starts = sandbox.root / "starts.txt"
    config = _counted_server(sandbox, starts)
    cassette = _echo_cassette(sandbox, config, "hello")
    recorded = len(starts.read_text().splitlines())  # the in-process recording started it once itself
    args = _args("echo it", config, cassette)
    for _ in range(3):
        result = run_traced(*args, env=sandbox.env, cwd=sandbox.work)
        assert result.remote, result.stderr
        assert result.returncode == 0, result.stderr
        echoed = _tool_results(result.stdout)
        assert len(echoed) == 1 and "Echo: hello" in echoed[0], echoed
    assert len(starts.read_text().splitlines()) - recorded == 1
    assert len(_started(server)) == 1


def test_a_pooled_server_is_not_shared_with_a_different_definition(sandbox: Sandbox, server: LocalServer) -> None:
    starts = sandbox.root / "starts.txt"
    config = _counted_server(sandbox, starts)
    cassette = _echo_cassette(sandbox, config, "hello")
    recorded = len(starts.read_text().splitlines())
    args = _args("echo it", config, cassette)
    for extra in ("one", "two", "one"):
        env = {**sandbox.env, "POOL_TEST_VARIANT": extra}  # the environment is part of the definition
        result = run_traced(*args, env=env, cwd=sandbox.work)
        assert result.remote and result.returncode == 0, result.stderr
    assert len(starts.read_text().splitlines()) - recorded == 2


def test_the_pool_is_off_with_tau_mcp_pool_0(sandbox: Sandbox, server: LocalServer) -> None:
    starts = sandbox.root / "starts.txt"
    config = _counted_server(sandbox, starts)
    cassette = _echo_cassette(sandbox, config, "hello")
    recorded = len(starts.read_text().splitlines())
    args = _args("echo it", config, cassette)
    env = {**sandbox.env, "TAU_MCP_POOL": "0"}
    for _ in range(2):
        result = run_traced(*args, env=env, cwd=sandbox.work)
        assert result.remote and result.returncode == 0, result.stderr
        assert "Echo: hello" in _tool_results(result.stdout)[0]
    assert len(starts.read_text().splitlines()) - recorded == 2
    assert _started(server) == []


def test_a_server_started_with_the_pool_off_starts_each_run_its_own(sandbox: Sandbox) -> None:
    starts = sandbox.root / "starts.txt"
    config = _counted_server(sandbox, starts)
    cassette = _echo_cassette(sandbox, config, "hello")
    recorded = len(starts.read_text().splitlines())
    args = _args("echo it", config, cassette)
    with start_server({**sandbox.env, "TAU_MCP_POOL": "0"}, cwd=sandbox.root) as running:
        for _ in range(2):
            result = run_traced(*args, env=sandbox.env, cwd=sandbox.work)
            assert result.remote and result.returncode == 0, result.stderr
    assert len(starts.read_text().splitlines()) - recorded == 2
    assert _started(running) == []


_STATEFUL = """
import json, os, sys
inits = 0
for line in sys.stdin:
    msg = json.loads(line)
    method, ident = msg.get("method"), msg.get("id")
    if method == "initialize":
        inits += 1
        print("stderr of session", inits, file=sys.stderr, flush=True)
        result = {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "stateful", "version": "1"}}
    elif method == "tools/list":
        tools = [("whoami", "pid and sessions"), ("hang", "never answers")]
        result = {"tools": [{"name": n, "description": d, "inputSchema": {"type": "object"}} for n, d in tools]}
    elif method == "tools/call" and msg["params"]["name"] == "hang":
        continue
    elif method == "tools/call":
        with open(sys.argv[1], "a") as seen:  # the replayed tool result must not change: what it saw goes here
            print(f"pid={os.getpid()} initialize={inits}", file=seen)
        result = {"content": [{"type": "text", "text": "noted"}]}
    elif ident is not None:
        result = {}
    else:
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": ident, "result": result}), flush=True)
"""


def test_each_run_gets_a_fresh_session_on_the_pooled_process(sandbox: Sandbox, server: LocalServer) -> None:
    """The second run talks to the same process (same pid) but through its own `initialize`."""
    script = sandbox.root / "stateful.py"
    script.write_text(_STATEFUL)
    log = sandbox.root / "seen.txt"
    config = json.dumps({"mcpServers": {"stateful": {"command": sys.executable, "args": [str(script), str(log)]}}})
    from tau.testing import calls, reply

    cassette = sandbox.root / "whoami.cassette.json"
    steps = [calls(("mcp__stateful__whoami", {}), text="Asking."), reply("Done.")]
    record_cassette(Sandbox(sandbox.root / "recording"), _args("who", config, None), steps, cassette)
    args = _args("who", config, cassette)
    log.unlink()  # what the recording's own server saw
    for _ in range(2):
        result = run_traced(*args, env=sandbox.env, cwd=sandbox.work)
        assert result.remote and result.returncode == 0, result.stderr
        assert _tool_results(result.stdout) == ["noted"]
    seen = log.read_text().splitlines()
    pids = {text.split("pid=")[1].split(" ")[0] for text in seen}
    assert len(pids) == 1, seen  # the same pooled process ...
    assert "initialize=1" in seen[0] and "initialize=2" in seen[1], seen  # ... a new MCP session each run
    assert len(_started(server)) == 1


def test_a_server_left_with_a_call_unanswered_is_not_reused(
    sandbox: Sandbox, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run 1's call times out (its reply could still come): the process is killed, run 2 gets a new one."""
    script = sandbox.root / "stateful.py"
    script.write_text(_STATEFUL)
    log = sandbox.root / "seen.txt"
    config = json.dumps({"mcpServers": {"stateful": {"command": sys.executable, "args": [str(script), str(log)]}}})
    from tau.testing import calls, reply

    sandbox.env["MCP_TOOL_TIMEOUT"] = "300"  # milliseconds
    monkeypatch.setenv("MCP_TOOL_TIMEOUT", "300")  # the in-process recording reads this process's environment
    recording = Sandbox(sandbox.root / "recording")
    cassette = sandbox.root / "hang.cassette.json"
    steps = [calls(("mcp__stateful__hang", {}), text="Waiting."), reply("Gave up.")]
    record_cassette(recording, _args("hang", config, None), steps, cassette)
    for _ in range(2):
        result = run_traced(*_args("hang", config, cassette), env=sandbox.env, cwd=sandbox.work)
        assert result.remote and result.returncode == 0, result.stderr
        assert b"timed out after 0.3s" in result.stdout
    assert len(_started(server)) == 2
    assert any("stopped (not given back clean)" in line for line in server.lines), server.lines
