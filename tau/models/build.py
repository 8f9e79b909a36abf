"""Model factory and the one retry layer between tau and a model provider.

Owns: turning a `ModelSpec` into a pydantic-ai `Model` (`build_model`), the `ModelSettings` a run sends with every
request (`model_settings`), and `RetryingModel`, the wrapper that retries transient provider failures.

Invariants:
- Importing this module imports no provider SDK. `build_model` imports only the SDK of the provider the spec selects,
  inside the function (openai ~1.5 s, anthropic ~2.7 s of startup otherwise; DESIGN.md §6).
- There is exactly one retry layer: the provider SDKs are told `max_retries=0` (pydantic-ai forwards
  `ModelSettings['max_retries']` to the OpenAI/Anthropic clients) and `RetryingModel` retries instead, so every
  retry is observable through `on_retry` (the runtime turns it into a `RetryScheduled` event) and a stream that breaks
  before it produced anything is retried too, which the SDKs never do.
- A stream is retried only while nothing has been handed to the caller. Once an event was yielded, a retry would
  duplicate output, so a later break raises `ProviderError` instead.
- Transient failures (408, 409, 425, 429, 5xx, overloaded, connection resets, per-attempt timeouts, broken streams,
  and malformed responses: a 200 whose body is not JSON, or a stream that ends before a single valid chunk) that
  outlive `max_retries` surface as `tau.errors.ProviderError` (`retryable=True`) with a one-line message. Failures a
  retry cannot fix (400, 401, 403, 404, 422, context window exceeded, quota, or a provider's `x-should-retry: false`)
  pass through as pydantic-ai's `ModelAPIError` subclasses, untouched, so capabilities that react to them
  (compaction on overflow) still can; `as_provider_error` maps what is left (`retryable=False`).
- A provider error is never shown raw: `describe_error` makes one line of status, category and the provider's own
  message (no SDK dump, no HTML error page), at most 240 characters. Secrets are masked later, by the emitter.

Providers: inside a `ProviderPool.lease()` (`tau serve`) the provider, and so its HTTP client, is the pool's, shared
by every run with the same configuration and closed with the server (`runtime.providers`); otherwise each model gets
a provider of its own (`tau run`: one run per process), whose HTTP client goes through `tau serve --local`'s provider
connection pool in a warm run (`tau.models.provider_proxy`).

Contract with neighbours: `config` hands over a resolved `ModelSpec` (credentials already read from the environment);
the runtime passes `on_retry` and wraps the result in `cassette.RecordingModel` when `--record` is given.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

import anyio
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelContextWindowExceededError,
    ModelHTTPError,
    ModelNotFoundError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelServerError,
    ModelTimeoutError,
    ModelUnavailableError,
    UnexpectedModelBehavior,
    UserError,
)
from pydantic_ai.messages import ModelMessage, ModelResponse, ModelResponseStreamEvent
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

from tau.config.spec import ModelSpec
from tau.errors import ConfigError, ProviderError
from tau.models.providers import shared_provider

if TYPE_CHECKING:
    import httpx2
    from pydantic_ai._run_context import RunContext
    from pydantic_ai.providers import Provider

__all__ = [
    "PROVIDERS",
    "Backoff",
    "OnRetry",
    "RetryingModel",
    "as_provider_error",
    "build_model",
    "describe_error",
    "is_malformed",
    "is_transient",
    "model_settings",
]

PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "ollama", "azure", "openai-chat", "replay", "test")
OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434/v1"
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
_MESSAGE_CAP = 240
_UNDECODABLE = ("Failed to decode response as JSON", "Expected a JSON response")  # pydantic-ai's plain ModelAPIError
_EMPTY_STREAM = "Streamed response ended without content or tool calls"  # raised while a stream opens: no chunk came
_INVALID = "Invalid response from "  # pydantic-ai's UnexpectedModelBehavior for a body of the wrong shape

OnRetry = Callable[[int, float, str], None]
"""`on_retry(attempt, delay, error)`: retry `attempt` (1-based) starts in `delay` seconds; `error` is one line."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: retry n waits `base * 2**(n-1)` capped at `cap`, minus up to `jitter` of it.

    A provider's Retry-After (read by pydantic-ai into `ModelAPIError.retry_after`) wins over the computed delay,
    bounded by `retry_after_cap` so a run never hangs on a server asking for an hour. Tests inject tiny values.
    """

    base: float = 1.0
    cap: float = 30.0
    jitter: float = 0.5
    retry_after_cap: float = 120.0
    rng: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.retry_after_cap)
        exponential = min(self.cap, self.base * (2 ** max(attempt - 1, 0)))
        return float(exponential * (1.0 - self.jitter * self.rng()))


def model_settings(spec: ModelSpec) -> ModelSettings:
    """The settings every request of a run carries, which `build_model` also sets as the model's defaults.

    SDK retries off (RetryingModel owns retrying), the per-attempt timeout, parallel tool calls switched off when
    the model cannot take them, then the user's own settings on top (except `max_retries`: use `spec.max_retries`).

    `spec.request_timeout` is the per-attempt `timeout` (for a stream: the longest wait for the next chunk), not
    pydantic-ai's `request_timeout` deadline, which would also cover the retries and stop them.
    `parallel_tool_calls` is sent only to turn it off: some OpenAI-compatible servers reject the parameter.
    """
    settings: dict[str, Any] = {"timeout": spec.request_timeout}
    if spec.provider not in ("replay", "test"):
        settings["max_retries"] = 0
    if not spec.capabilities.parallel_tool_calls:
        settings["parallel_tool_calls"] = False
    settings.update({key: value for key, value in spec.settings.items() if key != "max_retries"})
    return cast(ModelSettings, settings)


def build_model(
    spec: ModelSpec,
    *,
    on_retry: OnRetry | None = None,
    backoff: Backoff | None = None,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    workspace: str | None = None,
) -> Model:
    """Build the pydantic-ai model a spec names, wrapped in `RetryingModel` when it talks to a provider over HTTP.

    Raises `ConfigError` for an unknown provider, a missing base URL or credentials the provider SDK refuses.
    """
    if spec.provider == "test":
        from pydantic_ai.models.test import TestModel

        # call_tools=[]: TestModel's default calls every tool with generated arguments, which would run `bash`.
        return TestModel(call_tools=[], model_name=spec.name, settings=model_settings(spec))
    if spec.provider == "replay":
        from tau.models.cassette import ReplayModel

        return ReplayModel.load(spec.name, workspace=workspace)
    try:
        model = _provider_model(spec)
    except UserError as err:
        raise ConfigError(str(err), source=spec.ref, field="model") from err
    return RetryingModel(model, max_retries=spec.max_retries, backoff=backoff, on_retry=on_retry, sleep=sleep)


def _provider_model(spec: ModelSpec) -> Model:
    """The provider's model; its provider comes from the leased `ProviderPool` when there is one (`tau serve`)."""
    settings = model_settings(spec)
    if spec.provider not in ("anthropic", "openai", "openai-chat", "ollama", "azure"):
        raise ConfigError(
            f"unknown model provider {spec.provider!r} (expected one of {', '.join(PROVIDERS)})",
            field="model.provider",
        )
    if spec.provider == "openai-chat" and not spec.base_url:
        raise ConfigError("provider 'openai-chat' needs a base_url", source=spec.ref, field="model.base_url")
    provider = shared_provider(spec, lambda http_client: _make_provider(spec, http_client))
    if spec.provider == "anthropic":
        from pydantic_ai.models.anthropic import AnthropicModel

        return AnthropicModel(spec.name, provider=provider, settings=settings)
    # Chat Completions, not Responses, for every OpenAI-shaped provider: it is the API every compatible server
    # (Ollama, vLLM, llama.cpp, Azure deployments, aimock) speaks.
    from pydantic_ai.models.openai import OpenAIChatModel

    return OpenAIChatModel(spec.name, provider=provider, settings=settings)


