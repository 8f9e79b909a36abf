"""Budgets: pure bookkeeping of what a run has spent against its `LimitsSpec`.

The loop driver feeds it model requests, tool outcomes and usage, and asks `exhausted()` before each model request.
The first cap reached wins and is sticky; its reason is the run's terminal reason (exit 53 for turns, 5 otherwise).
pydantic-ai's own `UsageLimits.request_limit` (50 by default) is switched off by the driver: this is the only cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from tau.config.spec import LimitsSpec
from tau.errors import BudgetExceeded, RunError, TurnLimitReached


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
