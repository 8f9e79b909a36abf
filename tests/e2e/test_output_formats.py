"""The four `--output` formats through the real CLI, on the shipped hello example and on recorded runs.

text: the answer alone on stdout, progress on stderr (plain `tau: [HH:MM:SS] ...` lines without a TTY, a summary
last), nothing with -q.
json: exactly one object with the documented keys. stream-json: the event contract (schema, seq, first/last event).
claude-stream-json: Claude Code's shape — system/init first, assistant tool_use ids matching user tool_result ids,
result last (success, or error_max_turns at the turn cap).
"""

from __future__ import annotations

import re
from typing import Any

from tau_e2e import Recordings, Sandbox, TauResult, assert_stream_contract, by_type, run_tau, scrub

HELLO_ANSWER = "data.txt has 3 lines and 20 words. I wrote a two-line summary to notes/summary.md."
JSON_KEYS = {
    "status",
    "terminal_reason",
    "exit_code",
    "result",
    "structured_output",
    "error",
    "retryable",
    "usage",
    "cost_usd",
    "num_turns",
    "duration_ms",
    "session_id",
    "permission_denials",
}


def hello(sandbox: Sandbox, *args: str) -> TauResult:
    job = sandbox.copy_hello()
    return run_tau("run", str(job), *args, sandbox=sandbox)


def test_text_answer_on_stdout_progress_on_stderr(sandbox: Sandbox) -> None:
    result = hello(sandbox)
    assert result.returncode == 0, result
    assert result.stdout == HELLO_ANSWER + "\n"
    ws = str(sandbox.work)
    assert all(re.match(r"tau: \[\d\d:\d\d:\d\d\] ", line) for line in result.stderr_lines), result.stderr
    progress = [re.sub(r"^tau: \[[\d:]+\] ", "tau: ", line).replace(ws, "<ws>") for line in result.stderr_lines]
    assert progress[0].startswith("tau: session ") and progress[0].endswith(" · replay:<ws>/cassette.json · <ws>")
    assert progress[1:-1] == [
        "tau: turn 1 · thinking",
        "tau: read: data.txt",
        "tau: turn 2 · thinking",
        "tau: bash: wc -l -w data.txt",
        "tau: turn 3 · thinking",
        "tau: write: notes/summary.md",
        "tau: turn 4 · thinking",
    ]
    assert re.fullmatch(r"tau: completed · 4 turns · 270 tokens · [\d.]+( ms|s)", progress[-1]), progress[-1]


def test_text_quiet_prints_only_the_answer(sandbox: Sandbox) -> None:
    result = hello(sandbox, "-q")
    assert (result.returncode, result.stdout, result.stderr) == (0, HELLO_ANSWER + "\n", "")


def test_text_failure_reason_on_stderr(sandbox: Sandbox, recordings: Recordings) -> None:
    """A capped run still prints its answer on stdout, and one `tau: <reason>: <error>` line on stderr."""
    result = run_tau(*recordings.replay_args("turns", sandbox, "-q"), sandbox=sandbox)
    assert result.returncode == 53, result
    assert result.stdout == "Out of turns: data.txt has 2 lines.\n"
    assert result.stderr_lines == ["tau: max_turns: turn limit reached (2 model requests, --max-turns 2)"]


def test_json_is_exactly_one_object(sandbox: Sandbox, recordings: Recordings) -> None:
    """(The hello example's whole `-o json` object: test_exit_codes.py::test_0_completed_hello_example.)"""
    result = run_tau(*recordings.replay_args("greet", sandbox, "-o", "json"), sandbox=sandbox)
    assert result.returncode == 0, result
    obj = result.json
    assert set(obj) == JSON_KEYS
    assert scrub(obj) == {
        "status": "completed",
        "terminal_reason": "completed",
        "exit_code": 0,
        "result": "Hello, Ada!",
        "structured_output": None,
        "error": None,
        "retryable": False,
        "usage": obj["usage"] | {"requests": 1, "tool_calls": 0, "cache_read_tokens": 0, "cache_write_tokens": 0},
        "cost_usd": None,
        "num_turns": 1,
        "duration_ms": "<duration_ms>",
        "session_id": "<session_id>",
        "permission_denials": [],
    }
    assert result.stderr == ""


def test_json_on_a_budget_cap(sandbox: Sandbox, recordings: Recordings) -> None:
    result = run_tau(*recordings.replay_args("tool_calls", sandbox, "-o", "json"), sandbox=sandbox)
    assert result.returncode == 5, result
    obj = result.json
    assert set(obj) == JSON_KEYS
    assert (obj["status"], obj["terminal_reason"], obj["exit_code"], obj["error"], obj["result"]) == (
        "failed",
        "max_tool_calls",
        5,
        "tool call budget reached (1 calls, --max-tool-calls 1)",
        "Read data.txt; stopping at the tool call budget.",
    )


