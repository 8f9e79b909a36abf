"""The HTTP provider path end to end: build_model -> pydantic-ai Agent -> OpenAI SDK -> a real local server (aimock).

Covers streaming text, a tool round trip, 429 then success (Retry-After honoured), a stream cut before any output
(retried) and after some output (ProviderError, not retried), 5xx exhausted (ProviderError), and record against the
server then replay offline with the same output, plus a diverging replay that names the step.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent, RunContext
from pydantic_ai.messages import AgentStreamEvent, PartDeltaEvent, PartStartEvent, TextPart, TextPartDelta

from tau.config.spec import ModelSpec
from tau.errors import ProviderError, ReplayDivergence
from tau.models.build import Backoff, RetryingModel, build_model
from tau.models.cassette import RecordingModel

pytestmark = [pytest.mark.anyio, pytest.mark.node]

FAST = Backoff(base=0.01, cap=0.02, jitter=0.0)


def spec_for(base_url: str, **overrides: Any) -> ModelSpec:
    return ModelSpec(provider="openai-chat", name="mock-model", base_url=base_url, **overrides)


class Retries:
    """Collects on_retry notifications."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, float, str]] = []

    def __call__(self, attempt: int, delay: float, error: str) -> None:
        self.calls.append((attempt, delay, error))