def _make_provider(spec: ModelSpec, http_client: httpx2.AsyncClient | None) -> Provider[Any]:
    """A new provider for `spec`, on `http_client` (None: the warm server's provider pool, when this process has one
    (`tau.models.provider_proxy`), else the provider creates its own)."""
    if http_client is None:
        from tau.models import provider_proxy

        http_client = provider_proxy.http_client()
    if spec.provider == "anthropic":
        from pydantic_ai.providers.anthropic import AnthropicProvider

        return AnthropicProvider(api_key=spec.api_key, base_url=spec.base_url, http_client=http_client)
    if spec.provider == "ollama":
        from pydantic_ai.providers.ollama import OllamaProvider

        return OllamaProvider(
            base_url=spec.base_url or OLLAMA_DEFAULT_URL, api_key=spec.api_key, http_client=http_client
        )
    if spec.provider == "azure":
        from pydantic_ai.providers.azure import AzureProvider

        return AzureProvider(
            azure_endpoint=spec.base_url, api_version=spec.api_version, api_key=spec.api_key, http_client=http_client
        )
    from pydantic_ai.providers.openai import OpenAIProvider

    api_key = (spec.api_key or "unused") if spec.provider == "openai-chat" else spec.api_key
    return OpenAIProvider(base_url=spec.base_url, api_key=api_key, http_client=http_client)