def test_stream_json_hello(sandbox: Sandbox, event_schema: dict[str, Any]) -> None:
    result = hello(sandbox, "-o", "stream-json")
    assert result.returncode == 0, result
    assert_stream_contract(result.lines, event_schema)
    first = scrub(result.lines[0], workspace=sandbox.work)
    assert first == {
        "seq": 0,
        "type": "session.started",
        "schema_version": "2.0",
        "session_id": "<session_id>",
        "snapshot_id": "<snapshot_id>",
        "model": "replay:<ws>/cassette.json",
        "cwd": "<ws>",
        "environment": {"kind": "host", "workspace": "<ws>", "image": None, "container": None},
        "tools": ["read", "write", "edit", "bash", "glob", "grep", "ask_user"],
        "mcp": [],
        "memory_files": [],
        "skills": [],
        "permission_mode": "default",
        "tau_version": first["tau_version"],
    }
    # the session id is the same in the first and the last event
    assert result.lines[0]["session_id"] == result.last()["session_id"]
    decided = [(e["tool"], e["resolution"], e["rule"]) for e in by_type(result.lines, "permission.decided")]
    assert decided == [
        ("read", "allowed", None),
        ("bash", "allowed", "Bash(wc *)"),
        ("write", "allowed", "Edit(notes/**)"),
    ]
    completed = [
        (e["tool"], e["status"], scrub(e["output"], workspace=sandbox.work))
        for e in by_type(result.lines, "tool.completed")
    ]
    assert completed == [
        (
            "read",
            "success",
            "     1\ttau runs agent jobs from markdown files.\n     2\tIt exits with a code a script can trust.\n"
            "     3\tSessions are immutable snapshots.",
        ),
        ("bash", "success", "exit code: 0\nstdout:\n  3  20 data.txt"),
        ("write", "success", "Wrote <ws>/notes/summary.md (2 lines, 114 bytes)"),
    ]
    assert result.last()["result"] == HELLO_ANSWER


def test_stream_json_streams_message_deltas(sandbox: Sandbox, recordings: Recordings) -> None:
    result = run_tau(*recordings.replay_args("greet", sandbox, "-o", "stream-json"), sandbox=sandbox)
    assert result.returncode == 0, result
    deltas = "".join(e["text"] for e in by_type(result.lines, "message.delta"))
    assert deltas == "Hello, Ada!" == result.last()["result"]


def test_claude_stream_json_hello(sandbox: Sandbox) -> None:
    result = hello(sandbox, "-o", "claude-stream-json")
    assert result.returncode == 0, result
    lines = scrub(result.lines, workspace=sandbox.work)
    init = lines[0]
    assert init == {
        "type": "system",
        "subtype": "init",
        "session_id": "<session_id>",
        "cwd": "<ws>",
        "model": "replay:<ws>/cassette.json",
        "permissionMode": "default",
        "tools": ["Read", "Write", "Edit", "Bash", "Glob", "Grep", "AskUserQuestion"],
        "mcp_servers": [],
        "skills": [],
        "apiKeySource": "none",
        "output_style": "default",
        "tau_version": init["tau_version"],
    }
    assert [line["type"] for line in lines] == ["system", *["assistant", "user"] * 3, "assistant", "result"]
    tool_uses = [block for line in lines if line["type"] == "assistant" for block in line["message"]["content"]]
    assert tool_uses == [
        {"type": "text", "text": "Let me read the file first."},
        {"type": "tool_use", "id": "call_1_0", "name": "Read", "input": {"file_path": "data.txt"}},
        {
            "type": "tool_use",
            "id": "call_2_0",
            "name": "Bash",
            "input": {"command": "wc -l -w data.txt", "description": "Count lines and words"},
        },
        {
            "type": "tool_use",
            "id": "call_3_0",
            "name": "Write",
            "input": {
                "file_path": "notes/summary.md",
                "content": "tau runs agent jobs from markdown files and exits with codes scripts trust.\n"
                "Its sessions are immutable snapshots.\n",
            },
        },
        {"type": "text", "text": HELLO_ANSWER},
    ]
    results = [block for line in lines if line["type"] == "user" for block in line["message"]["content"]]
    assert [(b["type"], b["tool_use_id"], b["is_error"]) for b in results] == [
        ("tool_result", "call_1_0", False),
        ("tool_result", "call_2_0", False),
        ("tool_result", "call_3_0", False),
    ]
    assert {line["session_id"] for line in lines if "session_id" in line} == {"<session_id>"}
    assert lines[-1] == {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "duration_ms": "<duration_ms>",
        "num_turns": 4,
        "result": HELLO_ANSWER,
        "session_id": "<session_id>",
        "total_cost_usd": 0.0,
        "usage": {
            "input_tokens": 200,
            "output_tokens": 70,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
        "permission_denials": [],
        "structured_output": None,
        "terminal_reason": "completed",
    }


def test_claude_stream_json_turn_limit(sandbox: Sandbox, recordings: Recordings) -> None:
    result = run_tau(*recordings.replay_args("turns", sandbox, "-o", "claude-stream-json"), sandbox=sandbox)
    assert result.returncode == 53, result
    lines = result.lines
    assert lines[0]["type"] == "system" and lines[0]["subtype"] == "init"
    blocks = [b for line in lines if line["type"] == "assistant" for b in line["message"]["content"]]
    uses = [b["id"] for b in blocks if b["type"] == "tool_use"]
    results = [b["tool_use_id"] for line in lines if line["type"] == "user" for b in line["message"]["content"]]
    assert uses == results == ["call_1_0", "call_2_0"]
    last = scrub(lines[-1])
    assert (last["type"], last["subtype"], last["is_error"], last["num_turns"], last["result"]) == (
        "result",
        "error_max_turns",
        True,
        3,
        "Out of turns: data.txt has 2 lines.",
    )
    assert last["terminal_reason"] == "max_turns"
