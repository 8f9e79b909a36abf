"""`--timeout` and `--idle-timeout` through the real CLI (issue #13), with no assertion on how long anything took.

- `--timeout` counts from launch, start-up included: start-up made deterministically longer than the limit (a
  SessionStart hook, an MCP server slow to start) ends the run `timeout`, exit 124, before any model request (the
  scripted model's request log stays empty) — and cuts that start-up work off (the marker it would write after its
  sleep never appears, its process is gone). Before the session exists (MCP servers, the sandbox) that is one line
  on stderr and no event, like a preflight failure; after (hooks), the terminal event says `timeout`;
- a tool that sleeps past `--timeout` ends the run `timeout`, exit 124, and the tool process is gone;
- `--idle-timeout`: a running tool call is never idle, however silent (`sleep 5` under `--idle-timeout 2` completes),
  while a model endpoint that accepts the request and never answers is (exit 124, `idle_timeout`).

The model is the fault server of tests/providers (`faults`), which logs every request it gets, or `stalled_model`.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from provider_faults import Calls, FaultServer, Text
from tau_e2e import Sandbox, TauResult, assert_stream_contract, run_tau

from tau.protocol import HookRan, RunCompleted, ToolCompleted, ToolStarted


def kind(event: type[Any]) -> str:
    value = event.model_fields["type"].default
    assert isinstance(value, str)
    return value


def marker(tag: str) -> str:
    return f"tau-limits-{tag}-{os.getpid()}-{time.monotonic_ns()}"


def running(needle: str) -> list[int]:
    """Pids whose command line holds `needle` as a whole argument."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if f"\0{needle}\0".encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def gone(needle: str, bound: float = 10.0) -> bool:
    """Whether no process holds `needle` (allowing `bound` seconds for a SIGKILLed one to be reaped)."""
    deadline = time.monotonic() + bound
    while running(needle):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def sleeper(tag: str, seconds: int, then: str) -> str:
    """A shell line that sleeps in a findable process, then touches `then` (perl: other tests look for `sleep`)."""
    return f"perl -e 'sleep {seconds}' {tag} && touch {then}"


def model_args(faults: FaultServer, key: str, *steps: Any) -> list[str]:
    tag = faults.script(key, *steps)
    return ["-p", f"{tag} go", "--model", "openai-chat:m", "--base-url", faults.base_url]


def ended(result: TauResult, schema: dict[str, Any], reason: str) -> dict[str, Any]:
    """The run's terminal event, after checking the stream contract, exit 124 and `reason`."""
    assert result.returncode == 124, result
    assert_stream_contract(result.lines, schema)
    last = result.last()
    assert (last["type"], last["terminal_reason"], last["exit_code"], last["status"]) == (
        kind(RunCompleted),
        reason,
        124,
        "failed",
    ), last
    return last


def test_a_start_up_hook_longer_than_the_timeout_ends_the_run_before_any_model_request(
    sandbox: Sandbox, faults: FaultServer, event_schema: dict[str, Any]
) -> None:
    tag = marker("hook")
    hook = {"hooks": {"SessionStart": [{"hooks": [{"command": sleeper(tag, 30, "hook-finished"), "timeout": 600}]}]}}
    sandbox.write(".tau/settings.json", json.dumps(hook))
    args = model_args(faults, "startup-hook", Text("never asked"))
    result = run_tau("run", *args, "--trust-workspace", "--timeout", "5", "-o", "stream-json", sandbox=sandbox)
    assert faults.bodies("startup-hook") == []  # start-up used the whole limit: the model was never asked
    assert not (sandbox.work / "hook-finished").exists()  # the hook was cut off, not waited for
    assert gone(tag), "the SessionStart hook outlived the run"
    if not result.stdout:  # a machine so loaded that 5 s passed before the session began: ended while starting
        assert (result.returncode, result.stderr_lines) == (124, ["tau: run exceeded --timeout 5s (while starting)"])
        return
    last = ended(result, event_schema, "timeout")
    assert last["error"] == "run exceeded --timeout 5s"
    assert last["usage"]["requests"] == 0
    hooks = [line for line in result.lines if line["type"] == kind(HookRan)]
    assert [(h["event"], h["exit_code"]) for h in hooks] in ([], [("SessionStart", None)]), hooks
    assert result.stderr == ""


