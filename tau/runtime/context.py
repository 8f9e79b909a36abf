"""Run context: what a run knows and opens before its first step — memory, skills, hooks and MCP servers.

Composes `tau.memory` and `tau.skills` (siblings that do not import each other) into the pieces the agent factory
needs: instruction parts in order (bootstrap memory, skill listing, then the job's own instructions, then working
memory), extra toolsets (`memory`, `skill`), what the first event reports, and warnings to emit as notices.
Host reads happen here, before the run (they are configuration, not tool operations); the working-memory index is
read through the run's workspace, once, before the first step (`load_working_memory`), so the prompt prefix stays
stable between steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_ai.toolsets import AbstractToolset
from pydantic_ai.workspaces import WorkspaceBackend

from tau import __version__
from tau.config.spec import JobSpec
from tau.config.trust import trust_hint
from tau.hooks import (
    HookOptions,
    HookRegistry,
    HookSession,
    TranscriptWriter,
    hook_session,
    load_hook_config,
    transcript_file,
)
from tau.mcp import McpLaunch, McpSession, ProjectApproval, open_mcp
from tau.memory import (
    load_bootstrap_memory,
    load_memory_index,
    memory_toolset,
    render_working_memory,
)
from tau.memory.bootstrap import find_project_root
from tau.memory.ondemand import OnDemandMemory
from tau.protocol import McpServerInfo
from tau.runtime.emitter import Emitter
from tau.runtime.features.agent_defs import AgentDefinition, discover_agents
from tau.runtime.features.skill_activation import preapproval, preload_skills, untrusted_notice
from tau.runtime.features.subagents import child_session_id
from tau.runtime.workspace import OpenedWorkspace
from tau.skills import SkillBinding, discover_skills, listing_budget, listing_warning, skills_toolset


@dataclass
class ContextParts:
    before_job: list[str] = field(default_factory=list)  # bootstrap memory, skill listing
    after_job: list[str] = field(default_factory=list)  # working memory
    toolsets: list[AbstractToolset[None]] = field(default_factory=list)
    tool_names: list[str] = field(default_factory=list)
    memory_files: list[str] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    mcp: list[McpServerInfo] = field(default_factory=list)
    agents: tuple[AgentDefinition, ...] = ()
    skill_binding: SkillBinding | None = None  # the skill tool's catalog and activation (filled in by the runtime)
    warnings: list[str] = field(default_factory=list)
    on_demand: OnDemandMemory | None = None  # rules with `paths:` and nested memory, loaded as file tools touch paths


async def load_working_memory(job: JobSpec, workspace: WorkspaceBackend) -> str | None:
    """The working-memory index (`INDEX.md`), read through the run's workspace; None when off or absent."""
    if not job.memory.working:
        return None
    return await load_memory_index(workspace, job.memory.dir)


def gather_context(job: JobSpec, *, memory_index: str | None = None) -> ContextParts:
    parts = ContextParts()
    parts.warnings.extend(job.notices)
    workspace = job.environment.workspace
    home = job.home or ""
    root = find_project_root(workspace, home=home or None)
    if job.memory.enabled:
        boot = load_bootstrap_memory(
            cwd=workspace,
            home=home,
            compat=job.memory.compat,
            max_bytes=job.memory.max_bytes,
            project_root=root,
            trusted=job.trust.trusted,
        )
        if boot.files:
            parts.before_job.append(boot.render())
        parts.memory_files.extend(f.path for f in boot.files)
        parts.warnings.extend(boot.warnings)
        parts.on_demand = OnDemandMemory.after(boot, cwd=workspace, home=home, trusted=job.trust.trusted)
    if job.skills.enabled:
        catalog = discover_skills(
            cwd=workspace, home=home, project_root=root, workspace_root=workspace, confined=not job.trust.trusted
        )
        budget = listing_budget(job.model.capabilities.context_window)
        listing, omitted = catalog.render_listing(budget)
        if listing:
            parts.before_job.append(listing)
        parts.skills.extend(s.name for s in catalog.model_skills)
        parts.warnings.extend(catalog.warnings)
        if (warning := listing_warning(omitted, budget)) is not None:
            parts.warnings.append(warning)
        parts.skill_binding = SkillBinding(catalog, activate=preapproval(trusted=job.trust.trusted))
        if (notice := untrusted_notice(catalog, trusted=job.trust.trusted, root=job.trust.root)) is not None:
            parts.warnings.append(notice)
        if catalog.model_skills:
            parts.toolsets.append(skills_toolset(catalog, binding=parts.skill_binding))
            parts.tool_names.append("skill")
    if job.subagents.max_depth > 0:
        agents = discover_agents(
            workspace,
            home=home or None,
            project_root=root,
            model_aliases=job.subagents.models,
            confined=not job.trust.trusted,
        )
        skills = parts.skill_binding.catalog if parts.skill_binding is not None else None
        parts.agents, preload_warnings = preload_skills(agents.definitions, skills)
        parts.warnings.extend([*agents.warnings, *preload_warnings])
    if job.memory.working:
        parts.after_job.append(render_working_memory(memory_index, job.memory.dir))
        if memory_index is not None:
            parts.memory_files.append(f"{job.memory.dir}/INDEX.md")
        parts.toolsets.append(memory_toolset(job.memory.dir))
        parts.tool_names.append("memory")
    return parts