class TextCollector:
    """An event_stream_handler that concatenates streamed text (start parts and deltas), forcing a streamed request."""

    def __init__(self) -> None:
        self.chunks: list[str] = []

    async def __call__(self, ctx: RunContext[None], events: AsyncIterable[AgentStreamEvent]) -> None:
        async for event in events:
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                self.chunks.append(event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                self.chunks.append(event.delta.content_delta)


def weather_agent(model: Any, forecast: str = "sunny") -> Agent[None, str]:
    agent: Agent[None, str] = Agent(model)

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Look up the weather of a city."""
        return f"{city}: {forecast}, 21C"

    return agent


async def test_streaming_text(aimock_url: str) -> None:
    model = build_model(spec_for(aimock_url))
    collector = TextCollector()
    result = await Agent(model).run("please say hello", event_stream_handler=collector)
    assert result.output == "Hello from aimock, streamed in small chunks."
    assert "".join(collector.chunks) == result.output
    assert len(collector.chunks) > 1  # really streamed, in several chunks
    assert result.response.model_name == "mock-model"


async def test_tool_call_round_trip(aimock_url: str) -> None:
    agent = weather_agent(build_model(spec_for(aimock_url)))
    result = await agent.run("what is the weather in Paris?")
    assert result.output == "The tool says Paris is sunny."
    tool_returns = [
        part.content
        for message in result.all_messages()
        for part in message.parts
        if getattr(part, "part_kind", None) == "tool-return"
    ]
    assert tool_returns == ["Paris: sunny, 21C"]


async def test_429_then_success_honours_retry_after(aimock_url: str) -> None:
    retries = Retries()
    model = build_model(spec_for(aimock_url), on_retry=retries, backoff=Backoff(base=5.0, cap=5.0))
    result = await Agent(model).run("rate limited once", event_stream_handler=TextCollector())
    assert result.output == "Worth the wait."
    # aimock sent Retry-After: 0, which wins over the 5 s the backoff would have waited.
    assert retries.calls == [(1, 0.0, "HTTP 429 rate limited: Rate limit exceeded")]


async def test_stream_cut_before_any_output_is_retried(aimock_url: str) -> None:
    retries = Retries()
    model = build_model(spec_for(aimock_url), on_retry=retries, backoff=FAST)
    collector = TextCollector()
    result = await Agent(model).run("flaky stream", event_stream_handler=collector)
    assert result.output == "Delivered on the second attempt."
    assert "".join(collector.chunks) == "Delivered on the second attempt."  # nothing duplicated
    assert [attempt for attempt, _, _ in retries.calls] == [1]
    assert "connection" in retries.calls[0][2] or "stream broken" in retries.calls[0][2]


async def test_stream_cut_after_output_is_a_provider_error(aimock_url: str) -> None:
    retries = Retries()
    model = build_model(spec_for(aimock_url), on_retry=retries, backoff=FAST)
    collector = TextCollector()
    with pytest.raises(ProviderError) as caught:
        await Agent(model).run("broken stream", event_stream_handler=collector)
    assert "stream broke after" in str(caught.value)
    assert "not retried" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert retries.calls == []
    assert "".join(collector.chunks) == "This "  # what arrived before the cut, once


async def test_5xx_exhausted_is_a_provider_error(aimock_url: str) -> None:
    retries = Retries()
    model = build_model(spec_for(aimock_url, max_retries=2), on_retry=retries, backoff=FAST)
    with pytest.raises(ProviderError) as caught:
        await Agent(model).run("always failing")
    assert str(caught.value) == (
        "provider error: model 'mock-model': HTTP 500 server error: upstream exploded (gave up after 3 attempts)"
    )
    assert caught.value.exit_code == 1
    assert [(attempt, delay) for attempt, delay, _ in retries.calls] == [(1, 0.01), (2, 0.02)]


async def test_5xx_streamed_exhausted_is_a_provider_error(aimock_url: str) -> None:
    model = build_model(spec_for(aimock_url, max_retries=1), backoff=FAST)
    with pytest.raises(ProviderError, match="HTTP 500 server error: upstream exploded"):
        await Agent(model).run("always failing", event_stream_handler=TextCollector())


async def test_sdk_retries_are_off(aimock_url: str) -> None:
    """One retry layer: with max_retries=0 the server sees exactly one request, not the SDK's default three."""
    model = build_model(spec_for(aimock_url, max_retries=0), backoff=FAST)
    with pytest.raises(ProviderError):
        await Agent(model).run("always failing")
    origin = aimock_url.removesuffix("/v1")
    import urllib.request

    with urllib.request.urlopen(f"{origin}/__aimock/journal") as response:
        journal = json.loads(response.read())
    entries = journal if isinstance(journal, list) else journal.get("entries", journal.get("requests", []))
    chat = [entry for entry in entries if "chat/completions" in json.dumps(entry)]
    assert len(chat) == 1


@pytest.mark.parametrize("streamed", [False, True], ids=["request", "stream"])
async def test_record_then_replay_offline(aimock_url: str, tmp_path: Path, streamed: bool) -> None:
    cassette = tmp_path / "run.cassette.json"
    live = RecordingModel(build_model(spec_for(aimock_url)), cassette)
    handler = TextCollector() if streamed else None
    recorded = await weather_agent(live).run("weather in Paris", event_stream_handler=handler)
    assert recorded.output == "The tool says Paris is sunny."

    data = json.loads(cassette.read_text())
    assert [step["tools"] for step in data["steps"]] == [["get_weather"], ["get_weather"]]
    assert data["model_name"] == "mock-model"

    replay = build_model(ModelSpec(provider="replay", name=str(cassette)))
    assert not isinstance(replay, RetryingModel)
    replayed = await weather_agent(replay).run("weather in Paris", event_stream_handler=handler)
    assert replayed.output == recorded.output
    assert replayed.response.model_name == "mock-model"
    assert [type(m).__name__ for m in replayed.all_messages()] == [type(m).__name__ for m in recorded.all_messages()]


async def test_diverging_replay_names_the_step(aimock_url: str, tmp_path: Path) -> None:
    cassette = tmp_path / "run.cassette.json"
    await weather_agent(RecordingModel(build_model(spec_for(aimock_url)), cassette)).run("weather in Paris")

    replay = build_model(ModelSpec(provider="replay", name=str(cassette)))
    with pytest.raises(ReplayDivergence) as caught:
        await weather_agent(replay, forecast="rainy").run("weather in Paris")
    assert str(caught.value) == (
        "replay diverged at step 2: tool result for 'get_weather' differs "
        "(recorded 'Paris: sunny, 21C', got 'Paris: rainy, 21C')"
    )
