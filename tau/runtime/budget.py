"""Budgets: pure bookkeeping of what a run has spent against its `LimitsSpec`.

The loop driver feeds it model requests, tool outcomes and usage, and asks `exhausted()` before each model request.
The first cap reached wins and is sticky; its reason is the run's terminal reason (exit 53 for turns, 5 otherwise).
pydantic-ai's own `UsageLimits.request_limit` (50 by default) is switched off by the loop: this is the only cap.

A subagent's budget is carved from its parent's (`carve`): its own turn cap, and what is left of the parent's tool
calls, tokens and cost at the moment it starts; the parent's budget sees the child's spending when it ends (its
usage is added to the parent's).

Time: `time_left(limit, elapsed)` is what is left of `--timeout`; `idle_watchdog` cancels a run with no activity
for `--idle-timeout` (a running tool call is never idle, `Emitter.idle_for`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from tau.config.spec import LimitsSpec
from tau.errors import BudgetExceeded, RunError, RunTimeout, TurnLimitReached


class Idle(Protocol):
    def idle_for(self) -> float: ...


def time_left(limit: float | None, elapsed: float) -> float | None:
    """What is left of `--timeout` (`limit`) after `elapsed` seconds; RunTimeout when nothing is."""
    if limit is None:
        return None
    if limit - elapsed <= 0:
        raise RunTimeout(f"run exceeded --timeout {limit:g}s", reason="timeout")
    return limit - elapsed


@dataclass
class Spent:
    """What a run spent as its commits recorded it: `delta(now, cost_usd)` is what it spent since the last call
    (numeric usage entries, `usage_totals` names; `cost_usd` added when known), zero entries left out."""

    committed: dict[str, int | float] = field(default_factory=dict[str, int | float])

    def delta(self, usage: dict[str, Any], cost_usd: float = 0.0) -> dict[str, int | float]:
        now: dict[str, int | float] = {key: value for key, value in usage.items() if isinstance(value, int | float)}
        if cost_usd:
            now["cost_usd"] = cost_usd
        delta = {key: value - self.committed.get(key, 0) for key, value in now.items()}
        self.committed = now
        return {key: value for key, value in delta.items() if value}


async def idle_watchdog(activity: Idle, idle_timeout: float, cancel: Callable[[RunError], None]) -> None:
    """`cancel` the run once `activity` has been idle longer than `idle_timeout` (`--idle-timeout`)."""
    while True:
        await anyio.sleep(min(idle_timeout / 4, 1.0))
        if activity.idle_for() > idle_timeout:
            cancel(RunTimeout(f"no activity for {idle_timeout:g}s (--idle-timeout)", reason="idle_timeout"))
            return


@dataclass
class Budget:
    limits: LimitsSpec
    turns: int = 0
    tool_calls: int = 0
    consecutive_failures: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    _hit: RunError | None = None

    def record_turn(self) -> None:
        self.turns += 1

    def record_tool_result(self, *, ok: bool) -> None:
        self.tool_calls += 1
        self.consecutive_failures = 0 if ok else self.consecutive_failures + 1

    def record_usage(self, *, tokens: int, cost_usd: float | None) -> None:
        self.tokens = tokens
        if cost_usd is not None:
            self.cost_usd = cost_usd

    def carve(self, max_turns: int | None) -> LimitsSpec:
        """The limits of a child run started now: `max_turns` of its own, what is left of this budget's tool calls,
        tokens and cost, and the same consecutive-failure cap."""
        lim = self.limits
        return LimitsSpec(
            max_turns=max_turns,
            max_tool_calls=None if lim.max_tool_calls is None else max(lim.max_tool_calls - self.tool_calls, 0),
            max_consecutive_failures=lim.max_consecutive_failures,
            max_tokens=None if lim.max_tokens is None else max(lim.max_tokens - self.tokens, 0),
            max_usd=None if lim.max_usd is None else max(lim.max_usd - self.cost_usd, 0.0),
        )

    @property
    def hit(self) -> RunError | None:
        return self._hit

    def exhausted(self) -> RunError | None:
        """The cap reached, if any, as the error that will end the run. Sticky once set."""
        if self._hit is None:
            self._hit = self._check()
        return self._hit

    def _check(self) -> RunError | None:
        lim = self.limits
        if lim.max_turns is not None and self.turns >= lim.max_turns:
            return TurnLimitReached(f"turn limit reached ({self.turns} model requests, --max-turns {lim.max_turns})")
        if lim.max_tool_calls is not None and self.tool_calls >= lim.max_tool_calls:
            return BudgetExceeded(
                f"tool call budget reached ({self.tool_calls} calls, --max-tool-calls {lim.max_tool_calls})",
                reason="max_tool_calls",
            )
        if lim.max_consecutive_failures is not None and self.consecutive_failures >= lim.max_consecutive_failures:
            return BudgetExceeded(
                f"{self.consecutive_failures} consecutive tool failures (--max-consecutive-failures "
                f"{lim.max_consecutive_failures})",
                reason="max_consecutive_failures",
            )
        if lim.max_tokens is not None and self.tokens >= lim.max_tokens:
            return BudgetExceeded(
                f"token budget reached ({self.tokens} tokens, --max-tokens {lim.max_tokens})", reason="max_tokens"
            )
        if lim.max_usd is not None and self.cost_usd >= lim.max_usd:
            return BudgetExceeded(
                f"cost budget reached (${self.cost_usd:.4f}, --max-usd {lim.max_usd})", reason="max_usd"
            )
        return None
