"""Hooks: Claude-Code-compatible command hooks (and embedded Python hooks) around a tau run.

Modules: `config` (sources, merge order, matchers; `ConfigError` naming the file), `rules` (the handler `if`
filter), `runner` (host subprocesses, the exit-code/JSON contract, concurrent execution combined in config order),
`capability` (the pydantic-ai tool wrapper and the driver's calls). Imports only tau.protocol, tau.errors,
pydantic, pydantic-ai and the stdlib; never tau.permissions (see `rules` for the `if` filter decision).

How the runtime uses it::

    config = load_hook_config(Path(workspace), home=home, env=env, compat=compat)   # ConfigError on bad files
    hooks = hook_session(config, session_id=sid, project_dir=workspace, emit=emitter.emit,
                         permission_mode=job.permissions.mode, registry=registry)
    agent = Agent(..., capabilities=[hooks.capability, permissions.capability, ...])   # hooks outermost
    context = await hooks.on_session_start("startup")        # driver; then on_user_prompt / on_stop / on_session_end
"""

from __future__ import annotations

from collections.abc import Mapping

from tau.hooks.capability import (
    DEFAULT_MAX_STOP_BLOCKS,
    HookCapability,
    HookSession,
    HookToolset,
    PromptVerdict,
    StopVerdict,
)
from tau.hooks.config import (
    DEFAULT_TIMEOUT,
    EVENTS,
    CommandHandler,
    HookConfig,
    HookEvent,
    MatcherGroup,
    compile_matcher,
    hook_sources,
    load_hook_config,
    merge_sources,
)
from tau.hooks.rules import RuleMatcher, rule_applies
from tau.hooks.runner import (
    Emit,
    FunctionHandler,
    HookBlock,
    HookContext,
    HookFunction,
    HookOutcome,
    HookRegistry,
    HookRunner,
    match_value,
)

__all__ = [
    "DEFAULT_MAX_STOP_BLOCKS",
    "DEFAULT_TIMEOUT",
    "EVENTS",
    "CommandHandler",
    "Emit",
    "FunctionHandler",
    "HookBlock",
    "HookCapability",
    "HookConfig",
    "HookContext",
    "HookEvent",
    "HookFunction",
    "HookOutcome",
    "HookRegistry",
    "HookRunner",
    "HookSession",
    "HookToolset",
    "MatcherGroup",
    "PromptVerdict",
    "RuleMatcher",
    "StopVerdict",
    "compile_matcher",
    "hook_session",
    "hook_sources",
    "load_hook_config",
    "match_value",
    "merge_sources",
    "rule_applies",
]


def hook_session(
    config: HookConfig,
    *,
    session_id: str,
    project_dir: str,
    emit: Emit | None = None,
    registry: HookRegistry | None = None,
    cwd: str = "",
    transcript_path: str = "",
    permission_mode: str = "default",
    env: Mapping[str, str] | None = None,
    rule_matcher: RuleMatcher | None = None,
    max_stop_blocks: int = DEFAULT_MAX_STOP_BLOCKS,
    ask_metadata_key: str | None = "tau_permission",
) -> HookSession:
    """The hooks of one session. `env` None = hook commands inherit tau's environment (plus the project dirs)."""
    context = HookContext(
        session_id=session_id,
        project_dir=project_dir,
        cwd=cwd,
        transcript_path=transcript_path,
        permission_mode=permission_mode,
    )
    runner = HookRunner(config, context=context, registry=registry, emit=emit, env=env, rule_matcher=rule_matcher)
    return HookSession(runner, max_stop_blocks=max_stop_blocks, ask_metadata_key=ask_metadata_key)