def is_transient(err: BaseException, transport_errors: tuple[type[BaseException], ...] = ()) -> bool:
    """Whether sending the same request again may succeed: rate limits, 5xx, overload, connection and timeout errors.

    `transport_errors` are raw transport exceptions a stream may leak unwrapped (see
    `StreamedResponse.get_stream_cancel_errors`), e.g. a connection cut in the middle of an SSE body.
    """
    if isinstance(err, ModelHTTPError) and err.provider_retry_hint is False:
        return False
    if isinstance(err, ModelRateLimitError | ModelUnavailableError | ModelServerError | ModelConnectionError):
        return True
    if isinstance(err, ModelQuotaExceededError | ModelRequestRejectedError):
        return False  # a 429 for exhausted quota, a 400/401/404: waiting will not help
    if isinstance(err, ModelHTTPError):
        return err.status_code in _RETRYABLE_STATUS or err.status_code >= 500
    if is_malformed(err):
        return True
    return bool(transport_errors) and isinstance(err, transport_errors)


def is_malformed(err: BaseException) -> bool:
    """A 200 whose body is not what the API promises: pydantic-ai reports a body that is not JSON (or not of a JSON
    content type) as a plain `ModelAPIError`, and a body of the wrong shape, or a stream that ended before a single
    valid chunk, as a plain `UnexpectedModelBehavior`. Retried like a broken stream: the next attempt may be whole."""
    if type(err) is ModelAPIError:
        return isinstance(err.__cause__, json.JSONDecodeError | UnicodeDecodeError) or err.message.startswith(
            _UNDECODABLE
        )
    return type(err) is UnexpectedModelBehavior and (err.message == _EMPTY_STREAM or err.message.startswith(_INVALID))


def describe_error(err: BaseException) -> str:
    """One short line naming what went wrong with a provider call: status or cause, and the provider's message."""
    if isinstance(err, ModelHTTPError):
        text = f"HTTP {err.status_code} {_category(err)}: {_body_message(err.body) or _phrase(err.status_code)}"
    elif isinstance(err, ModelTimeoutError):
        text = f"timed out: {err.message}"
    elif isinstance(err, ModelConnectionError):
        text = f"connection error: {err.message}"
    elif isinstance(err, ModelAPIError | UnexpectedModelBehavior):
        text = err.message
        if is_malformed(err):
            empty = text == _EMPTY_STREAM
            text = "malformed response: " + ("the stream ended before a single valid chunk" if empty else text)
    else:
        text = f"stream broken: {type(err).__name__}: {err}" if str(err) else f"stream broken: {type(err).__name__}"
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_CAP else text[: _MESSAGE_CAP - 1] + "…"


def as_provider_error(err: BaseException, *, model_name: str | None = None, attempts: int = 1) -> ProviderError:
    """The `ProviderError` for a failed provider call, for the runtime to map errors RetryingModel passed through.
    `retryable` says whether the failure was transient (a later run may succeed), whatever the attempts made."""
    name = model_name or getattr(err, "model_name", None)
    prefix = f"model {name!r}: " if name else ""
    suffix = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
    return ProviderError(f"provider error: {prefix}{describe_error(err)}{suffix}", retryable=is_transient(err))


_CATEGORIES: tuple[tuple[type[ModelAPIError], str], ...] = (  # most specific first
    (ModelRateLimitError, "rate limited"),
    (ModelQuotaExceededError, "quota exceeded"),
    (ModelUnavailableError, "unavailable"),
    (ModelServerError, "server error"),
    (ModelContextWindowExceededError, "context window exceeded"),
    (ModelAuthenticationError, "authentication failed"),
    (ModelNotFoundError, "not found"),
    (ModelRequestRejectedError, "request rejected"),
)


def _category(err: ModelHTTPError) -> str:
    return next((label for kind, label in _CATEGORIES if isinstance(err, kind)), "error")


def _phrase(status: int) -> str:
    """The standard reason phrase of an HTTP status, for an error that came without a message of its own."""
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "no message"


def _body_message(body: object) -> str | None:
    if isinstance(body, dict):
        body = cast(dict[str, Any], body)
        error = body.get("error")
        inner = cast(dict[str, Any], error) if isinstance(error, dict) else body
        message = inner.get("message")
        return message if isinstance(message, str) and message.strip() else None
    if isinstance(body, str) and body.strip() and not body.lstrip().startswith("<"):  # not an HTML error page
        return body
    return None


