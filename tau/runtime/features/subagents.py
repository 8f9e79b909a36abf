"""Subagents: the `task` tool that runs a child agent with its own context, constrained tools and permission mode.

`subagent_toolset(definitions, ...)` returns a `FunctionToolset` with one tool, `task(description, prompt,
subagent_type)` (Claude Code's Task tool arguments); `subagent_runner(...)` returns the `SubagentRunner` behind it,
whose `launch(ctx, definition, description, prompt)` also runs a forked skill (`tau.runtime.features.skill_activation`).
Each call:

1. resolves the definition (unknown type -> `ModelRetry` listing the types);
2. computes the child's tools: the definition's allowlist (or every parent tool) ∩ the parent's tools minus its
   `disallowedTools` — an allowlist naming `ls` or `multi_edit` also gets them when the parent has `read` / `edit`
   (`DERIVED_TOOLS`: the same access, Claude Code's LS and MultiEdit); `task` only while the child is below
   `max_depth` (top-level run = depth 0, so with the default max depth 2 a child may delegate once more and a
   grandchild may not);
3. computes its permission mode: the more restrictive of the parent's and the definition's
   (plan < dontAsk < default < acceptEdits < bypassPermissions) — a child never escalates;
4. asks the lead-supplied `make_child_agent(ChildRequest)` for a pydantic-ai `Agent` (model, toolsets, permission
   layer), then runs it through the one loop (`runtime.loop.iterate`, as the top-level driver does) with a fresh
   message history in the parent's workspace (`ctx.workspace`), with a `PrepareTools` capability that hides every
   tool outside the computed set (so a forbidden call is an unknown tool whatever the factory built), its own
   `RunUsage`, run metadata `{SUBAGENT_DEPTH: depth}` (how a tool tells a child's call from the top-level run's) and
   tau's `Budget` carved from the parent's (`Budget.carve`): `maxTurns` (default `max_turns`) model requests of its
   own, and what is left of the parent's tool calls, tokens and cost (a budget cap fails the child, no finalize
   turn);
5. records the child as its own session in the store: id `<parent>.task-<call_id>`, root config naming the parent
   session, the parent's head snapshot at the call and the call id; one snapshot per child step, a final one with
   the outcome (`completed`, `failed`, `turn_limit`, `interrupted`);
6. adds the child's usage to the parent's (`ctx.usage.incr`, also on failure), so the parent's `run.usage` — what
   tau's `Budget` reads — includes every child;
7. returns the child's final text (capped at `max_result_chars`) plus a one-line status, or raises `ToolFailed`
   (a failed tool result; the parent continues) when the child errored or hit its turn limit.

`tool_notice(definitions, tool_names)` is the one run-start notice for definitions whose `tools:` name tools the
child will not get (tau lacks them, or this run does not have them), saying what each child runs with.

`task(background=true)` and `task(reply_to=SESSION)` act in `tau.runtime.features.background` (the hosting server).

Several `task` calls in one model response run concurrently (pydantic-ai runs parallel tool calls as tasks).
Cancellation of the parent propagates into its children, which commit `interrupted` before re-raising.

Not the pydantic-ai-harness `SubAgents` capability: it fixes the tool as `delegate_task(agent_name, task)`, turns a
failing child into `ModelRetry`, keeps child transcripts only in its own task directory (not tau's snapshot store),
and its disk definitions ignore `disallowedTools`, `maxTurns`, `permissionMode` and user-level folders. The parts it
would have supplied are pydantic-ai's own: a run's `usage=` and `workspace=`, and `PrepareTools`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import anyio
from pydantic_ai import ModelRetry, RunContext
from pydantic_ai.capabilities import PrepareTools
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models import Model
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset
from pydantic_ai.usage import RunUsage

from tau.config.spec import LimitsSpec, PermissionMode
from tau.errors import BudgetExceeded, TurnLimitReached
from tau.protocol import SubagentCompleted, SubagentStarted, UsageTotals
from tau.runtime.budget import Budget
from tau.runtime.emitter import usage_totals
from tau.runtime.features.agent_defs import TASK_TOOL, AgentDefinition
from tau.runtime.features.background import reply_background, start_background
from tau.runtime.features.subagent_children import (
    ChildRecorder,
    ChildRequest,
    ChildSession,
    ChildSteps,
    MakeChildAgent,
    child_agent_factory,
    child_asker,
    child_session_id,
    child_sessions,
)
from tau.runtime.features.subagent_rules import (
    DERIVED_TOOLS,
    SUBAGENT_DEPTH,
    child_permission_mode,
    child_tools,
    subagent_depth,
    tool_notice,
)
from tau.runtime.loop import LoopStart, iterate
from tau.sessions import SessionStore
from tau.tool_schemas import cached_tool

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_TURNS",
    "DERIVED_TOOLS",
    "SUBAGENT_DEPTH",
    "ChildRequest",
    "ChildRun",
    "ChildSession",
    "MakeChildAgent",
    "ParentSession",
    "SubagentLimits",
    "SubagentRunner",
    "SubagentRuns",
    "child_agent_factory",
    "child_asker",
    "child_permission_mode",
    "child_session_id",
    "child_sessions",
    "child_tools",
    "subagent_depth",
    "subagent_runner",
    "subagent_toolset",
    "task_tool",
    "tool_notice",
]

DEFAULT_MAX_DEPTH = 2
DEFAULT_MAX_TURNS = 50
DEFAULT_RESULT_CHARS = 20_000
MAX_STOP_CONTINUATIONS = 3
ChildStatus = Literal["completed", "failed", "turn_limit", "interrupted"]
SubagentEvent = SubagentStarted | SubagentCompleted
StopHook = Callable[[str], Awaitable[Any]]  # tau.hooks.HookSession.on_subagent_stop -> StopVerdict (block, reason)


@dataclass(frozen=True)
class ParentSession:
    """The delegating run: its session id, a callable returning its current head snapshot, one returning its
    `Budget` (None: the child gets only its turn cap) that a child's budget is carved from, its permission mode and
    its tool names (a child gets no more of either)."""

    session_id: str
    head: Callable[[], str | None] = field(default=lambda: None)
    budget: Callable[[], Budget | None] = field(default=lambda: None)
    mode: PermissionMode = "default"
    tools: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SubagentLimits:
    """How deep children may nest (top-level run = depth 0), how many model requests a child gets when its
    definition names no `maxTurns`, and how much of its answer goes back to the parent."""

    max_depth: int = DEFAULT_MAX_DEPTH
    max_turns: int = DEFAULT_MAX_TURNS
    max_result_chars: int = DEFAULT_RESULT_CHARS


@dataclass(frozen=True)
class ChildRun:
    """One finished child run, as kept in memory by `SubagentRuns`."""

    session_id: str
    parent_session: str
    parent_snapshot: str | None
    call_id: str
    agent: str
    description: str
    depth: int
    status: ChildStatus
    usage: UsageTotals
    num_turns: int
    head: str | None


@dataclass
class SubagentRuns:
    """Every child run of a process, in completion order (what an in-memory store cannot list)."""

    runs: list[ChildRun] = field(default_factory=list[ChildRun])

    def for_parent(self, session_id: str) -> list[ChildRun]:
        return [run for run in self.runs if run.parent_session == session_id]


def _indented(text: str) -> str:
    """A multi-line description as one list item: continuation lines indented under it."""
    return "\n".join(f"  {line}" if line and index else line for index, line in enumerate(text.split("\n")))


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… {len(text) - limit} more characters cut; the whole answer is in the child session]"


def _final_text(messages: Sequence[ModelMessage]) -> str:
    response = next((m for m in reversed(messages) if isinstance(m, ModelResponse)), None)
    if response is None:
        return ""
    return "".join(p.content for p in response.parts if isinstance(p, TextPart))


# -- the tool ----------------------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    status: ChildStatus
    text: str
    error: str | None = None
    turns: int = 0


@dataclass
class SubagentRunner:
    """Runs children of one delegating run (at `depth`): the `task` tool's calls and forked skills."""

    definitions: Mapping[str, AgentDefinition]
    parent: ParentSession
    make_child_agent: MakeChildAgent
    store: SessionStore
    limits: SubagentLimits = SubagentLimits()
    depth: int = 0
    emit: Callable[[SubagentEvent], None] | None = None
    runs: SubagentRuns | None = None
    on_subagent_stop: StopHook | None = None

    def describe(self) -> str:
        listing = "\n".join(f"- {d.name}: {_indented(d.description)}" for d in self.definitions.values())
        return (
            "Launch a subagent to handle a self-contained task with its own fresh context. It cannot see this "
            "conversation: put everything it needs in `prompt`. Calls in one response run in parallel; use that "
            "for independent work. The subagent's final message is returned to you (the user does not see it).\n"
            f"Available subagent types:\n{listing}"
        )

    async def __call__(self, ctx: RunContext[None], description: str, prompt: str, subagent_type: str) -> str:
        definition = self.definitions.get(subagent_type)
        if definition is None:
            known = ", ".join(self.definitions) or "(none)"
            raise ModelRetry(f"Unknown subagent_type {subagent_type!r}. Available: {known}")
        return await self.launch(ctx, definition, description, prompt)

    async def launch(
        self,
        ctx: RunContext[None],
        definition: AgentDefinition,
        description: str,
        prompt: str,
        *,
        allow_rules: tuple[str, ...] = (),
    ) -> str:
        """Run one child of `definition` on `prompt` (steps 2-7 of the module docstring); `allow_rules` are extra
        permission allow rules for it (a forked skill's pre-approved `allowed-tools`)."""
        call_id = ctx.tool_call_id or f"t{time.monotonic_ns()}"
        recorder = ChildRecorder(self.store, child_session_id(self.parent.session_id, call_id))
        child_depth = self.depth + 1
        may_delegate = child_depth < self.limits.max_depth
        tools = child_tools(definition, self.parent.tools, may_delegate=may_delegate)
        mode, deny_asks = child_permission_mode(self.parent.mode, definition.permission_mode)
        parent_snapshot = self.parent.head()
        await recorder.begin(self._config(definition, description, prompt, call_id, parent_snapshot, tools, mode))
        steps = ChildSteps(recorder, RunUsage(), Budget(self._limits(definition)))
        parent = ParentSession(recorder.session_id, lambda: recorder.head, lambda: steps.budget, mode, tools)
        nested = self._nested(definition, parent, child_depth) if TASK_TOOL in tools else ()
        derived = frozenset(name for name in tools & DERIVED_TOOLS.keys() if name not in self.parent.tools)
        request = ChildRequest(
            definition=definition,
            tools=tools,
            permission_mode=mode,
            deny_asks=deny_asks,
            deny_rules=definition.deny_rules,
            model=definition.model,
            parent_model=ctx.model if isinstance(ctx.model, Model) else None,
            depth=child_depth,
            session_id=recorder.session_id,
            toolsets=nested,
            allow_rules=allow_rules,
            derived_tools=derived,
        )
        started = SubagentStarted(
            call_id=call_id,
            agent=definition.name,
            child_session_id=recorder.session_id,
            description=description,
            depth=child_depth,
        )
        self._emit(started)
        try:
            outcome = await self._run(ctx, request, prompt, steps)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._finish(steps, "interrupted", ctx)
            raise
        return await self._report(request, description, call_id, parent_snapshot, recorder, steps.usage, outcome)

    def _config(
        self,
        definition: AgentDefinition,
        description: str,
        prompt: str,
        call_id: str,
        parent_snapshot: str | None,
        tools: frozenset[str],
        mode: PermissionMode,
    ) -> dict[str, Any]:
        return {
            "prompt": prompt,
            "model": definition.model,
            "subagent": {
                "agent": definition.name,
                "description": description,
                "definition_path": definition.path,
                "parent_session": self.parent.session_id,
                "parent_snapshot": parent_snapshot,
                "parent_call_id": call_id,
                "depth": self.depth + 1,
                "tools": sorted(tools),
                "permission_mode": mode,
            },
        }

    def _limits(self, definition: AgentDefinition) -> LimitsSpec:
        """The child's budget: its turn cap (`maxTurns`, else `max_turns`) and what is left of the parent's."""
        turns = definition.max_turns or self.limits.max_turns
        parent = self.parent.budget()
        return LimitsSpec(max_turns=turns, max_consecutive_failures=None) if parent is None else parent.carve(turns)

    def _nested(
        self, definition: AgentDefinition, parent: ParentSession, depth: int
    ) -> tuple[AbstractToolset[None], ...]:
        spawnable = self.definitions
        if definition.spawnable is not None:
            spawnable = {name: d for name, d in self.definitions.items() if name in definition.spawnable}
        runner = replace(self, definitions=spawnable, depth=depth, parent=parent)
        return (task_tool(runner),)

    async def _run(self, ctx: RunContext[None], request: ChildRequest, prompt: str, steps: ChildSteps) -> _Outcome:
        try:
            agent = self.make_child_agent(request)
        except Exception as error:  # a bad model id, a malformed deny rule: the task fails, the parent goes on
            await self._finish(steps, "failed", ctx)
            return _Outcome("failed", "", f"cannot start subagent: {error}")
        allowed = request.tools

        async def only_allowed(_: RunContext[None], defs: list[ToolDefinition]) -> list[ToolDefinition]:
            return [d for d in defs if d.name in allowed]

        next_prompt: str | None = prompt
        try:
            for _ in range(MAX_STOP_CONTINUATIONS + 1):
                start = LoopStart(
                    next_prompt,
                    history=steps.messages,
                    workspace=ctx.workspace,
                    usage=steps.usage,
                    metadata={SUBAGENT_DEPTH: request.depth},
                    capabilities=[PrepareTools(only_allowed)],
                    stream_model=False,
                )
                await iterate(agent, start, steps)
                next_prompt = await self._stop_hook(_final_text(steps.messages))
                if next_prompt is None:
                    break
        except TurnLimitReached:
            await self._finish(steps, "turn_limit", ctx)
            limit = steps.budget.limits.max_turns
            return _Outcome(
                "turn_limit", _final_text(steps.messages), f"reached its turn limit ({limit} model requests)"
            )
        except Exception as error:  # the child's failure is the parent's failed tool result, never its crash
            await self._finish(steps, "failed", ctx)
            reason = error.message if isinstance(error, BudgetExceeded) else f"{type(error).__name__}: {error}"
            return _Outcome("failed", _final_text(steps.messages), reason)
        await self._finish(steps, "completed", ctx)
        return _Outcome("completed", _final_text(steps.messages))

    async def _stop_hook(self, text: str) -> str | None:
        """SubagentStop hooks: a block gives the child one more turn with the hook's reason as its prompt."""
        if self.on_subagent_stop is None:
            return None
        verdict = await self.on_subagent_stop(text)
        reason = getattr(verdict, "reason", None)
        return reason if getattr(verdict, "block", False) and reason else None

    async def _finish(self, steps: ChildSteps, status: str, ctx: RunContext[None]) -> None:
        recorder = steps.recorder
        if recorder.finished:
            return
        recorder.finished = True
        ctx.usage.incr(steps.usage)  # the parent's budget sees every child token, also those of a failed child
        try:
            await recorder.commit(steps.messages, status, steps.usage)
        finally:
            await self.store.close(recorder.session_id)

    async def _report(
        self,
        request: ChildRequest,
        description: str,
        call_id: str,
        parent_snapshot: str | None,
        recorder: ChildRecorder,
        usage: RunUsage,
        outcome: _Outcome,
    ) -> str:
        name = request.definition.name
        spent = usage_totals(usage)
        text = _cap(outcome.text, self.limits.max_result_chars)
        self._emit(
            SubagentCompleted(
                call_id=call_id,
                agent=name,
                child_session_id=recorder.session_id,
                status=outcome.status,
                usage=spent,
                result=text or None,
                error=outcome.error,
            )
        )
        if self.runs is not None:
            self.runs.runs.append(
                ChildRun(
                    session_id=recorder.session_id,
                    parent_session=self.parent.session_id,
                    parent_snapshot=parent_snapshot,
                    call_id=call_id,
                    agent=name,
                    description=description,
                    depth=request.depth,
                    status=outcome.status,
                    usage=spent,
                    num_turns=spent.requests,
                    head=recorder.head,
                )
            )
        tokens = spent.input_tokens + spent.output_tokens
        if outcome.status != "completed":
            status = f"[subagent {name} {outcome.status}: {outcome.error}; session {recorder.session_id}]"
            partial = f"\nIts last message:\n{text}" if text else ""
            raise ToolFailed(status + partial)
        status = f"[subagent {name} completed: {spent.requests} turns, {tokens} tokens; session {recorder.session_id}]"
        return f"{text or '(the subagent ended without a message)'}\n\n{status}"

    def _emit(self, event: SubagentEvent) -> None:
        if self.emit is not None:
            self.emit(event)


