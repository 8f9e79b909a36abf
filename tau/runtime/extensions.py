"""Run extensions the agent factory composes from a JobSpec: workspace checkpoints, compaction and the `task` tool.

Each is built here from its config section so `agent.py` stays a plain composition:
- checkpoints (`checkpoints.enabled`): a `CheckpointRecorder` writing into the session store's objects (or memory),
  pinned by every committed step; the agent factory wraps the run's toolsets in its `CheckpointToolset`;
- compaction (`compaction.strategy`, not `off`): shrinks what the model is sent past `threshold` of the window;
  PreCompact hooks run first;
- tracing (`tau.telemetry`, when on): pydantic-ai's instrumentation, for the run's agent and every subagent;
- subagents (`subagents.max_depth` > 0 and at least one definition): the `task` tool, whose children reuse the
  parent's toolsets, permission policy, asker, hooks and (unless the definition names another) model; the same
  runner runs the skills with `context: fork` (`tau.runtime.features.skill_activation`), also when no definition exists.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.models import Model
from pydantic_ai.toolsets import AbstractToolset

from tau.checkpoints.recorder import CheckpointLimits, CheckpointRecorder
from tau.config import resolve_model
from tau.config.spec import JobSpec
from tau.hooks import HookSession
from tau.models.build import build_model
from tau.permissions import PermissionPolicy
from tau.runtime.emitter import Emitter
from tau.runtime.features.agent_defs import AgentDefinition
from tau.runtime.features.compaction import compaction_capability
from tau.runtime.features.skill_activation import skill_forks
from tau.runtime.features.subagents import (
    SubagentLimits,
    child_agent_factory,
    subagent_runner,
    task_tool,
    tool_notice,
)
from tau.runtime.setup import RunServices
from tau.sessions import SessionStore
from tau.sessions.checkpoints import MemoryObjects
from tau.telemetry import tracer
from tau.tools import ToolLimits


def checkpoint_recorder(
    job: JobSpec, store: SessionStore, emitter: Emitter, parent: str | None
) -> CheckpointRecorder | None:
    if not job.checkpoints.enabled:
        return None
    spec = job.checkpoints
    limits = CheckpointLimits(
        max_files=spec.max_files, max_file_bytes=spec.max_file_bytes, max_total_bytes=spec.max_total_bytes
    )
    objects = store.checkpoint_objects() or MemoryObjects()  # a store without checkpoint objects: this run's memory
    return CheckpointRecorder(objects, parent=parent, limits=limits, on_warning=emitter.emit_notice)


def inner_capabilities(job: JobSpec, emitter: Emitter, hooks: HookSession | None) -> list[AbstractCapability[Any]]:
    """Compaction (when on); it runs inside hooks and permissions. Tracing's (when on) places itself outermost."""
    capabilities: list[AbstractCapability[Any]] = [*tracer().capabilities()]
    if job.compaction.strategy != "off":
        pre_compact = (lambda: hooks.on_pre_compact("auto")) if hooks is not None else None
        capabilities.append(
            compaction_capability(
                job.compaction.strategy,
                job.compaction.threshold,
                job.model.capabilities.context_window,
                emitter.send,
                keep_last=job.compaction.keep_last,
                pre_compact=pre_compact,
            )
        )
    return capabilities


def _untrusted_models_dropped(
    job: JobSpec, definitions: Sequence[AgentDefinition], notices: list[str]
) -> Sequence[AgentDefinition]:
    """An untrusted repository's agent definitions run on the parent's model: their `model:` could name any provider,
    and the child's conversation (and the user's key for that provider) would go where the repository chose."""
    if job.trust.trusted:
        return definitions
    dropped = [d.name for d in definitions if d.scope == "project" and d.model]
    if dropped:
        names = ", ".join(sorted(dropped))
        notices.append(
            f"untrusted workspace: the model of project agent(s) {names} is not used (they run on this run's model); "
            "trust the workspace (`tau trust`) to use it"
        )
    return [dataclasses.replace(d, model=None) if d.scope == "project" and d.model else d for d in definitions]


def task_toolset(
    services: RunServices,
    *,
    toolsets: Sequence[AbstractToolset[None]],
    tool_names: Sequence[str],
    policy: PermissionPolicy,
    instructions: Sequence[str],
) -> AbstractToolset[None] | None:
    """The `task` tool over the run's agent definitions (None without any), and the skill binding's `fork` bound to
    the same runner. Children are built from `toolsets`, `tool_names`, `policy` and `instructions` (the parent's,
    without its own `task` and `ask_user`). Notices (untrusted models dropped, tools a definition will not get) go to
    the context's warnings, which the first event's notices follow."""
    job, context, hooks = services.job, services.context, services.hooks
    skills = context.skill_binding  # its `context: fork` skills run on the same subagent machinery
    forks = skills is not None and any(skill.meta.fork for skill in skills.catalog.skills)
    if not (context.agents or forks) or job.subagents.max_depth <= 0:
        return None
    notices = context.warnings
    definitions = _untrusted_models_dropped(job, context.agents, notices)
    if (notice := tool_notice(definitions, tool_names)) is not None:
        notices.append(notice)
    host_env = services.host_env

    def model_for(ref: str) -> Model:
        spec = resolve_model(
            ref, settings={}, env={**host_env, **job.env}, base_dir=Path(job.source).parent, source=f"subagent {ref}"
        )
        return build_model(spec, workspace=job.environment.workspace)

    make_child = child_agent_factory(
        toolsets=toolsets,
        policy=policy,
        asker=services.asker,
        emit_permission=services.emitter.emit_permission,
        model_for=model_for,
        instructions=instructions,
        capabilities=[*([hooks.capability] if hooks is not None else []), *tracer().capabilities()],
        limits=ToolLimits.from_spec(job.limits),
    )
    on_stop: Callable[..., Any] | None = hooks.on_subagent_stop if hooks is not None else None
    spec = job.subagents
    runner = subagent_runner(
        definitions,
        parent=replace(services.parent, mode=job.permissions.mode, tools=frozenset(tool_names)),
        make_child_agent=make_child,
        store=services.store,
        limits=SubagentLimits(spec.max_depth, spec.max_turns, spec.max_result_chars),
        emit=services.emitter.send,
        on_subagent_stop=on_stop,
    )
    if skills is not None:
        skills.fork = skill_forks(runner, runner.definitions, trusted=job.trust.trusted)
    return task_tool(runner) if definitions else None
