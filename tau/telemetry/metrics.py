"""Prometheus metrics of the runs in this process (`tau serve`'s `/metrics`), kept from their events.

`ServeMetrics` owns a private `prometheus_client` registry (the process collectors included) and hands out one
`RunObserver` per run: an event sink that the run's `Emitter` feeds (`tau.telemetry.run_sinks`), so the numbers come
from the same event stream every front end reads and no instrumentation point is needed for them. Imported only when
metrics are switched on (`tau.telemetry.install_metrics`); `prometheus_client` is imported here and nowhere else.

Series (label values are tau's own names: statuses, reasons, tools, the configured model ref):

- `tau_runs_total{status,reason}` — finished runs by status (completed, failed, suspended) and terminal reason;
- `tau_run_duration_seconds{status}`, `tau_step_duration_seconds` (a model request and its tool calls),
  `tau_model_request_duration_seconds{model}` (turn start to the whole response), `tau_tool_duration_seconds{tool}`;
- `tau_tokens_total{model,kind}` (input, output, cache_read, cache_write) and `tau_cost_usd_total{model}`, added as
  a run reports its usage;
- `tau_tool_calls_total{tool,outcome}` (success, failed, denied, interrupted, retried);
- `tau_permission_decisions_total{decision,resolution}`; `tau_hooks_total{event,decision}`;
  `tau_compactions_total{strategy}`; `tau_model_retries_total`;
- `tau_sessions_active` (runs started and not finished) and `tau_sandbox_containers_active` (docker containers those
  runs work in).

A run that fails before its first event (a preflight failure) has no emitter: `tau serve` hands its terminal event
to an observer itself (`tau.rpc.runs`), so it counts in `tau_runs_total` and moves no gauge.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    platform_collector,
    process_collector,
)

from tau.protocol import (
    CompactionApplied,
    Event,
    HookRan,
    MessageCompleted,
    PermissionDecided,
    RetryScheduled,
    RunCompleted,
    SessionStarted,
    ToolCompleted,
    TurnStarted,
    UsageTotals,
    UsageUpdated,
)

__all__ = ["RunObserver", "ServeMetrics"]

_LATENCY = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_RUN = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
_TOKEN_KINDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


class ServeMetrics:
    """The metric families of one process (see the module docstring)."""

    def __init__(self) -> None:
        registry = CollectorRegistry(auto_describe=True)
        process_collector.ProcessCollector(registry=registry)
        platform_collector.PlatformCollector(registry=registry)
        gc_collector.GCCollector(registry=registry)
        self.registry = registry
        self.runs = Counter("tau_runs", "Finished runs.", ["status", "reason"], registry=registry)
        self.run_duration = Histogram(
            "tau_run_duration_seconds", "Wall time of finished runs.", ["status"], buckets=_RUN, registry=registry
        )
        self.step_duration = Histogram(
            "tau_step_duration_seconds", "One step: a model request and its tool calls.", buckets=_LATENCY,
            registry=registry,
        )  # fmt: skip
        self.model_duration = Histogram(
            "tau_model_request_duration_seconds", "A model request, from the turn's start to the whole response.",
            ["model"], buckets=_LATENCY, registry=registry,
        )  # fmt: skip
        self.tool_duration = Histogram(
            "tau_tool_duration_seconds", "A tool call.", ["tool"], buckets=_LATENCY, registry=registry
        )
        self.tokens = Counter("tau_tokens", "Tokens by model and kind.", ["model", "kind"], registry=registry)
        self.cost = Counter("tau_cost_usd", "Cost in USD by model (when known).", ["model"], registry=registry)
        self.tool_calls = Counter("tau_tool_calls", "Tool calls by outcome.", ["tool", "outcome"], registry=registry)
        self.permissions = Counter(
            "tau_permission_decisions", "Permission decisions.", ["decision", "resolution"], registry=registry
        )
        self.hooks = Counter("tau_hooks", "Hook handlers run.", ["event", "decision"], registry=registry)
        self.compactions = Counter("tau_compactions", "Context compactions.", ["strategy"], registry=registry)
        self.retries = Counter("tau_model_retries", "Provider calls retried.", registry=registry)
        self.sessions_active = Gauge("tau_sessions_active", "Runs started and not finished.", registry=registry)
        self.containers_active = Gauge(
            "tau_sandbox_containers_active", "Docker sandbox containers the active runs work in.", registry=registry
        )
        self._containers: Tally[str] = Tally()

    def observer(self) -> RunObserver:
        return RunObserver(self)

    def container_started(self, name: str) -> None:
        self._containers[name] += 1
        self.containers_active.set(len(self._containers))

    def container_done(self, name: str) -> None:
        self._containers[name] -= 1
        if self._containers[name] <= 0:
            del self._containers[name]
        self.containers_active.set(len(self._containers))


class RunObserver:
    """An event sink for one run: turns its events into the process's series."""

    def __init__(self, metrics: ServeMetrics) -> None:
        self.metrics = metrics
        self.model = "unknown"
        self.container: str | None = None
        self.active = False
        self.usage = UsageTotals()
        self.cost = 0.0
        self.turn_started: float | None = None
        self.request_started: float | None = None

    def __call__(self, event: Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _started(self, event: SessionStarted) -> None:
        self.model = event.model or "unknown"
        self.active = True
        self.metrics.sessions_active.inc()
        if event.environment.kind == "docker":
            self.container = event.environment.container or event.environment.image or "docker"
            self.metrics.container_started(self.container)

    def _turn(self, event: TurnStarted) -> None:
        now = time.monotonic()
        self._step_done(now)
        self.turn_started = self.request_started = now

    def _step_done(self, now: float) -> None:
        if self.turn_started is not None:
            self.metrics.step_duration.observe(now - self.turn_started)
            self.turn_started = None

    def _message(self, event: MessageCompleted) -> None:
        if self.request_started is not None:
            self.metrics.model_duration.labels(self.model).observe(time.monotonic() - self.request_started)
            self.request_started = None

    def _tool(self, event: ToolCompleted) -> None:
        self.metrics.tool_calls.labels(event.tool, event.status).inc()
        if event.duration_ms is not None:
            self.metrics.tool_duration.labels(event.tool).observe(event.duration_ms / 1000)

    def _permission(self, event: PermissionDecided) -> None:
        self.metrics.permissions.labels(event.decision, event.resolution).inc()

    def _usage(self, event: UsageUpdated) -> None:
        self._account(event.usage, event.cost_usd)

    def _account(self, usage: UsageTotals, cost: float | None) -> None:
        """Add what the run spent since its last report (its reports are running totals)."""
        for kind in _TOKEN_KINDS:
            delta = getattr(usage, kind) - getattr(self.usage, kind)
            if delta > 0:
                self.metrics.tokens.labels(self.model, kind.removesuffix("_tokens")).inc(delta)
        self.usage = usage
        if cost is not None and cost > self.cost:
            self.metrics.cost.labels(self.model).inc(cost - self.cost)
            self.cost = cost

    def _hook(self, event: HookRan) -> None:
        self.metrics.hooks.labels(event.hook_event, event.decision).inc()

    def _compaction(self, event: CompactionApplied) -> None:
        self.metrics.compactions.labels(event.strategy).inc()

    def _retry(self, event: RetryScheduled) -> None:
        self.metrics.retries.inc()

    def _completed(self, event: RunCompleted) -> None:
        self._step_done(time.monotonic())
        self._account(event.usage, event.cost_usd)
        self.metrics.runs.labels(event.status, event.terminal_reason).inc()
        self.metrics.run_duration.labels(event.status).observe(event.duration_ms / 1000)
        if self.active:
            self.active = False
            self.metrics.sessions_active.dec()
            if self.container is not None:
                self.metrics.container_done(self.container)


_HANDLERS: dict[type[Any], Callable[[RunObserver, Any], None]] = {
    SessionStarted: RunObserver._started,
    TurnStarted: RunObserver._turn,
    MessageCompleted: RunObserver._message,
    ToolCompleted: RunObserver._tool,
    PermissionDecided: RunObserver._permission,
    UsageUpdated: RunObserver._usage,
    HookRan: RunObserver._hook,
    CompactionApplied: RunObserver._compaction,
    RetryScheduled: RunObserver._retry,
    RunCompleted: RunObserver._completed,
}