def test_an_mcp_server_slower_to_start_than_the_timeout_ends_the_run_before_any_model_request(
    sandbox: Sandbox, faults: FaultServer
) -> None:
    """Start-up before the session exists (MCP servers start before the run's first event) is bounded too: the
    limit ends it like a preflight failure — one line on stderr, exit 124, no event, no session."""
    tag = marker("mcp")
    server = {"command": "sh", "args": ["-c", f"{sleeper(tag, 30, 'mcp-started')} && exec cat"]}
    config = json.dumps({"mcpServers": {"slow": server}})
    state = sandbox.root / "state"
    args = model_args(faults, "startup-mcp", Text("never asked"))
    result = run_tau(
        "run", *args, "--mcp-config", config, "--timeout", "2", "-o", "stream-json", "--state-dir", str(state),
        sandbox=sandbox,
    )  # fmt: skip
    assert result.returncode == 124, result
    assert (result.stdout, result.stderr_lines) == ("", ["tau: run exceeded --timeout 2s (while starting)"])
    assert faults.bodies("startup-mcp") == []
    assert not (sandbox.work / "mcp-started").exists()
    assert gone(tag), "the MCP server outlived the run"
    listing = run_tau("sessions", "ls", "--json", "--state-dir", str(state), sandbox=sandbox)
    assert (listing.returncode, listing.stdout) == (0, ""), listing


@pytest.mark.slow
def test_a_tool_that_sleeps_past_the_timeout(
    sandbox: Sandbox, faults: FaultServer, event_schema: dict[str, Any]
) -> None:
    """(10 s, not 4: the limit counts from launch, and a loaded machine can spend 4 s starting tau, which ends the
    run before the tool call this test is about.)"""
    tag = marker("tool")
    command = sleeper(tag, 120, "tool-finished")
    args = model_args(faults, "tool-sleeps", Calls(("bash", {"command": command})), Text("never asked"))
    result = run_tau("run", *args, "--allow", "Bash", "--timeout", "10", "-o", "stream-json", sandbox=sandbox)
    last = ended(result, event_schema, "timeout")
    assert last["error"] == "run exceeded --timeout 10s"
    assert faults.attempts("tool-sleeps") == [1, 0]
    assert [line["input"] for line in result.lines if line["type"] == kind(ToolStarted)] == [{"command": command}]
    assert not (sandbox.work / "tool-finished").exists()
    assert gone(tag), "the tool process outlived the run"


def test_a_silent_running_tool_is_not_idle(sandbox: Sandbox, faults: FaultServer, event_schema: dict[str, Any]) -> None:
    """`sleep 5` says nothing for 5 s under a 2 s idle limit (2, not 1: outside the tool call the run must not be
    found idle by a loaded machine's pauses)."""
    args = model_args(faults, "silent-tool", Calls(("bash", {"command": "sleep 5"})), Text("slept well"))
    result = run_tau("run", *args, "--allow", "Bash", "--idle-timeout", "2", "-o", "stream-json", sandbox=sandbox)
    assert result.returncode == 0, result
    assert_stream_contract(result.lines, event_schema)
    tools = [(line["status"], line["output"]) for line in result.lines if line["type"] == kind(ToolCompleted)]
    assert [status for status, _ in tools] == ["success"], tools
    last = result.last()
    assert (last["terminal_reason"], last["result"]) == ("completed", "slept well")
    assert faults.attempts("silent-tool") == [1, 1]


@pytest.mark.parametrize("output", ["stream-json", "json"])
def test_a_model_endpoint_that_never_answers_is_idle(
    sandbox: Sandbox, stalled_model: str, event_schema: dict[str, Any], output: str
) -> None:
    result = run_tau(
        "run", "-p", "anyone there?", "--model", "openai-chat:m", "--base-url", stalled_model,
        "--idle-timeout", "1", "-o", output, sandbox=sandbox,
    )  # fmt: skip
    if output == "json":
        assert result.returncode == 124, result
        obj = result.json
        assert (obj["terminal_reason"], obj["exit_code"], obj["retryable"]) == ("idle_timeout", 124, False)
        assert result.stderr == ""
        return
    last = ended(result, event_schema, "idle_timeout")
    assert last["error"] == "no activity for 1s (--idle-timeout)"
    assert last["usage"]["requests"] == 0
