"""Compaction: when the model's view of the history fills past `threshold` of its context window, a
pydantic-ai-harness strategy compacts the view. The stored history is never changed.

    capability = compaction_capability("tiered", threshold=0.8, context_window=job.model.capabilities.context_window,
                                       emit=emitter.emit, keep_last=6)
    Agent(..., capabilities=[..., capability])

Why not the harness capabilities themselves: their `before_model_request` does `ctx.messages[:] = compacted`, which
replaces the run's message history, so `run.all_messages()` (what the driver commits step by step, by index) would
shrink and messages would never reach the store. Here the harness strategy's `compact()` (the public
`CompactionStrategy` protocol: `ClearToolResults`, `SlidingWindowCompaction`, `SummarizingCompaction`,
`TieredCompaction`) is applied as a **request-time transform**: the hook returns the compacted view as the request's
messages and leaves `ctx.messages` alone (pydantic-ai sends the returned list and keeps history separate). So every
message stays in `all_messages()` and in the snapshot DAG; only what the model sees shrinks.

The view is cached: after a compaction, later requests send `compacted prefix + messages since`, and compaction runs
again only when that view crosses the threshold again (so a summarizing strategy calls its model once per
crossing, not once per request). The cache is keyed on the identity of the last compacted message; a new run (a
resume) starts with a fresh view and compacts on its first request if needed.

Instructions (job instructions, bootstrap memory AGENTS.md/CLAUDE.md, skills listing) are not history: pydantic-ai
sends them as `ModelRequestParameters.instruction_parts` on every request, so compaction never drops them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.tools import AgentDepsT, RunContext
from pydantic_ai_harness.compaction import (
    ClearToolResults,
    CompactionStrategy,
    SlidingWindowCompaction,
    SummarizingCompaction,
    TieredCompaction,
    estimate_context_tokens,
    estimate_token_count,
)

from tau.errors import ConfigError
from tau.protocol import CompactionApplied
from tau.telemetry import tracer

if TYPE_CHECKING:
    from pydantic_ai.models import ModelRequestContext

__all__ = [
    "DEFAULT_KEEP_LAST",
    "DEFAULT_THRESHOLD",
    "STRATEGIES",
    "CompactionCapability",
    "StrategyName",
    "build_strategy",
    "compaction_capability",
]

StrategyName = Literal["clear_tool_results", "sliding_window", "summarize", "tiered"]
STRATEGIES: tuple[StrategyName, ...] = ("clear_tool_results", "sliding_window", "summarize", "tiered")
DEFAULT_THRESHOLD = 0.8
DEFAULT_KEEP_LAST = 6
_ALWAYS = 1  # the harness classes require a trigger; ours lives in CompactionCapability, so theirs never matters


def build_strategy(
    name: str,
    *,
    threshold: float,
    context_window: int,
    keep_last: int = DEFAULT_KEEP_LAST,
    summary_model: Model | str | None = None,
) -> CompactionStrategy[Any]:
    """The harness strategy a config name stands for.

    - clear_tool_results: blank all but the last `keep_last` tool results (no model call);
    - sliding_window: keep the last `keep_last` messages plus the first user prompt (no model call);
    - summarize: replace all but the last `keep_last` messages with a summary written by `summary_model`
      (None = the run's model);
    - tiered: clear tool results, then summarize, stopping as soon as the view fits half the threshold.
    """
    if name == "clear_tool_results":
        return ClearToolResults(max_tokens=_ALWAYS, keep_pairs=keep_last)
    if name == "sliding_window":
        return SlidingWindowCompaction(max_tokens=_ALWAYS, keep_messages=keep_last)
    if name == "summarize":
        return SummarizingCompaction(model=summary_model, max_tokens=_ALWAYS, keep_messages=keep_last)
    if name == "tiered":
        tiers: list[CompactionStrategy[Any]] = [
            ClearToolResults(max_tokens=_ALWAYS, keep_pairs=keep_last),
            SummarizingCompaction(model=summary_model, max_tokens=_ALWAYS, keep_messages=keep_last),
        ]
        return TieredCompaction(tiers=tiers, target_tokens=max(1, int(context_window * threshold / 2)))
    raise ConfigError(f"unknown compaction strategy {name!r} (known: {', '.join(STRATEGIES)})", field="compaction")


@dataclass
class _View:
    """The compacted view of `source[:length]` (its last message is `last`)."""

    length: int
    last: ModelMessage
    messages: list[ModelMessage]


@dataclass
class CompactionCapability(AbstractCapability[AgentDepsT]):
    """Compacts the request's view of the history past `threshold * context_window` estimated tokens."""

    strategy: CompactionStrategy[AgentDepsT]
    strategy_name: str
    context_window: int
    threshold: float = DEFAULT_THRESHOLD
    emit: Callable[[CompactionApplied], None] | None = None
    pre_compact: Callable[[], Awaitable[object]] | None = None
    tokenizer: Callable[[str], int] | None = None
    _view: _View | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"compaction threshold must be in (0, 1], got {self.threshold}", field="compaction")
        if self.context_window < 1:
            raise ConfigError("context_window must be positive", field="compaction")

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None

    @property
    def limit(self) -> int:
        return int(self.context_window * self.threshold)

    def view_of(self, messages: Sequence[ModelMessage]) -> list[ModelMessage]:
        """What the model would be sent for `messages` given earlier compactions (no new compaction)."""
        cached = self._view
        if cached is None or len(messages) < cached.length or messages[cached.length - 1] is not cached.last:
            self._view = None
            return list(messages)
        return [*cached.messages, *messages[cached.length :]]

    async def before_model_request(
        self, ctx: RunContext[AgentDepsT], request_context: ModelRequestContext
    ) -> ModelRequestContext:
        messages = list(request_context.messages)
        view = self.view_of(messages)
        parameters = request_context.model_request_parameters
        before = estimate_context_tokens(view, self.tokenizer, model_request_parameters=parameters)
        if before <= self.limit:
            return request_context if self._view is None else replace(request_context, messages=view)
        if self.pre_compact is not None and getattr(await self.pre_compact(), "blocked", False):
            return request_context if self._view is None else replace(request_context, messages=view)
        request_ctx = ctx if request_context.model is ctx.model else replace(ctx, model=request_context.model)
        with tracer().span("tau.compaction", {"tau.compaction.strategy": self.strategy_name}) as span:
            compacted = await self.strategy.compact(list(view), request_ctx)
            span.set({"tau.compaction.messages_before": len(view), "tau.compaction.messages_after": len(compacted)})
        self._view = _View(len(messages), messages[-1], compacted)
        # The usage anchor of a kept response measured the uncompacted request; subtract what the strategy removed
        # (by the text heuristic) from `before` instead, as TieredCompaction does.
        reclaimed = estimate_token_count(view, self.tokenizer) - estimate_token_count(compacted, self.tokenizer)
        after = max(before - max(reclaimed, 0), 0)
        if self.emit is not None:
            self.emit(
                CompactionApplied(
                    strategy=self.strategy_name,
                    tokens_before=before,
                    tokens_after=after,
                    messages_before=len(view),
                    messages_after=len(compacted),
                )
            )
        return replace(request_context, messages=compacted)


