"""Provider errors typed honestly, against a real local OpenAI-compatible server that fails on purpose
(provider_faults.py), through `build_model` -> pydantic-ai Agent -> the OpenAI SDK, streamed and not.

- 400/401/403/404/422 (and a provider's `x-should-retry: false`) are sent once, never retried, and map to a
  `ProviderError` with `retryable=False`;
- 408/409/429/5xx, a connection dropped before any output, and a 200 whose body is malformed (not JSON, an HTML
  page, empty, the wrong shape, a garbage event stream) are retried, and when they outlive the retries end as
  `ProviderError(retryable=True)`;
- every message is tau's one line: status, category and the provider's message, never the SDK's dump or an HTML page.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable
from typing import Any

import pytest
from provider_faults import Cut, FaultServer, Malformed, Reply, Status, Text
from pydantic_ai import Agent, RunContext
from pydantic_ai.exceptions import ModelAPIError
from pydantic_ai.messages import AgentStreamEvent

from tau.config.spec import ModelSpec
from tau.errors import ProviderError
from tau.models.build import Backoff, as_provider_error, build_model, describe_error, is_transient

pytestmark = pytest.mark.anyio

FAST = Backoff(base=0.01, cap=0.01, jitter=0.0)
MODES = ["request", "stream"]
REFUSED = {
    400: "request rejected",
    401: "authentication failed",
    403: "authentication failed",
    404: "not found",
    422: "request rejected",
}
TRANSIENT = {
    408: "error",
    409: "error",
    429: "rate limited",
    500: "server error",
    502: "server error",
    503: "unavailable",
}
MALFORMED: dict[str, Malformed] = {
    "not-json": Malformed(),
    "html-page": Malformed(b"<html><body>502 Bad Gateway</body></html>", "text/html"),
    "empty": Malformed(b""),
    "wrong-shape": Malformed(b'{"unexpected": true}'),
    "garbage-events": Malformed(b"data: {not json\n\n", "text/event-stream"),
}


async def _drain(ctx: RunContext[None], events: AsyncIterable[AgentStreamEvent]) -> None:
    async for _ in events:
        pass


class Retries:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def __call__(self, attempt: int, delay: float, error: str) -> None:
        self.errors.append(error)


async def _run(faults: FaultServer, key: str, *replies: Reply, mode: str, retries: int = 1) -> tuple[Any, Retries]:
    """Run one prompt against `replies` (one step); returns (output or the exception raised, retry notes)."""
    tag = faults.script(key, list(replies))
    notes = Retries()
    model = build_model(
        ModelSpec(provider="openai-chat", name="m", base_url=faults.base_url, max_retries=retries),
        backoff=FAST,
        on_retry=notes,
    )
    handler: Callable[..., Any] | None = _drain if mode == "stream" else None
    try:
        result = await Agent(model).run(tag, event_stream_handler=handler)
    except Exception as error:
        return error, notes
    return result.output, notes


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", sorted(REFUSED))
async def test_a_refused_request_is_sent_once_and_not_retryable(faults: FaultServer, status: int, mode: str) -> None:
    key = f"refused-{status}-{mode}"
    raised, notes = await _run(faults, key, Status(status, "you may not"), Text("never"), mode=mode)
    assert isinstance(raised, ModelAPIError), raised
    assert (faults.attempts(key), notes.errors, is_transient(raised)) == ([1], [], False)
    error = as_provider_error(raised)
    assert (error.message, error.retryable, error.exit_code, error.reason) == (
        f"provider error: model 'm': HTTP {status} {REFUSED[status]}: you may not",
        False,
        1,
        "provider_error",
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", sorted(TRANSIENT))
async def test_a_transient_status_is_retried(faults: FaultServer, status: int, mode: str) -> None:
    key = f"transient-{status}-{mode}"
    output, notes = await _run(faults, key, Status(status, "try later"), Text("recovered"), mode=mode)
    assert (output, faults.attempts(key)) == ("recovered", [2])
    assert notes.errors == [f"HTTP {status} {TRANSIENT[status]}: try later"]


@pytest.mark.parametrize("mode", MODES)
async def test_the_providers_should_retry_false_wins(faults: FaultServer, mode: str) -> None:
    key = f"no-retry-hint-{mode}"
    reply = Status(503, "down for good", headers={"x-should-retry": "false"})
    raised, notes = await _run(faults, key, reply, Text("never"), mode=mode)
    assert (faults.attempts(key), notes.errors) == ([1], [])
    assert as_provider_error(raised).retryable is False


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", sorted(MALFORMED))
async def test_a_malformed_200_is_retried_like_a_broken_stream(faults: FaultServer, kind: str, mode: str) -> None:
    key = f"malformed-{kind}-{mode}"
    output, notes = await _run(faults, key, MALFORMED[kind], Text("recovered"), mode=mode)
    assert (output, faults.attempts(key)) == ("recovered", [2])
    assert [note.startswith("malformed response: ") for note in notes.errors] == [True], notes.errors


@pytest.mark.parametrize("mode", MODES)
async def test_a_malformed_200_that_outlives_the_retries_is_a_retryable_provider_error(
    faults: FaultServer, mode: str
) -> None:
    key = f"malformed-always-{mode}"
    raised, notes = await _run(faults, key, Malformed(), mode=mode, retries=2)
    assert isinstance(raised, ProviderError), raised
    assert (faults.attempts(key), len(notes.errors), raised.retryable) == ([3], 2, True)
    assert raised.message.startswith("provider error: model 'm': malformed response: ")
    assert raised.message.endswith(" (gave up after 3 attempts)")


@pytest.mark.parametrize("mode", MODES)
async def test_an_html_error_page_is_named_by_its_status_not_dumped(faults: FaultServer, mode: str) -> None:
    key = f"html-502-{mode}"
    page = b"<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>\n"
    raised, _ = await _run(faults, key, Status(502, body=page, content_type="text/html"), mode=mode)
    assert isinstance(raised, ProviderError), raised
    assert (raised.message, raised.retryable) == (
        "provider error: model 'm': HTTP 502 server error: bad gateway (gave up after 2 attempts)",
        True,
    )


async def test_an_error_without_a_body_is_named_by_its_status(faults: FaultServer) -> None:
    raised, _ = await _run(faults, "bare-401", Status(401, body=b""), mode="stream")
    assert (
        as_provider_error(raised).message == "provider error: model 'm': HTTP 401 authentication failed: unauthorized"
    )


async def test_a_connection_dropped_before_any_output_is_retried(faults: FaultServer) -> None:
    output, notes = await _run(faults, "cut-early", Cut("never seen", after=0), Text("recovered"), mode="stream")
    assert (output, faults.attempts("cut-early")) == ("recovered", [2])
    assert [note.startswith("connection error") for note in notes.errors] == [True], notes.errors


async def test_a_stream_broken_after_output_is_not_retried_but_retryable(faults: FaultServer) -> None:
    reply = Cut("a long answer that breaks off in the middle", after=2)
    raised, notes = await _run(faults, "cut-late", reply, Text("never"), mode="stream")
    assert isinstance(raised, ProviderError), raised
    assert (faults.attempts("cut-late"), notes.errors, raised.retryable) == ([1], [], True)
    assert "not retried" in raised.message and "\n" not in raised.message


async def test_a_long_multi_line_provider_message_becomes_one_short_line(faults: FaultServer) -> None:
    message = "line one\n" + "x" * 1000 + "\n\tline three"
    raised, _ = await _run(faults, "long-message", Status(400, message), mode="request")
    line = describe_error(raised)
    assert "\n" not in line and "\t" not in line and len(line) == 240
    assert line.startswith("HTTP 400 request rejected: line one xxx") and line.endswith("…")