def subagent_runner(
    definitions: Sequence[AgentDefinition],
    *,
    parent: ParentSession,
    make_child_agent: MakeChildAgent,
    store: SessionStore,
    limits: SubagentLimits = SubagentLimits(),
    emit: Callable[[SubagentEvent], None] | None = None,
    runs: SubagentRuns | None = None,
    on_subagent_stop: StopHook | None = None,
) -> SubagentRunner:
    """The runner of a top-level run (depth 0) offering `definitions` to its `task` tool; `parent` names the run,
    its mode and its tools (children get a subset)."""
    return SubagentRunner(
        definitions={d.name: d for d in definitions},
        parent=parent,
        make_child_agent=make_child_agent,
        store=store,
        limits=limits,
        emit=emit,
        runs=runs,
        on_subagent_stop=on_subagent_stop,
    )


def task_tool(runner: SubagentRunner) -> FunctionToolset[None]:
    """The `task` tool over `runner` (empty when it has nothing to delegate to or is at its maximum depth)."""
    if not runner.definitions or runner.depth >= runner.limits.max_depth:
        return FunctionToolset[None]([])

    async def task(
        ctx: RunContext[None], description: str, prompt: str, subagent_type: str, background: bool = False,
        reply_to: str = "",
    ) -> str:  # fmt: skip
        """Run a subagent.

        Args:
            description: A short (3-5 word) description of the task.
            prompt: The complete, self-contained task for the subagent.
            subagent_type: The type of subagent to use (one of the available types).
            background: Start it as a background agent and return at once (tau serve only); its result arrives later.
            reply_to: Session id of your background agent waiting on a question: `prompt` answers it (starts nothing).
        """
        if reply_to.strip():
            return await reply_background(reply_to.strip(), prompt)
        if background and subagent_type in runner.definitions:  # tau.runtime.features.background: the server's seam
            return await start_background(description, prompt, subagent_type)
        return await runner(ctx, description, prompt, subagent_type)

    return FunctionToolset[None]([cached_tool(task, name=TASK_TOOL, description=runner.describe())], max_retries=2)


def subagent_toolset(definitions: Sequence[AgentDefinition], **options: Any) -> FunctionToolset[None]:
    """Shorthand for `task_tool(subagent_runner(definitions, **options))`: the `task` tool of a top-level run; empty
    when there is nothing to delegate to or `max_depth` is 0."""
    return task_tool(subagent_runner(definitions, **options))
