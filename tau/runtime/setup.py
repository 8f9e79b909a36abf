"""`RunSetup`: what the agent factory (`agent.build_setup`) hands the driver — the agent plus the pieces a run
reports in its events — and `ToolGate`, the switch the agent's tool filter reads (False hides every tool: the
finalize turn after a budget cap).

Contract: `agent.py` builds it, `runtime.prepare_run` completes it (environment, history, closers), `RunDriver` reads
it. `closers` are awaited last-first when the run closes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.workspaces import WorkspaceBackend

from tau.checkpoints.recorder import CheckpointRecorder
from tau.hooks import HookSession
from tau.permissions.toolset import PermissionGate
from tau.protocol import EnvironmentInfo, McpServerInfo, PermissionDenial

__all__ = ["RunSetup", "ToolGate"]


@dataclass
class ToolGate:
    """Shared switch the agent's tool filter reads: False hides every tool (the finalize turn)."""

    enabled: bool = True


@dataclass
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
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    hooks: HookSession | None = None
    environment: EnvironmentInfo | None = None
    recorder: CheckpointRecorder | None = None  # workspace checkpoints: each commit pins its current one
    permissions: PermissionGate | None = None  # re-evaluates a resumed session's unanswered pending calls