class RetryingModel(WrapperModel):
    """Retries transient failures of `request` and `request_stream` with backoff, then raises `ProviderError`."""

    def __init__(
        self,
        wrapped: Model,
        *,
        max_retries: int,
        backoff: Backoff | None = None,
        on_retry: OnRetry | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        super().__init__(wrapped)
        self.max_retries = max(0, max_retries)
        self.backoff = backoff or Backoff()
        self.on_retry = on_retry
        self._sleep = sleep

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        attempt = 0
        while True:
            try:
                return await self.wrapped.request(messages, model_settings, model_request_parameters)
            except Exception as err:  # classified in _after_failure: re-raised unless transient
                attempt = await self._after_failure(err, attempt)

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        attempt = 0
        while True:
            stack = AsyncExitStack()
            transport_errors: tuple[type[BaseException], ...] = ()
            try:
                stream = await stack.enter_async_context(
                    self.wrapped.request_stream(messages, model_settings, model_request_parameters, run_context)
                )
                transport_errors = stream.get_stream_cancel_errors()
                events = aiter(stream)
                first = await anext(events, None)  # nothing reached the caller yet: a failure here is retryable
            except Exception as err:
                await _close_quietly(stack, err)
                attempt = await self._after_failure(err, attempt, transport_errors)
                continue
            break
        async with stack:
            yield _GuardedStream(
                model_request_parameters,
                inner=stream,
                first=first,
                events=events,
                transport_errors=transport_errors,
                attempts=attempt + 1,
            )

    async def _after_failure(
        self, err: Exception, attempt: int, transport_errors: tuple[type[BaseException], ...] = ()
    ) -> int:
        """Sleep before the next attempt and return its number, or raise: `err` itself, or ProviderError when spent."""
        if not is_transient(err, transport_errors):
            raise err
        if attempt >= self.max_retries:
            raise as_provider_error(err, model_name=self.model_name, attempts=attempt + 1) from err
        attempt += 1
        delay = self.backoff.delay(attempt, getattr(err, "retry_after", None))
        if self.on_retry is not None:
            self.on_retry(attempt, delay, describe_error(err))
        await self._sleep(delay)
        return attempt


async def _close_quietly(stack: AsyncExitStack, err: BaseException) -> None:
    """Exit a failed attempt's stream context with its error, so the wrapped model sees the failure, and move on."""
    with suppress(Exception):  # the attempt already failed; a second failure while tearing it down changes nothing
        await stack.__aexit__(type(err), err, err.__traceback__)


@dataclass
class _GuardedStream(StreamedResponse):
    """The wrapped model's stream, with its first event already pulled; a later break becomes `ProviderError`.

    The inner stream already adds part-end and final-result events, so `__aiter__` passes events through rather than
    running the base class's wrappers a second time (as pydantic-ai's own `_ContinuationStreamedResponse` does).
    """

    inner: StreamedResponse = field(kw_only=True)
    first: ModelResponseStreamEvent | None = field(kw_only=True)
    events: AsyncIterator[ModelResponseStreamEvent] = field(kw_only=True)
    transport_errors: tuple[type[BaseException], ...] = field(kw_only=True)
    attempts: int = field(kw_only=True)

    def __aiter__(self) -> AsyncIterator[ModelResponseStreamEvent]:
        if self._event_iterator is None:
            events = self._pass_through()
            if self._request_deadline is not None:
                events = self._request_deadline.iterate(events)
            self._event_iterator = events
        return self._event_iterator

    async def _pass_through(self) -> AsyncIterator[ModelResponseStreamEvent]:
        yielded = 0
        try:
            if self.first is not None:
                yielded += 1
                self._sync()
                yield self.first
            async for event in self.events:
                yielded += 1
                self._sync()
                yield event
        except Exception as err:
            if self.inner.cancelled or not is_transient(err, self.transport_errors):
                raise
            error = as_provider_error(err, model_name=self.inner.model_name, attempts=self.attempts)
            raise ProviderError(f"{error.message} (stream broke after {yielded} events; not retried)") from err
        self._sync()
        self._finished = True

    def _sync(self) -> None:
        """Mirror what the inner stream learnt so far (ids, finish reason) onto this one, which the caller reads."""
        inner = self.inner
        if self._first_chunk_monotonic is None:
            self._first_chunk_monotonic = inner._first_chunk_monotonic
        self.final_result_event = inner.final_result_event
        self.provider_response_id = inner.provider_response_id
        self.provider_details = inner.provider_details
        self.finish_reason = inner.finish_reason
        self.state = inner.state
        self.metadata = inner.metadata

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:  # pragma: no cover - unused
        async for event in self._pass_through():
            yield event

    def get(self) -> ModelResponse:
        return self.inner.get()

    async def cancel(self) -> None:
        self._cancelled = True
        await self.inner.cancel()

    async def close_stream(self) -> None:
        await self.inner.close_stream()

    def get_stream_cancel_errors(self) -> tuple[type[BaseException], ...]:
        return self.inner.get_stream_cancel_errors()

    @property
    def usage(self) -> RequestUsage:
        return self.inner.usage

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def provider_name(self) -> str | None:
        return self.inner.provider_name

    @property
    def provider_url(self) -> str | None:
        return self.inner.provider_url

    @property
    def timestamp(self) -> datetime:
        return self.inner.timestamp
