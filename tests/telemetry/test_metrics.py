"""`RunObserver`: a run's events become the process's series — running usage totals counted once (deltas), the
active-session and sandbox-container gauges back to zero when runs end, two runs in one container counted once."""

from __future__ import annotations

from prometheus_client import generate_latest

from tau.protocol import (
    EnvironmentInfo,
    HookRan,
    RunCompleted,
    SessionStarted,
    UsageTotals,
    UsageUpdated,
)
from tau.telemetry.metrics import ServeMetrics


def started(container: str | None = None) -> SessionStarted:
    kind = "docker" if container else "host"
    environment = EnvironmentInfo(kind=kind, workspace="/w", container=container)
    return SessionStarted(session_id="s", model="openai:gpt-x", cwd="/w", environment=environment, tools=[])


def completed(usage: UsageTotals, cost: float | None = None) -> RunCompleted:
    return RunCompleted(
        status="failed", terminal_reason="max_tokens", exit_code=5, session_id="s", usage=usage, cost_usd=cost
    )


def value(metrics: ServeMetrics, line_start: str) -> float:
    text = generate_latest(metrics.registry).decode()
    [line] = [line for line in text.splitlines() if line.startswith(line_start + " ")]
    return float(line.rsplit(" ", 1)[1])


def test_running_usage_totals_are_counted_once() -> None:
    metrics = ServeMetrics()
    run = metrics.observer()
    run(started())
    run(UsageUpdated(usage=UsageTotals(input_tokens=100, output_tokens=10), cost_usd=0.01))
    run(UsageUpdated(usage=UsageTotals(input_tokens=250, output_tokens=30), cost_usd=0.03))
    run(completed(UsageTotals(input_tokens=250, output_tokens=42, cache_read_tokens=7), cost=0.04))
    assert value(metrics, 'tau_tokens_total{kind="input",model="openai:gpt-x"}') == 250
    assert value(metrics, 'tau_tokens_total{kind="output",model="openai:gpt-x"}') == 42
    assert value(metrics, 'tau_tokens_total{kind="cache_read",model="openai:gpt-x"}') == 7
    assert abs(value(metrics, 'tau_cost_usd_total{model="openai:gpt-x"}') - 0.04) < 1e-9
    assert value(metrics, 'tau_runs_total{reason="max_tokens",status="failed"}') == 1


def test_gauges_follow_runs_and_containers() -> None:
    metrics = ServeMetrics()
    first, second, third = metrics.observer(), metrics.observer(), metrics.observer()
    first(started("tau-sandbox-a"))
    second(started("tau-sandbox-a"))  # a session's second run in its kept container
    third(started())
    assert value(metrics, "tau_sessions_active") == 3
    assert value(metrics, "tau_sandbox_containers_active") == 1
    first(completed(UsageTotals()))
    assert value(metrics, "tau_sandbox_containers_active") == 1
    second(completed(UsageTotals()))
    third(completed(UsageTotals()))
    assert value(metrics, "tau_sessions_active") == 0
    assert value(metrics, "tau_sandbox_containers_active") == 0


def test_a_run_that_never_started_does_not_move_the_gauges() -> None:
    metrics = ServeMetrics()
    run = metrics.observer()
    run(HookRan(hook_event="Stop", command="true", decision="none"))
    run(completed(UsageTotals()))
    assert value(metrics, "tau_sessions_active") == 0
    assert value(metrics, 'tau_hooks_total{decision="none",event="Stop"}') == 1
    assert value(metrics, 'tau_runs_total{reason="max_tokens",status="failed"}') == 1
