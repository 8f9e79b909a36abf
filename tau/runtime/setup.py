"""`RunServices`, `RunSetup` and `ToolGate`: what one run is built from, what it was built into, and the switch the
agent's tool filter reads.

`RunServices` is the run's service object: made once by `runtime.prepare_run` (the job, the emitter, the asker, the
store, the open workspace and its context, the hooks, the parent session subagents hang under, the model override,
the ask policy), then read by the agent factory (`agent.build_setup`) and the subagent tool
(`extensions.task_toolset`) instead of a dozen parameters threaded through each.

`RunSetup` is what the agent factory hands the driver: the agent plus the pieces a run reports in its events. Frozen
once built: `build_setup` receives everything it holds (environment, history, closers); the driver keeps its own copy
of the closers to pop. Shared mutable parts are the point of their own types: `gate` (the finalize turn flips it),
`permission_denials` (the permission layer appends), `hooks` (its session state).

`ToolGate.enabled` False hides every tool: the finalize turn after a budget cap. `closers` are awaited last-first when
the run closes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.workspaces import WorkspaceBackend

from tau.checkpoints.recorder import CheckpointRecorder
from tau.config.spec import JobSpec
from tau.hooks import HookSession
from tau.permissions import Asker
from tau.permissions.toolset import PermissionGate
from tau.protocol import EnvironmentInfo, McpServerInfo, PermissionDenial
from tau.sessions import SessionStore

if TYPE_CHECKING:
    from tau.runtime.context import ContextParts
    from tau.runtime.emitter import Emitter
    from tau.runtime.features.clarify import OnAsk
    from tau.runtime.features.subagents import ParentSession
    from tau.runtime.pending import Continuation

__all__ = ["Closer", "RunEntry", "RunServices", "RunSetup", "ToolGate"]

Closer = Callable[[], Awaitable[None]]


@dataclass
class ToolGate:
    """Shared switch the agent's tool filter reads: False hides every tool (the finalize turn)."""

    enabled: bool = True


@dataclass(frozen=True)
class RunEntry:
    """How a run enters its session (`prepare_run`'s `entry`): `session_id` names it (default: the job's, else a new
    uuid; a continuation needs it), `continuation` resumes it instead of beginning a new one, `history` is the
    conversation so far for a new session, `interactive` says a human is at the terminal (`--on-ask tty` asks there
    only then)."""

    session_id: str | None = None
    continuation: Continuation | None = None
    history: Sequence[ModelMessage] = ()
    interactive: bool = False


@dataclass(frozen=True)
class RunServices:
    """What one run's agent, tools and subagents are built from (see the module docstring). `model` replaces the
    spec's (tests, benchmarks, embedding); `checkpoint_parent` is the workspace pin a continued run starts from;
    `ask_policy` is how `ask_user` reaches a human."""

    job: JobSpec
    emitter: Emitter
    asker: Asker
    store: SessionStore
    workspace: WorkspaceBackend
    environment: EnvironmentInfo
    context: ContextParts
    parent: ParentSession
    host_env: Mapping[str, str] = field(default_factory=dict)
    hooks: HookSession | None = None
    model: Model | None = None
    checkpoint_parent: str | None = None
    ask_policy: OnAsk = "deny"


@dataclass(frozen=True)
class RunSetup:
    """What the agent factory hands the driver: the agent plus the pieces it reports in events."""

    agent: Agent[None, Any]
    workspace: WorkspaceBackend
    gate: ToolGate
    tool_names: Sequence[str]
    model_ref: str
    model_settings: Mapping[str, Any] = field(default_factory=dict)
    mcp: Sequence[McpServerInfo] = ()
    permission_denials: list[PermissionDenial] = field(default_factory=list)
    history: Sequence[ModelMessage] = ()
    memory_files: Sequence[str] = ()
    skills: Sequence[str] = ()
    notices: Sequence[str] = ()
    closers: Sequence[Closer] = ()
    hooks: HookSession | None = None
    environment: EnvironmentInfo | None = None
    recorder: CheckpointRecorder | None = None  # workspace checkpoints: each commit pins its current one
    permissions: PermissionGate | None = None  # re-evaluates a resumed session's unanswered pending calls
