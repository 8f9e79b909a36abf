"""Subagent children: what a child agent is built from (`ChildRequest`), the default factory that builds it from the
parent's pieces (`child_agent_factory`), how a child run is recorded (`child_session_id`, `ChildRecorder`: one
snapshot per child step, like the driver's), the child's side of the one loop (`ChildSteps`: the `StepObserver` that
commits each step and keeps the child's `Budget`) and the listing of recorded child sessions (`child_sessions`).

The factory never widens the parent: the child's toolsets are the parent's filtered to the child's tools (plus the
built-in tools those imply, `ls` and `multi_edit`, when the definition asks for them), its permission policy is the
parent's in the child's mode with extra deny rules, and extra allow rules only from a forked skill that may
pre-approve (deny rules, ask rules and the mode's limits still come first). Used by `features.subagents`, which
re-exports every name here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pydantic_ai import Agent
from pydantic_ai.messages import AgentStreamEvent, FunctionToolResultEvent, ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.run import AgentRun
from pydantic_ai.toolsets import AbstractToolset
from pydantic_ai.usage import RunUsage

from tau.config.spec import PermissionMode
from tau.errors import ConfigError
from tau.permissions import AskAnswer, Asker, AskRequest, Emit, PermissionPolicy, parse_rules, permission_layer
from tau.runtime.budget import Budget
from tau.runtime.features.agent_defs import AgentDefinition
from tau.sessions import FileSessionStore, SessionStore, StepRecord
from tau.tools import ToolLimits, build_toolset

if TYPE_CHECKING:
    from tau.sessions.postgres import PostgresSessionStore

__all__ = [
    "ChildRecorder",
    "ChildRequest",
    "ChildSession",
    "ChildSteps",
    "MakeChildAgent",
    "child_agent_factory",
    "child_asker",
    "child_session_id",
    "child_sessions",
]


@dataclass(frozen=True)
class ChildRequest:
    """What `make_child_agent` builds an agent for.

    `tools` is every tool name the child may see (tau names; `task` included when it may delegate) — a factory may
    offer more, the runner hides the rest. `toolsets` must be added to the child's agent (its own `task` tool).
    `model` None inherits `parent_model` (the delegating run's model). `deny_asks`: the definition asked for
    `dontAsk`, so calls the policy would ask about are denied. `deny_rules` are extra permission deny rules;
    `allow_rules` extra allow rules (a forked skill's `allowed-tools`, when it may pre-approve: deny and ask rules
    and the mode's limits still come first). `derived_tools` are built-in tools the parent lacks but its tools
    imply (`ls` from `read`, `multi_edit` from `edit`), built for the child by the factory."""

    definition: AgentDefinition
    tools: frozenset[str]
    permission_mode: PermissionMode
    deny_asks: bool
    deny_rules: tuple[str, ...]
    model: str | None
    parent_model: Model | None
    depth: int
    session_id: str
    toolsets: tuple[AbstractToolset[None], ...] = ()
    allow_rules: tuple[str, ...] = ()
    derived_tools: frozenset[str] = frozenset()


MakeChildAgent = Callable[[ChildRequest], Agent[None, Any]]


def child_asker(asker: Asker, *, deny_asks: bool) -> Asker:
    """The parent's asker for a child: a child cannot suspend (its output is text), and `dontAsk` denies."""

    async def ask(request: AskRequest) -> AskAnswer:
        if deny_asks:
            return "This subagent runs in dontAsk mode: calls that need approval are denied."
        answer = await asker(request)
        if answer is None:
            return "A subagent cannot wait for approval; do this without the call or report what you need."
        return answer

    return ask


def child_agent_factory(
    *,
    toolsets: Sequence[AbstractToolset[None]],
    policy: PermissionPolicy,
    asker: Asker,
    emit_permission: Emit,
    model_for: Callable[[str], Model] | None = None,
    instructions: Sequence[str] = (),
    capabilities: Sequence[Any] = (),
    limits: ToolLimits | None = None,
) -> MakeChildAgent:
    """A `make_child_agent` over the parent's pieces: its toolsets (filtered to the child's tools), its permission
    policy in the child's mode (plus the definition's deny rules and the request's allow rules), its asker (see
    `child_asker`), its model (or `model_for(definition.model)`), shared `instructions`, then the definition's prompt
    and its preloaded skills. Derived tools (`request.derived_tools`) are built with `limits`."""

    def make(request: ChildRequest) -> Agent[None, Any]:
        extra_deny = parse_rules(request.deny_rules, workspace=policy.workspace, home=policy.home)
        extra_allow = parse_rules(request.allow_rules, workspace=policy.workspace, home=policy.home)
        child_policy = replace(
            policy,
            mode=request.permission_mode,
            deny=(*policy.deny, *extra_deny),
            allow=(*policy.allow, *extra_allow),
        )
        layer = permission_layer(
            child_policy, asker=child_asker(asker, deny_asks=request.deny_asks), emit=emit_permission
        )
        if request.model is not None and model_for is not None:
            chosen: Model | None = model_for(request.model)
        else:
            chosen = request.parent_model
        allowed = request.tools
        filtered: list[AbstractToolset[None]] = [
            toolset.filtered(lambda ctx, tool_def: tool_def.name in allowed) for toolset in toolsets
        ]
        if request.derived_tools:
            filtered.append(build_toolset(sorted(request.derived_tools), limits=limits or ToolLimits()))
        definition = request.definition
        return Agent(
            chosen,
            instructions=[*instructions, definition.prompt, *definition.preloaded],
            toolsets=[*filtered, *request.toolsets],
            capabilities=[*capabilities, layer.capability],
            output_type=str,
            retries={"tools": 3, "output": 3},
            name=definition.name,
        )

    return make


def child_session_id(parent: str, call_id: str) -> str:
    """`<parent>.task-<call_id>` (a valid session id: unsafe characters become '-', long ids are hashed)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", call_id).strip(".-") or "call"
    session_id = f"{parent}.task-{safe}"
    if len(session_id) <= 128:
        return session_id
    digest = hashlib.sha256(f"{parent}\0{call_id}".encode()).hexdigest()[:16]
    return f"{parent[:100]}.task-{digest}"


@dataclass
class ChildRecorder:
    """Commits a child run to the store step by step, like the driver does for a top-level run."""

    store: SessionStore
    session_id: str
    head: str | None = None
    committed: int = 0
    step: int = 0
    usage_committed: dict[str, int] = field(default_factory=dict[str, int])
    finished: bool = False

    async def begin(self, config: Mapping[str, Any]) -> None:
        base = self.session_id
        for attempt in range(1, 6):
            try:
                self.head = await self.store.begin(self.session_id, config)
                return
            except ConfigError:
                if attempt == 5:
                    raise
                self.session_id = f"{base}-{attempt + 1}"  # the id exists (a resumed parent reuses call ids)

    async def commit(self, messages: Sequence[ModelMessage], status: str, usage: RunUsage) -> None:
        added = list(messages[self.committed :])
        if not added and status == "running":
            return
        now = {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "requests": usage.requests,
            "tool_calls": usage.tool_calls,
        }
        delta = {key: value - self.usage_committed.get(key, 0) for key, value in now.items()}
        self.usage_committed = now
        self.step += 1
        record = StepRecord(self.step, added, status=status, usage={k: v for k, v in delta.items() if v})
        self.head = await self.store.commit(self.session_id, record)
        self.committed = len(messages)


@dataclass
class ChildSteps:
    """A child run's `loop.StepObserver`: each step committed by its `recorder` before the next model request, its
    `budget` checked then (its error ends the child: no finalize turn, the parent gets the last text), its usage
    and tool outcomes recorded. `messages` holds what the child reached, also after it raised."""

    recorder: ChildRecorder
    usage: RunUsage
    budget: Budget
    messages: list[ModelMessage] = field(default_factory=list[ModelMessage])

    async def before_request(self, run: AgentRun[None, Any]) -> None:
        await self.recorder.commit(run.all_messages(), "running", self.usage)
        cap = self.budget.exhausted()
        if cap is not None:
            raise cap
        self.budget.record_turn()

    async def after_response(self, run: AgentRun[None, Any]) -> None:
        cost = self.usage.cost
        tokens = self.usage.input_tokens + self.usage.output_tokens
        self.budget.record_usage(tokens=tokens, cost_usd=float(cost) if cost is not None else None)

    def on_event(self, event: AgentStreamEvent) -> None:
        if isinstance(event, FunctionToolResultEvent):
            self.budget.record_tool_result(ok=event.part.outcome == "success")

    async def after_result(self, run: AgentRun[None, Any], event: FunctionToolResultEvent) -> None:
        self.on_event(event)  # a child's finished results are committed with its next step only (docs/decisions.md)

    async def after_tools(self, run: AgentRun[None, Any]) -> None:
        return None

    def on_enter(self, run: AgentRun[None, Any]) -> None:
        return None

    def on_exit(self, run: AgentRun[None, Any]) -> None:
        self.messages = run.all_messages()


# -- listing child sessions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildSession:
    """A child session found in a file store (what `tau sessions log` shows under the parent)."""

    session_id: str
    agent: str
    description: str
    parent_session: str
    parent_snapshot: str | None
    call_id: str
    status: str
    head: str


def child_sessions(store: FileSessionStore | PostgresSessionStore, parent_session: str) -> list[ChildSession]:
    """The direct child sessions of `parent_session` in a file or Postgres store (blocking; run it in a thread)."""
    found: list[ChildSession] = []
    prefix = f"{parent_session}.task-"
    for session_id in sorted(store.refs.sessions()):
        if not session_id.startswith(prefix):
            continue
        head_id = store.head(session_id)
        head = store.snapshot(head_id)
        root = store.snapshot(head.root or head_id)
        info = store.config(root.config).get("subagent")
        if not isinstance(info, dict) or info.get("parent_session") != parent_session:
            continue  # a grandchild, or a session that merely shares the prefix
        found.append(
            ChildSession(
                session_id=session_id,
                agent=str(info.get("agent", "")),
                description=str(info.get("description", "")),
                parent_session=parent_session,
                parent_snapshot=info.get("parent_snapshot") or None,
                call_id=str(info.get("parent_call_id", "")),
                status=head.status,
                head=head_id,
            )
        )
    return found