def open_hooks(
    job: JobSpec,
    session_id: str,
    emitter: Emitter,
    host_env: Mapping[str, str],
    registry: HookRegistry | None,
    parts: ContextParts,
    *,
    state_dir: Callable[[], Path] | None = None,
) -> HookSession | None:
    """The session's hooks (`.tau/settings.json`, user settings, and Claude/Codex files when `hooks.compat`).

    Hook commands get the host environment with the settings `env` (`job.env`) on top, as tool commands do; the
    session's transcript is `<state_dir()>/transcripts/<session>.jsonl`, asked for only when there are hooks
    (`state_dir` None: no transcript file)."""
    if not job.hooks.enabled:
        return None
    workspace = job.environment.workspace
    config = load_hook_config(
        Path(workspace),
        home=Path(job.home) if job.home else None,
        env=host_env,
        compat=job.hooks.compat,
        trusted=job.trust.trusted,
    )
    parts.warnings.extend(config.warnings)
    if config.skipped:
        files = ", ".join(config.skipped)
        parts.warnings.append(f"untrusted workspace: did not run hooks from {files} — {trust_hint(job.trust.root)}")
    if not config.events and registry is None:
        return None
    transcript = None
    if state_dir is not None:
        path = transcript_file(state_dir(), session_id)
        transcript = TranscriptWriter(path, session_id=session_id, cwd=workspace, version=__version__)
    return hook_session(
        config,
        session_id=session_id,
        project_dir=workspace,
        emit=emitter.emit,
        registry=registry,
        env={**host_env, **job.env},
        transcript=transcript,
        options=HookOptions(
            cwd=workspace,
            permission_mode=job.permissions.mode,
            subagent_id=lambda call_id: child_session_id(session_id, call_id),
            notice=emitter.emit_notice,
        ),
    )


async def open_servers(
    job: JobSpec,
    host_env: Mapping[str, str],
    cwd: Path,
    parts: ContextParts,
    *,
    sandbox: OpenedWorkspace | None = None,
) -> McpSession:
    """Start the job's MCP servers; their tools join `parts.toolsets` (named `mcp__server__tool`). In the docker
    sandbox, stdio servers run inside the container unless their config says `host: true`."""
    container = None
    if sandbox is not None and sandbox.info.kind == "docker" and sandbox.info.container:
        container = (sandbox.info.container, await sandbox.backend.working_dir())
    approval = ProjectApproval(
        trusted=job.trust.trusted,
        enable_all=job.mcp.enable_all_project,
        enabled=job.mcp.enabled_project,
        disabled=job.mcp.disabled_project,
    )
    session = await open_mcp(
        job.mcp.config,
        strict=job.mcp.strict,
        env={**host_env, **job.env},
        cwd=cwd,
        approval=approval,
        launch=McpLaunch(container=container),
    )
    parts.toolsets.extend(session.toolsets)
    parts.tool_names.extend(session.tool_names)
    parts.mcp.extend(session.infos)
    parts.warnings.extend(session.warnings)
    untrusted = [i.name for i in session.infos if i.status == "disabled" and i.error and "untrusted" in i.error]
    if untrusted:
        names = ", ".join(untrusted)
        parts.warnings.append(
            f"untrusted workspace: did not start project MCP servers {names} — {trust_hint(job.trust.root)}"
        )
    return session
