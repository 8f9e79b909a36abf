"""Emitter: stamps `seq` on protocol events and fans them out to sinks; translates pydantic-ai stream events.

Contract: every event a run produces passes through exactly one `Emitter`; `seq` starts at 0 and increases by one.
Sinks are plain callables (renderers, session writer, tests); a sink that raises does not stop the others and does
not stop the run — it is reported once on stderr by the CLI. `last_activity` and `idle_for()` feed the idle
watchdog: a run is never idle while a tool call it started (`tool.started` without its `tool.completed`) is running,
however silent the tool is — a tool is bounded by its own timeout, and the run by `--timeout`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from pydantic_ai.messages import (
    AgentStreamEvent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
)
from pydantic_ai.usage import RunUsage

from tau.protocol import (
    Event,
    MessageDelta,
    Notice,
    PermissionDecided,
    RetryScheduled,
    RunCompleted,
    SessionStarted,
    ThinkingDelta,
    ToolCompleted,
    ToolStarted,
    UsageTotals,
)
from tau.protocol.printable import scrub, scrub_value
from tau.redact import Redactor
from tau.telemetry import run_sinks

Sink = Callable[[Event], None]


def _redacted(event: Event, redactor: Redactor) -> Event:
    """The event with secrets masked in the fields that carry operator-facing text (rare events only: the cost per
    streamed delta stays nil). Tool output and model text are content, shown as they are."""
    if isinstance(event, Notice):
        return event.model_copy(update={"message": redactor.text(event.message)})
    if isinstance(event, RetryScheduled):
        return event.model_copy(update={"error": redactor.text(event.error)})
    if isinstance(event, RunCompleted) and event.error:
        return event.model_copy(update={"error": redactor.text(event.error)})
    if isinstance(event, SessionStarted) and any(info.error for info in event.mcp):
        mcp = [info.model_copy(update={"error": redactor.optional(info.error)}) for info in event.mcp]
        return event.model_copy(update={"mcp": mcp})
    return event


_REDACTED_TYPES = (Notice, RetryScheduled, RunCompleted, SessionStarted)


class Emitter:
    """`redactor` masks secrets (credential-like environment values, URL credentials) in notices, retries, errors
    and MCP server status before any sink sees them."""

    def __init__(self, *sinks: Sink, redactor: Redactor | None = None) -> None:
        self._sinks: list[Sink] = [*sinks, *run_sinks()]  # + the run's metrics observer (tau serve)
        self._seq = 0
        self.last_activity = time.monotonic()
        self._running: set[str] = set()  # call ids of tools started and not completed yet
        self.sink_errors: list[BaseException] = []
        self.redactor = redactor or Redactor()

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def emit(self, event: Event) -> Event:
        if isinstance(event, _REDACTED_TYPES):
            event = _redacted(event, self.redactor)
        stamped = event.model_copy(update={"seq": self._seq})
        self._seq += 1
        self.last_activity = time.monotonic()
        if isinstance(stamped, ToolStarted):
            self._running.add(stamped.call_id)
        elif isinstance(stamped, ToolCompleted):
            self._running.discard(stamped.call_id)
        for sink in self._sinks:
            try:
                sink(stamped)
            except Exception as error:  # a broken renderer must not kill the run
                self.sink_errors.append(error)
        return stamped

    def send(self, event: Event) -> None:
        """`emit` without a return value: the shape of a plain event sink for components that report events."""
        self.emit(event)

    def emit_permission(self, event: PermissionDecided) -> None:
        """`emit` narrowed to the type the permission layer reports, so it can be passed as its sink."""
        self.emit(event)

    def emit_notice(self, message: str) -> None:
        self.emit(Notice(level="warning", message=message))

    def touch(self) -> None:
        """Record activity that produced no event (a streamed tool-call argument chunk, say)."""
        self.last_activity = time.monotonic()

    def idle_for(self) -> float:
        """Seconds without activity: 0 while a tool call is running, else since the last event or `touch`."""
        return 0.0 if self._running else time.monotonic() - self.last_activity


def usage_totals(usage: RunUsage) -> UsageTotals:
    """pydantic-ai's run usage as the protocol's totals (the one place this mapping lives)."""
    return UsageTotals(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        requests=usage.requests,
        tool_calls=usage.tool_calls,
    )


def tool_args(raw: str | dict[str, Any] | None) -> dict[str, Any]:
    """Tool-call arguments as a dict, whatever the model sent (invalid JSON is kept under `_raw`)."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {"_raw": raw}
    return parsed if isinstance(parsed, dict) else {"_raw": raw}


class StreamTranslator:
    """Maps pydantic-ai stream events to tau protocol events. Keeps start times to report tool durations."""

    def __init__(self, emitter: Emitter) -> None:
        self._emitter = emitter
        self._started: dict[str, tuple[str, float]] = {}  # call id -> (tool name, start time)

    def handle(self, event: AgentStreamEvent) -> None:
        self._emitter.touch()
        if isinstance(event, PartStartEvent):
            self._part_start(event)
        elif isinstance(event, PartDeltaEvent):
            self._part_delta(event)
        elif isinstance(event, FunctionToolCallEvent):
            call = event.part
            self._started[call.tool_call_id] = (call.tool_name, time.monotonic())
            arguments = scrub_value(tool_args(call.args))
            self._emitter.emit(
                ToolStarted(call_id=call.tool_call_id, tool=call.tool_name, input=arguments)  # type: ignore[arg-type]
            )
        elif isinstance(event, FunctionToolResultEvent):
            part = event.part
            started = self._started.pop(part.tool_call_id, None)
            duration = None if started is None else round((time.monotonic() - started[1]) * 1000, 3)
            self._emitter.emit(
                ToolCompleted(
                    call_id=part.tool_call_id,
                    tool=part.tool_name,
                    status=part.outcome,
                    output=scrub(part.model_response_str(wrap_if_error=False)),
                    duration_ms=duration,
                )
            )

    def interrupt_pending(self) -> None:
        """Close every started call with an `interrupted` result (the run ended before it finished)."""
        for call_id, (name, started) in list(self._started.items()):
            self._emitter.emit(
                ToolCompleted(
                    call_id=call_id,
                    tool=name,
                    status="interrupted",
                    output="interrupted: the run ended before this call finished",
                    duration_ms=round((time.monotonic() - started) * 1000, 3),
                )
            )
        self._started.clear()

    def _part_start(self, event: PartStartEvent) -> None:
        part = event.part
        if isinstance(part, TextPart) and part.content:
            self._emitter.emit(MessageDelta(text=scrub(part.content)))
        elif isinstance(part, ThinkingPart) and part.content:
            self._emitter.emit(ThinkingDelta(text=scrub(part.content)))

    def _part_delta(self, event: PartDeltaEvent) -> None:
        delta = event.delta
        if isinstance(delta, TextPartDelta) and delta.content_delta:
            self._emitter.emit(MessageDelta(text=scrub(delta.content_delta)))
        elif isinstance(delta, ThinkingPartDelta) and delta.content_delta:
            self._emitter.emit(ThinkingDelta(text=scrub(delta.content_delta)))
