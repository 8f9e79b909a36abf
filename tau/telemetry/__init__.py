"""Telemetry: OpenTelemetry traces of runs (`tracer()`, `install`) and Prometheus metrics for `tau serve` (`metrics`).

Owns the process's tracer and metrics. `tracer()` is what every instrumentation point calls; it is `NO_TRACER`
(every method a no-op, see `tau.telemetry.port`) until `install(config)` switches tracing on for this process —
once: the first call decides, later calls return the tracer already chosen (`tau serve` installs from its own
settings at start-up, so a job's settings never change where a server exports). Off by default and free when off:
without an endpoint nothing of the OpenTelemetry SDK is imported (`tau.telemetry.otel` is the only module that
imports it) and every call site costs one attribute lookup and a no-op call.

`install(config, traceparent=...)`: with `traceparent` (the `TRACEPARENT` a `tau run` process was started with), the
process's spans continue that trace: a CI pipeline's trace contains the agent's steps. The process's provider is
flushed and shut down at exit (`atexit`), bounded by the exporter's timeout.

Metrics: `install_metrics()` (once `tau serve` starts) makes every later run's emitter feed a `RunObserver`
(`run_sinks()`, see `tau.telemetry.metrics`); without it `run_sinks()` is empty and `prometheus_client` is never
imported. `tau.telemetry.asgi` serves them at `/metrics`.

Layering: below `tau.config` and above `tau.protocol`/`tau.errors` (the environment, sessions, hooks and the runtime
call it; it calls nothing of theirs). `using(tracer)` swaps the process's tracer inside a block (tests, embedding).
"""

from __future__ import annotations

import atexit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tau.protocol import Event
from tau.telemetry.port import NO_SPAN, NO_TRACER, Attributes, AttributeValue, Env, NoTracer, Span, Tracer
from tau.telemetry.settings import TelemetryConfig, TelemetrySettings, tracing_on

if TYPE_CHECKING:
    from tau.telemetry.metrics import ServeMetrics

__all__ = [
    "NO_SPAN",
    "NO_TRACER",
    "AttributeValue",
    "Attributes",
    "Env",
    "NoTracer",
    "Span",
    "TelemetryConfig",
    "TelemetrySettings",
    "Tracer",
    "install",
    "install_metrics",
    "installed",
    "run_sinks",
    "tracer",
    "using",
]


class _Process:
    """This process's telemetry: the tracer in force, whether `install` has decided it, the metrics (serve)."""

    __slots__ = ("installed", "metrics", "tracer")

    def __init__(self) -> None:
        self.tracer: Tracer = NO_TRACER
        self.installed = False
        self.metrics: ServeMetrics | None = None


_process = _Process()


def tracer() -> Tracer:
    """The process's tracer (`NO_TRACER` while tracing is off)."""
    return _process.tracer


def installed() -> bool:
    """Whether `install` has decided this process's tracing (on or off)."""
    return _process.installed


def install(config: TelemetryConfig | None, *, traceparent: str | None = None) -> Tracer:
    """Decide this process's tracing from `config`, once (see the module docstring); the tracer in force after."""
    if _process.installed:
        return _process.tracer
    _process.installed = True
    if not tracing_on(config):
        return _process.tracer
    assert config is not None
    from tau import __version__
    from tau.telemetry.otel import remote_context, start

    started = start(config, version=__version__)
    atexit.register(started.shutdown)
    parent = remote_context(traceparent)
    if parent is not None:
        from opentelemetry import context as otel_context

        otel_context.attach(parent)  # for the rest of the process: its runs continue the caller's trace
    _process.tracer = started
    return started


def install_metrics() -> ServeMetrics:
    """Keep Prometheus metrics of this process's runs from now on (`tau serve`); the same object on every call."""
    if _process.metrics is None:
        from tau.telemetry.metrics import ServeMetrics

        _process.metrics = ServeMetrics()
    return _process.metrics


def run_sinks() -> list[Callable[[Event], None]]:
    """The event sinks a new run's emitter adds: its metrics observer when metrics are on, else none."""
    metrics = _process.metrics
    return [] if metrics is None else [metrics.observer()]


@contextmanager
def using(replacement: Tracer) -> Iterator[Tracer]:
    """`replacement` as the process's tracer inside the block (tests and embedding); the previous one after."""
    previous = _process.tracer
    _process.tracer = replacement
    try:
        yield replacement
    finally:
        _process.tracer = previous