def compaction_capability(
    strategy: str | CompactionStrategy[Any],
    threshold: float,
    context_window: int,
    emit: Callable[[CompactionApplied], None] | None,
    *,
    keep_last: int = DEFAULT_KEEP_LAST,
    summary_model: Model | str | None = None,
    pre_compact: Callable[[], Awaitable[object]] | None = None,
    tokenizer: Callable[[str], int] | None = None,
) -> CompactionCapability[Any]:
    """The capability the agent factory adds for `compaction: {strategy, threshold, keep_last}`.

    `strategy` is a config name (see `build_strategy`) or any harness `CompactionStrategy`; `emit` receives one
    `CompactionApplied` (seq 0; the emitter renumbers) per compaction; `pre_compact` runs first (PreCompact hooks:
    `lambda: hooks.on_pre_compact("auto")`; a result with `blocked=True` skips this compaction).
    """
    if isinstance(strategy, str):
        name = strategy
        built = build_strategy(
            strategy, threshold=threshold, context_window=context_window, keep_last=keep_last,
            summary_model=summary_model,
        )  # fmt: skip
    else:
        name, built = type(strategy).__name__, strategy
    return CompactionCapability(
        strategy=built,
        strategy_name=name,
        context_window=context_window,
        threshold=threshold,
        emit=emit,
        pre_compact=pre_compact,
        tokenizer=tokenizer,
    )
