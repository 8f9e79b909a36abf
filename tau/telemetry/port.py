"""The tracing port every instrumentation point talks to: `Tracer` and `Span`, and `NO_TRACER`, the tracer when off.

Call sites make one small call each through `tau.telemetry.tracer()` — the run (`RunDriver.run`), sandbox commands
(the host and docker backends), hooks, compaction, snapshot commits, permission decisions — and never test whether
tracing is on: when it is off (the default) `tracer()` is `NO_TRACER`, whose methods do nothing, allocate nothing
and return shared objects (`NO_SPAN`, the environment they were given). The OpenTelemetry implementation lives in
`tau.telemetry.otel` and is imported only once tracing is switched on, so a run without telemetry imports no
OpenTelemetry SDK at all (pydantic-ai imports the OpenTelemetry API on its own; that is free).

Contract of a `Span` (the one a `span(...)` block opened, or `current()`):
- `set(attributes)`: attributes safe to export (ids, names, counts, statuses — never prompts, commands or output);
- `content(attributes)`: what the model or a repository wrote (command lines, reasons quoting them); kept only when
  `telemetry.include_content` is on, dropped otherwise;
- `fail(description)`: the operation failed (span status ERROR); exceptions leaving a `span(...)` block are recorded
  by the block itself;
- `propagate(env)`: `env` plus `TRACEPARENT` (and `TRACESTATE`) naming this span, for a child process to continue the
  trace (W3C trace context, the variables OpenTelemetry's env carriers use); the same `env` object when off;
- `exited(result)`: records `result.exit_code` and returns `result` (command spans).

`Tracer.incoming(traceparent)` makes a remote parent (a `traceparent` header, a `TRACEPARENT` variable) the parent of
the spans started inside the block; `capabilities()` are the pydantic-ai capabilities that make the agent's own spans
(`invoke_agent`, `chat MODEL`, `execute_tool TOOL` with the GenAI attributes) — none when off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from pydantic_ai.capabilities import AbstractCapability

__all__ = [
    "NO_SPAN",
    "NO_TRACER",
    "AttributeValue",
    "Attributes",
    "Env",
    "HasExitCode",
    "NoSpan",
    "NoTracer",
    "Span",
    "Tracer",
]

AttributeValue = str | bool | int | float
Attributes = Mapping[str, AttributeValue]
Env = Mapping[str, str] | None


class HasExitCode(Protocol):
    @property
    def exit_code(self) -> int: ...


R = TypeVar("R", bound=HasExitCode)


class Span(Protocol):
    """One operation in a trace (see the module docstring)."""

    def set(self, attributes: Attributes) -> None: ...

    def content(self, attributes: Attributes) -> None: ...

    def fail(self, description: str) -> None: ...

    def propagate(self, env: Env) -> Env: ...

    def exited(self, result: R) -> R: ...


class Tracer(Protocol):
    """Where spans come from (see the module docstring)."""

    def span(self, name: str, attributes: Attributes | None = None) -> AbstractContextManager[Span]: ...

    def command(self, backend: str, command: str | Sequence[str]) -> AbstractContextManager[Span]: ...

    def current(self) -> Span: ...

    def incoming(self, traceparent: str | None, tracestate: str | None = None) -> AbstractContextManager[None]: ...

    def capabilities(self) -> Sequence[AbstractCapability[Any]]: ...

    def shutdown(self) -> None: ...


class NoSpan:
    """A span that records nothing."""

    __slots__ = ()

    def set(self, attributes: Attributes) -> None:
        return None

    def content(self, attributes: Attributes) -> None:
        return None

    def fail(self, description: str) -> None:
        return None

    def propagate(self, env: Env) -> Env:
        return env

    def exited(self, result: R) -> R:
        return result


NO_SPAN = NoSpan()


class _NoSpanBlock:
    """A reusable `with` block yielding `NO_SPAN` (stateless, so one object serves every block, nested or not)."""

    __slots__ = ()

    def __enter__(self) -> NoSpan:
        return NO_SPAN

    def __exit__(self, *exc: object) -> None:
        return None


class _NoBlock:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_SPAN_BLOCK = _NoSpanBlock()
_NO_BLOCK = _NoBlock()


class NoTracer:
    """Tracing off: every method is a constant-time no-op."""

    __slots__ = ()

    def span(self, name: str, attributes: Attributes | None = None) -> _NoSpanBlock:
        return _NO_SPAN_BLOCK

    def command(self, backend: str, command: str | Sequence[str]) -> _NoSpanBlock:
        return _NO_SPAN_BLOCK

    def current(self) -> NoSpan:
        return NO_SPAN

    def incoming(self, traceparent: str | None, tracestate: str | None = None) -> _NoBlock:
        return _NO_BLOCK

    def capabilities(self) -> Sequence[AbstractCapability[Any]]:
        return ()

    def shutdown(self) -> None:
        return None


NO_TRACER = NoTracer()


if TYPE_CHECKING:  # the no-op objects satisfy the ports (checked by mypy)
    _tracer: Tracer = NO_TRACER
    _span: Span = NO_SPAN
