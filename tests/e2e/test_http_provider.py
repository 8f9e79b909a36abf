"""The HTTP provider path through the CLI: `tau run --model openai-chat:mock-model` against aimock on 127.0.0.1
(base URL from TAU_BASE_URL), covering streamed text, a tau tool round trip, 429 then success and a stream broken
before any output (both retried, with a `retry` event), 5xx (exit 1), and `--record` then an offline replay.

The independent runs share one aimock (fixtures/chat.json; each prompt is used by one run) and run concurrently.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tau_e2e import (
    DATA,
    FIXTURES,
    Sandbox,
    TauResult,
    assert_stream_contract,
    by_type,
    require_aimock,
    run_aimock,
    run_concurrently,
    run_tau,
)

pytestmark = pytest.mark.node

MODEL = "openai-chat:mock-model"
NO_RETRIES = "[providers.openai-chat]\nmax_retries = 0\n"


@pytest.fixture(scope="module")
def aimock_module() -> Iterator[str]:
    """Base URL (`http://127.0.0.1:PORT/v1`) of one aimock serving tests/e2e/fixtures/chat.json."""
    require_aimock()
    with run_aimock(FIXTURES / "chat.json") as origin:
        yield f"{origin}/v1"


RUNS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "stream": (("-p", "please say hello", "-o", "stream-json"), {}),
    "text": (("-p", "please say hello"), {}),
    "tool": (("-p", "read the data file", "-o", "stream-json"), {"data.txt": DATA}),
    "429": (("-p", "rate limited once", "-o", "stream-json"), {}),
    "broken": (("-p", "flaky stream", "-o", "stream-json"), {}),
    "500": (("-p", "always failing", "-o", "stream-json"), {"../home/.config/tau/config.toml": NO_RETRIES}),
}


@pytest.fixture(scope="module")
def http_runs(aimock_module: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, TauResult]:
    jobs: dict[str, Callable[[], TauResult]] = {}
    for name, (args, files) in RUNS.items():
        box = Sandbox(tmp_path_factory.mktemp(f"http-{name}"))
        box.populate(files)
        env = {**box.env, "TAU_BASE_URL": aimock_module}
        jobs[name] = functools.partial(run_tau, "run", *args, "--model", MODEL, sandbox=box, env=env)
    return run_concurrently(jobs)


def stream_ok(result: TauResult, schema: dict[str, Any], model: str = MODEL) -> list[dict[str, Any]]:
    assert result.returncode == 0, result
    assert_stream_contract(result.lines, schema)
    assert result.lines[0]["model"] == model
    return result.lines


def test_streaming_text(http_runs: dict[str, TauResult], event_schema: dict[str, Any]) -> None:
    lines = stream_ok(http_runs["stream"], event_schema)
    deltas = [e["text"] for e in by_type(lines, "message.delta")]
    assert "".join(deltas) == "Hello from aimock, streamed in small chunks." == lines[-1]["result"]
    assert len(deltas) > 1  # really streamed
    assert [(e["text"], e["model"]) for e in by_type(lines, "message.completed")] == [
        ("Hello from aimock, streamed in small chunks.", "mock-model")
    ]
    assert by_type(lines, "retry.scheduled") == []


def test_text_output(http_runs: dict[str, TauResult]) -> None:
    result = http_runs["text"]
    assert result.returncode == 0, result
    assert result.stdout == "Hello from aimock, streamed in small chunks.\n"


def test_tool_call_round_trip(http_runs: dict[str, TauResult], event_schema: dict[str, Any]) -> None:
    lines = stream_ok(http_runs["tool"], event_schema)
    started = by_type(lines, "tool.started")
    assert [(e["tool"], e["input"]) for e in started] == [("read", {"file_path": "data.txt"})]
    assert [(e["call_id"], e["status"], e["output"]) for e in by_type(lines, "tool.completed")] == [
        (started[0]["call_id"], "success", "     1\talpha beta gamma\n     2\tdelta epsilon")
    ]
    assert lines[-1]["result"] == "data.txt starts with alpha."
    assert lines[-1]["usage"]["requests"] == 2


def test_429_then_success_with_a_retry_event(http_runs: dict[str, TauResult], event_schema: dict[str, Any]) -> None:
    lines = stream_ok(http_runs["429"], event_schema)
    retries = [{k: v for k, v in e.items() if k != "seq"} for e in by_type(lines, "retry.scheduled")]
    assert retries == [
        {
            "type": "retry.scheduled",
            "attempt": 1,
            "delay_ms": 0.0,
            "error": "HTTP 429 rate limited: Rate limit exceeded",
        }
    ]
    assert lines[-1]["result"] == "Worth the wait."


def test_stream_broken_before_output_is_retried(http_runs: dict[str, TauResult], event_schema: dict[str, Any]) -> None:
    lines = stream_ok(http_runs["broken"], event_schema)
    assert [e["attempt"] for e in by_type(lines, "retry.scheduled")] == [1]
    assert "".join(e["text"] for e in by_type(lines, "message.delta")) == "Delivered on the second attempt."
    assert lines[-1]["result"] == "Delivered on the second attempt."


def test_5xx_is_exit_1(http_runs: dict[str, TauResult], event_schema: dict[str, Any]) -> None:
    result = http_runs["500"]
    assert result.returncode == 1, result
    assert_stream_contract(result.lines, event_schema)
    last = result.last()
    assert (last["status"], last["terminal_reason"], last["exit_code"], last["error_kind"], last["retryable"]) == (
        "failed",
        "provider_error",
        1,
        "ProviderError",
        True,
    )
    assert last["error"] == "provider error: model 'mock-model': HTTP 500 server error: upstream exploded"


def test_record_then_replay_offline(sandbox: Sandbox, event_schema: dict[str, Any]) -> None:
    require_aimock()
    sandbox.write("data.txt", DATA)
    args = ("run", "-p", "read the data file", "-o", "stream-json")
    with run_aimock(FIXTURES / "chat.json") as origin:
        env = {**sandbox.env, "TAU_BASE_URL": f"{origin}/v1"}
        live = run_tau(*args, "--model", MODEL, "--record", "tape.json", sandbox=sandbox, env=env)
    stream_ok(live, event_schema)
    # aimock is stopped now: the replay must not need it (and TAU_BASE_URL is not even set)
    replayed = run_tau(*args, "--model", "replay:tape.json", sandbox=sandbox)
    stream_ok(replayed, event_schema, model=f"replay:{sandbox.work / 'tape.json'}")

    def essence(lines: list[dict[str, Any]]) -> list[Any]:
        keep = {"turn.started", "message.completed", "tool.started", "tool.completed", "permission.decided"}
        drop = {"seq", "duration_ms"}
        return [{k: v for k, v in e.items() if k not in drop} for e in lines if e["type"] in keep]

    assert essence(replayed.lines) == essence(live.lines)
    keys = ("status", "terminal_reason", "exit_code", "result", "num_turns", "usage")
    assert {k: replayed.last()[k] for k in keys} == {k: live.last()[k] for k in keys}
    assert replayed.last()["result"] == "data.txt starts with alpha."
