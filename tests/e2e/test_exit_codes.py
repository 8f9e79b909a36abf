"""Every documented exit code (DESIGN.md §4), each produced by a real `tau run` subprocess.

0 completed · 1 provider failure / replay divergence · 2 usage (see test_bad_input.py) · 5 budgets · 53 turns ·
124 wall and idle timeouts · 130/143 SIGINT/SIGTERM delivered while a `sleep` tool call runs. Each run uses
`-o stream-json`, so every run — also on error, cap, timeout and signal — must keep the stream contract: schema-valid
lines, seq 0..n-1, session.started first, run.completed last.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tau_e2e import (
    TIMEOUT,
    Recordings,
    Sandbox,
    assert_stream_contract,
    by_type,
    closed_port,
    run_tau,
    scrub,
    tau_command,
)


def usage(requests: int, tool_calls: int) -> dict[str, Any]:
    """Usage totals as `terminal()` shows them: token counts are the scripted model's estimates, not asserted."""
    return {
        "input_tokens": "<tokens>",
        "output_tokens": "<tokens>",
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "requests": requests,
        "tool_calls": tool_calls,
    }


def terminal(event: dict[str, Any]) -> dict[str, Any]:
    """The run.completed event scrubbed for a whole-object compare (ids, durations and token estimates)."""
    scrubbed: dict[str, Any] = scrub(event)
    totals = scrubbed["usage"]
    assert isinstance(totals["input_tokens"], int) and isinstance(totals["output_tokens"], int), totals
    scrubbed["usage"] = {**totals, "input_tokens": "<tokens>", "output_tokens": "<tokens>"}
    return scrubbed


def completed(**fields: Any) -> dict[str, Any]:
    """A scrubbed run.completed event: defaults of a failed run, overridden by `fields`."""
    event: dict[str, Any] = {
        "seq": fields.pop("seq"),
        "type": "run.completed",
        "status": "failed",
        "session_id": "<session_id>",
        "result": None,
        "structured_output": None,
        "error_kind": None,
        "retryable": False,
        "cost_usd": None,
        "duration_ms": "<duration_ms>",
        "permission_denials": [],
    }
    event.update(fields)
    return event


def test_0_completed_hello_example(sandbox: Sandbox) -> None:
    job = sandbox.copy_hello()
    result = run_tau("run", str(job), "-o", "json", sandbox=sandbox)
    assert result.returncode == 0, result
    assert terminal(result.json) == {
        "status": "completed",
        "terminal_reason": "completed",
        "exit_code": 0,
        "result": "data.txt has 3 lines and 20 words. I wrote a two-line summary to notes/summary.md.",
        "structured_output": None,
        "error": None,
        "retryable": False,
        "usage": usage(4, 3),
        "cost_usd": None,
        "num_turns": 4,
        "duration_ms": "<duration_ms>",
        "session_id": "<session_id>",
        "permission_denials": [],
    }
    assert (sandbox.work / "notes" / "summary.md").read_text() == (
        "tau runs agent jobs from markdown files and exits with codes scripts trust.\n"
        "Its sessions are immutable snapshots.\n"
    )
    assert result.stderr == ""


def test_1_provider_unreachable(sandbox: Sandbox, event_schema: dict[str, Any]) -> None:
    """openai-chat against a closed 127.0.0.1 port, no retries configured (user config: a repository's `providers`
    apply only when it is trusted): exit 1, provider_error."""
    user_config = sandbox.home / ".config" / "tau" / "config.toml"
    user_config.parent.mkdir(parents=True, exist_ok=True)
    user_config.write_text("[providers.openai-chat]\nmax_retries = 0\n")
    env = {**sandbox.env, "TAU_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1"}
    result = run_tau(
        "run", "-p", "hello?", "--model", "openai-chat:nobody", "-o", "stream-json", sandbox=sandbox, env=env
    )
    assert result.returncode == 1, result
    assert_stream_contract(result.lines, event_schema)
    last = result.last()
    assert last["error"].startswith("model provider failed: ") or last["error"].startswith("provider error: "), last
    assert "connection" in last["error"].lower(), last
    assert terminal(last) | {"error": "<error>"} == completed(
        seq=len(result.lines) - 1,
        terminal_reason="provider_error",
        exit_code=1,
        error="<error>",
        error_kind="ProviderError",
        retryable=True,
        usage=usage(0, 0),
        num_turns=1,
    )
    assert result.stderr == ""


def test_1_replay_divergence(sandbox: Sandbox, recordings: Recordings, event_schema: dict[str, Any]) -> None:
    args = recordings.replay_args("tool_calls", sandbox, "-o", "stream-json")
    sandbox.write("data.txt", "something else\n")  # the read tool now returns what the recording never saw
    result = run_tau(*args, sandbox=sandbox)
    assert result.returncode == 1, result
    assert_stream_contract(result.lines, event_schema)
    # The read in turn 1 succeeded before request 2 diverged: the terminal usage must count it (see the bug report:
    # the driver reports the usage captured after the last *response*, not the run's final usage).
    assert result.last()["usage"]["tool_calls"] == 1, result.last()["usage"]
    assert terminal(result.last()) == completed(
        seq=len(result.lines) - 1,
        terminal_reason="replay_diverged",
        exit_code=1,
        result=None,
        error=(
            "replay diverged at step 2: tool result for 'read' differs "
            "(recorded ' 1\\talpha beta gamma\\n 2\\tdelta epsilon', got ' 1\\tsomething else')"
        ),
        error_kind="ReplayDivergence",
        usage=usage(1, 1),
        num_turns=2,
    )


