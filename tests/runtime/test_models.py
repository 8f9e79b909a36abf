"""build_model, model_settings, Backoff and RetryingModel, with scripted models (no network, no real sleeping)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent, RunContext
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelContextWindowExceededError,
    ModelHTTPError,
    ModelOverloadedError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelServerError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from pydantic_ai.messages import AgentStreamEvent, ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

from tau.config.spec import ModelCapabilities, ModelSpec
from tau.errors import ConfigError, ProviderError
from tau.models.build import (
    Backoff,
    RetryingModel,
    as_provider_error,
    build_model,
    describe_error,
    is_transient,
    model_settings,
)

ROOT = Path(__file__).resolve().parents[2]


def http_error(category: Any, status: int, message: str = "nope", **kwargs: Any) -> ModelHTTPError:
    return ModelHTTPError.for_category(
        category, status_code=status, model_name="m", body={"error": {"message": message}}, **kwargs
    )


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class Retries:
    def __init__(self) -> None:
        self.calls: list[tuple[int, float, str]] = []

    def __call__(self, attempt: int, delay: float, error: str) -> None:
        self.calls.append((attempt, delay, error))


FIXED = Backoff(base=1.0, cap=8.0, jitter=0.0)


def failing_then(errors: list[Exception], text: str = "ok") -> tuple[FunctionModel, list[int]]:
    """A FunctionModel raising `errors` in turn (for request and stream alike), then answering `text`."""
    calls: list[int] = []

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls.append(len(calls))
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return ModelResponse(parts=[TextPart(text)])

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        calls.append(len(calls))
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        yield text

    return FunctionModel(respond, stream_function=stream, model_name="scripted"), calls


def retrying(model: FunctionModel, max_retries: int = 3) -> tuple[RetryingModel, Sleeps, Retries]:
    sleeps, retries = Sleeps(), Retries()
    wrapper = RetryingModel(model, max_retries=max_retries, backoff=FIXED, on_retry=retries, sleep=sleeps)
    return wrapper, sleeps, retries


# --- import cost -------------------------------------------------------------------------------------------------


def test_importing_models_imports_no_provider_sdk() -> None:
    code = (
        "import sys, tau.models.build, tau.models.cassette\n"
        "loaded = [m for m in ('openai', 'anthropic') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_building_an_openai_model_does_not_import_anthropic() -> None:
    code = (
        "import sys\n"
        "from tau.config.spec import ModelSpec\n"
        "from tau.models.build import build_model\n"
        "build_model(ModelSpec(provider='openai-chat', name='m', base_url='http://127.0.0.1:9/v1'))\n"
        "assert 'openai' in sys.modules and 'anthropic' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- build_model ----------------------------------------------------------------------------------------------------


def test_openai_is_chat_completions_behind_retrying() -> None:
    from pydantic_ai.models.openai import OpenAIChatModel

    model = build_model(ModelSpec(provider="openai", name="gpt-4o-mini", api_key="sk-test", max_retries=5))
    assert isinstance(model, RetryingModel)
    assert model.max_retries == 5
    assert isinstance(model.wrapped, OpenAIChatModel)
    assert model.model_name == "gpt-4o-mini"
    assert model.system == "openai"
    assert model.settings is not None and model.settings["max_retries"] == 0


def test_openai_chat_needs_a_base_url_and_no_key() -> None:
    model = build_model(ModelSpec(provider="openai-chat", name="local", base_url="http://127.0.0.1:8080/v1"))
    assert isinstance(model, RetryingModel)
    assert model.base_url == "http://127.0.0.1:8080/v1/"
    with pytest.raises(ConfigError, match="provider 'openai-chat' needs a base_url"):
        build_model(ModelSpec(provider="openai-chat", name="local"))


def test_anthropic_model() -> None:
    from pydantic_ai.models.anthropic import AnthropicModel

    model = build_model(
        ModelSpec(provider="anthropic", name="claude-x", api_key="k", base_url="http://127.0.0.1:1/anthropic")
    )
    assert isinstance(model, RetryingModel)
    assert isinstance(model.wrapped, AnthropicModel)
    assert model.system == "anthropic"
    assert model.base_url is not None and model.base_url.startswith("http://127.0.0.1:1/anthropic")


def test_ollama_defaults_to_local_server() -> None:
    model = build_model(ModelSpec(provider="ollama", name="llama3"))
    assert isinstance(model, RetryingModel)
    assert model.system == "ollama"
    assert model.base_url == "http://127.0.0.1:11434/v1/"


def test_azure_model() -> None:
    model = build_model(
        ModelSpec(
            provider="azure",
            name="deploy",
            base_url="https://x.openai.azure.com",
            api_version="2024-10-21",
            api_key="k",
        )
    )
    assert isinstance(model, RetryingModel)
    assert model.system == "azure"


def test_test_provider_calls_no_tools() -> None:
    model = build_model(ModelSpec(provider="test", name="scripted"))
    assert isinstance(model, TestModel)
    assert model.call_tools == []
    assert model.model_name == "scripted"


def test_unknown_provider_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown model provider 'gemini'"):
        build_model(ModelSpec(provider="gemini", name="x"))


def test_missing_credentials_are_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError) as caught:
        build_model(ModelSpec(provider="openai", name="gpt-4o"))
    assert str(caught.value).startswith("openai:gpt-4o: model: Set the `OPENAI_API_KEY`")
    assert caught.value.exit_code == 2


def test_replay_of_a_missing_cassette_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cassette not found"):
        build_model(ModelSpec(provider="replay", name=str(tmp_path / "nope.json")))


# --- model_settings -------------------------------------------------------------------------------------------------


def test_model_settings_defaults() -> None:
    assert model_settings(ModelSpec(provider="openai", name="m", request_timeout=30)) == {
        "timeout": 30,
        "max_retries": 0,
    }


def test_model_settings_user_settings_win_except_max_retries() -> None:
    spec = ModelSpec(
        provider="anthropic",
        name="m",
        capabilities=ModelCapabilities(parallel_tool_calls=False),
        settings={"temperature": 0.2, "timeout": 5, "max_retries": 7},
    )
    assert model_settings(spec) == {"timeout": 5, "max_retries": 0, "parallel_tool_calls": False, "temperature": 0.2}


def test_model_settings_for_local_models_have_no_sdk_retries() -> None:
    assert model_settings(ModelSpec(provider="test", name="m")) == {"timeout": 600.0}


# --- Backoff ----------------------------------------------------------------------------------------------------------


def test_backoff_is_exponential_and_capped() -> None:
    assert [FIXED.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 8.0]


def test_backoff_jitter_shortens_the_delay() -> None:
    backoff = Backoff(base=2.0, cap=60.0, jitter=0.5, rng=lambda: 1.0)
    assert backoff.delay(3) == 4.0  # 8 s minus half of it
    assert Backoff(base=2.0, jitter=0.5, rng=lambda: 0.0).delay(3) == 8.0


def test_backoff_honours_retry_after_within_its_cap() -> None:
    backoff = Backoff(base=1.0, cap=2.0, retry_after_cap=30.0)
    assert backoff.delay(1, retry_after=12.0) == 12.0
    assert backoff.delay(1, retry_after=0.0) == 0.0
    assert backoff.delay(1, retry_after=3600.0) == 30.0


# --- classification and messages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (http_error(ModelRateLimitError, 429), True),
        (http_error(ModelServerError, 500), True),
        (http_error(ModelServerError, 502), True),
        (http_error(ModelUnavailableError, 503), True),
        (http_error(ModelOverloadedError, 529), True),
        (http_error(None, 408), True),
        (ModelConnectionError("m", "Connection error.", phase="read"), True),
        (ModelTimeoutError("m", "Request timed out."), True),
        (http_error(ModelRateLimitError, 429, headers={"x-should-retry": "false"}), False),
        (http_error(ModelQuotaExceededError, 429), False),
        (http_error(ModelAuthenticationError, 401), False),
        (http_error(ModelContextWindowExceededError, 400), False),
        (ModelAPIError("m", "Failed to decode response as JSON"), True),  # a malformed 200: retried
        (ValueError("bug"), False),
    ],
)
def test_is_transient(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_raw_transport_errors_are_transient_only_when_named() -> None:
    assert not is_transient(ConnectionResetError("reset"))
    assert is_transient(ConnectionResetError("reset"), (OSError,))


def test_describe_error_is_one_short_line() -> None:
    assert describe_error(http_error(ModelRateLimitError, 429, "slow\ndown")) == "HTTP 429 rate limited: slow down"
    assert describe_error(ModelTimeoutError("m", "Request timed out.")) == "timed out: Request timed out."
    assert describe_error(ConnectionResetError()) == "stream broken: ConnectionResetError"
    assert len(describe_error(http_error(ModelServerError, 500, "x" * 1000))) == 240


def test_as_provider_error() -> None:
    error = as_provider_error(http_error(ModelServerError, 503, "down"), attempts=4)
    assert isinstance(error, ProviderError)
    assert str(error) == "provider error: model 'm': HTTP 503 server error: down (gave up after 4 attempts)"


# --- RetryingModel: request -----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_request_retries_transient_errors_then_succeeds() -> None:
    scripted, calls = failing_then(
        [
            http_error(ModelServerError, 500, "boom"),
            http_error(ModelRateLimitError, 429, "slow", headers={"retry-after": "3"}),
        ]
    )
    model, sleeps, retries = retrying(scripted)
    result = await Agent(model).run("hi")
    assert result.output == "ok"
    assert len(calls) == 3
    assert sleeps.delays == [1.0, 3.0]  # backoff, then the server's Retry-After
    assert retries.calls == [(1, 1.0, "HTTP 500 server error: boom"), (2, 3.0, "HTTP 429 rate limited: slow")]


@pytest.mark.anyio
async def test_request_gives_up_with_a_provider_error() -> None:
    original = http_error(ModelServerError, 502, "bad gateway")
    scripted, calls = failing_then([original] * 10)
    model, sleeps, _ = retrying(scripted, max_retries=2)
    with pytest.raises(ProviderError) as caught:
        await Agent(model).run("hi")
    assert str(caught.value) == (
        "provider error: model 'scripted': HTTP 502 server error: bad gateway (gave up after 3 attempts)"
    )
    assert caught.value.__cause__ is original
    assert len(calls) == 3
    assert sleeps.delays == [1.0, 2.0]


@pytest.mark.anyio
async def test_request_does_not_retry_what_a_retry_cannot_fix() -> None:
    original = http_error(ModelAuthenticationError, 401, "bad key")
    scripted, calls = failing_then([original])
    model, sleeps, retries = retrying(scripted)
    with pytest.raises(ModelAuthenticationError) as caught:
        await Agent(model).run("hi")
    assert caught.value is original
    assert (len(calls), sleeps.delays, retries.calls) == (1, [], [])


@pytest.mark.anyio
async def test_zero_retries_means_one_attempt() -> None:
    scripted, calls = failing_then([http_error(ModelServerError, 500)])
    model, sleeps, _ = retrying(scripted, max_retries=0)
    with pytest.raises(ProviderError, match=r"HTTP 500 server error: nope$"):
        await Agent(model).run("hi")
    assert (len(calls), sleeps.delays) == (1, [])


# --- RetryingModel: streams -----------------------------------------------------------------------------------------


async def collect_text(ctx: RunContext[None], events: Any) -> None:
    async for _event in events:
        pass


@pytest.mark.anyio
async def test_stream_that_fails_to_open_is_retried() -> None:
    scripted, calls = failing_then([ModelConnectionError("m", "reset", phase="connect")], text="streamed")
    model, _, retries = retrying(scripted)
    result = await Agent(model).run("hi", event_stream_handler=collect_text)
    assert result.output == "streamed"
    assert len(calls) == 2
    assert retries.calls == [(1, 1.0, "connection error: reset")]


@pytest.mark.anyio
async def test_stream_that_breaks_after_output_is_not_retried() -> None:
    calls: list[int] = []

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        calls.append(1)
        yield "partial "
        raise ModelConnectionError("m", "peer closed connection", phase="read")

    model, sleeps, retries = retrying(FunctionModel(stream_function=stream, model_name="scripted"))
    seen: list[AgentStreamEvent] = []

    async def handler(ctx: RunContext[None], events: Any) -> None:
        async for event in events:
            seen.append(event)

    with pytest.raises(ProviderError) as caught:
        await Agent(model).run("hi", event_stream_handler=handler)
    assert str(caught.value) == (
        "provider error: model 'scripted': connection error: peer closed connection "
        "(stream broke after 2 events; not retried)"
    )
    assert isinstance(caught.value.__cause__, ModelConnectionError)
    assert (len(calls), sleeps.delays, retries.calls) == (1, [], [])
    assert [type(event).__name__ for event in seen] == ["PartStartEvent", "FinalResultEvent"]


@pytest.mark.anyio
async def test_stream_exhausted_gives_a_provider_error() -> None:
    scripted, calls = failing_then([http_error(ModelOverloadedError, 529, "overloaded")] * 5)
    model, _, retries = retrying(scripted, max_retries=1)
    with pytest.raises(ProviderError, match=r"HTTP 529 unavailable: overloaded \(gave up after 2 attempts\)"):
        await Agent(model).run("hi", event_stream_handler=collect_text)
    assert len(calls) == 2
    assert [attempt for attempt, _, _ in retries.calls] == [1]


@pytest.mark.anyio
async def test_retrying_stream_reports_the_inner_response() -> None:
    scripted, _ = failing_then([], text="hello there")
    model, _, _ = retrying(scripted)
    from pydantic_ai.models import ModelRequestParameters

    async with model.request_stream([], None, ModelRequestParameters()) as stream:
        events = [event async for event in stream]
        response = stream.get()
    assert [type(event).__name__ for event in events] == ["PartStartEvent", "FinalResultEvent", "PartEndEvent"]
    assert response.parts == [TextPart("hello there")]
    assert response.model_name == "scripted"
    assert stream.model_name == "scripted"
    assert stream.usage == response.usage