BUDGETS = [
    pytest.param(
        "tool_calls",
        {
            "terminal_reason": "max_tool_calls",
            "error": "tool call budget reached (1 calls, --max-tool-calls 1)",
            "result": "Read data.txt; stopping at the tool call budget.",
            "usage": usage(2, 1),
            "num_turns": 2,
        },
        id="max-tool-calls",
    ),
    pytest.param(
        "failures",
        {
            "terminal_reason": "max_consecutive_failures",
            "error": "2 consecutive tool failures (--max-consecutive-failures 2)",
            "result": "Both files are missing.",
            "usage": usage(3, 0),  # pydantic-ai's usage counts successful tool calls only
            "num_turns": 3,
        },
        id="max-consecutive-failures",
    ),
    pytest.param(
        "tokens",
        {
            "terminal_reason": "max_tokens",
            "error": "<error>",
            "result": "Read data.txt; stopping at the tool call budget.",
            "usage": usage(2, 1),
            "num_turns": 2,
        },
        id="max-tokens",
    ),
]


@pytest.mark.parametrize(("scenario", "expected"), BUDGETS)
def test_5_budget_caps_after_one_finalize_turn(
    sandbox: Sandbox, recordings: Recordings, event_schema: dict[str, Any], scenario: str, expected: dict[str, Any]
) -> None:
    result = run_tau(*recordings.replay_args(scenario, sandbox, "-o", "stream-json"), sandbox=sandbox)
    assert result.returncode == 5, result
    assert_stream_contract(result.lines, event_schema)
    last = terminal(result.last())
    if scenario == "tokens":  # the count is the scripted model's estimate
        assert re.fullmatch(r"token budget reached \(\d+ tokens, --max-tokens 10\)", last["error"]), last
        last["error"] = "<error>"
    assert last == completed(seq=len(result.lines) - 1, exit_code=5, error_kind="BudgetExceeded", **expected)
    # the finalize turn saw no tools and called none
    assert by_type(result.lines, "message.completed")[-1]["tools"] == []


def test_53_turn_limit(sandbox: Sandbox, recordings: Recordings, event_schema: dict[str, Any]) -> None:
    result = run_tau(*recordings.replay_args("turns", sandbox, "-o", "stream-json"), sandbox=sandbox)
    assert result.returncode == 53, result
    assert_stream_contract(result.lines, event_schema)
    assert [e["turn"] for e in by_type(result.lines, "turn.started")] == [1, 2, 3]  # 2 + the finalize turn
    assert [(e["tool"], e["status"]) for e in by_type(result.lines, "tool.completed")] == [
        ("read", "success"),
        ("grep", "success"),
    ]
    assert terminal(result.last()) == completed(
        seq=len(result.lines) - 1,
        terminal_reason="max_turns",
        exit_code=53,
        result="Out of turns: data.txt has 2 lines.",
        error="turn limit reached (2 model requests, --max-turns 2)",
        error_kind="TurnLimitReached",
        usage=usage(3, 2),
        num_turns=3,
    )


def sleep_processes(workspace: Path) -> list[int]:
    """Pids of `sleep 37` processes (the scripted tool call) whose cwd is `workspace`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if argv[:2] == [b"sleep", b"37"] and cwd == str(workspace):
            pids.append(int(entry.name))
    return pids


@pytest.mark.parametrize(
    ("flag", "reason", "error"),
    [
        # 8 s, not 1: --timeout counts from launch, and a loaded machine can take seconds to start tau, which would
        # end the run before the tool call this test is about. (--idle-timeout: a running tool call is never idle;
        # test_run_limits.py has a silent tool and a stalled model.)
        ("--timeout", "timeout", "run exceeded --timeout 8s"),
    ],
)
def test_124_timeouts_stop_a_blocked_tool_call(
    sandbox: Sandbox, recordings: Recordings, event_schema: dict[str, Any], flag: str, reason: str, error: str
) -> None:
    result = run_tau(*recordings.replay_args("sleep", sandbox, "-o", "stream-json", flag, "8s"), sandbox=sandbox)
    assert result.returncode == 124, result
    assert_stream_contract(result.lines, event_schema)
    assert by_type(result.lines, "tool.started")[0]["input"] == {"command": "sleep 37"}
    assert terminal(result.last()) == completed(
        seq=len(result.lines) - 1,
        terminal_reason=reason,
        exit_code=124,
        error=error,
        error_kind="RunTimeout",
        usage=usage(1, 0),
        num_turns=1,
    )
    assert sleep_processes(sandbox.work) == []


@pytest.mark.parametrize(
    ("sig", "code", "reason"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["SIGINT", "SIGTERM"],
)
def test_signal_mid_tool_call(
    sandbox: Sandbox,
    recordings: Recordings,
    event_schema: dict[str, Any],
    sig: signal.Signals,
    code: int,
    reason: str,
) -> None:
    args = recordings.replay_args("sleep", sandbox, "-o", "stream-json")
    process = subprocess.Popen(
        tau_command(*args),
        cwd=sandbox.work,
        env=sandbox.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        lines: list[dict[str, Any]] = []
        for raw in process.stdout:  # until the bash call was allowed, i.e. `sleep 37` is running
            lines.append(json.loads(raw))
            if lines[-1]["type"] == "permission.decided" or lines[-1]["type"] == "run.completed":
                break
        assert lines[-1]["type"] == "permission.decided", lines
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=TIMEOUT)  # "promptly": far below the 37 s sleep
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines += [json.loads(line) for line in stdout.decode().splitlines()]
    assert process.returncode == code, stderr.decode()
    assert_stream_contract(lines, event_schema)
    assert terminal(lines[-1]) == completed(
        seq=len(lines) - 1,
        terminal_reason=reason,
        exit_code=code,
        error=f"received {sig.name}",
        error_kind="Interrupted",
        usage=usage(1, 0),
        num_turns=1,
    )
    assert stderr.decode() == ""
    assert sleep_processes(sandbox.work) == []
