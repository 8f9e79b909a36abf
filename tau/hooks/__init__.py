"""Hooks: Claude-Code-compatible command hooks (and embedded Python hooks) around a tau run.

Modules: `config` (sources, merge order, matchers; `ConfigError` naming the file), `rules` (the handler `if`
filter), `runner` (host subprocesses, the exit-code/JSON contract, concurrent execution combined in config order),
`session` (the events of one session, PermissionRequest in front of the asker, SubagentStart/Stop scoping),
`capability` (the pydantic-ai tool wrapper), `responses` (PostToolUse `tool_response` in Claude Code's shapes),
`transcript` (the Claude-Code-shaped JSONL transcript behind `transcript_path`). Imports only tau.protocol,
tau.errors, tau.environment, pydantic, pydantic-ai and the stdlib; never tau.permissions (see `rules` for the `if`
filter decision; PermissionRequest takes any asker shaped like `tau.permissions.Asker`).

How the runtime uses it::

    config = load_hook_config(Path(workspace), home=home, env=env, compat=compat)   # ConfigError on bad files
    transcript = TranscriptWriter(transcript_file(state_dir, sid), session_id=sid, cwd=workspace)
    hooks = hook_session(config, session_id=sid, project_dir=workspace, emit=emitter.emit, transcript=transcript,
                         registry=registry, env={**host_env, **job.env},
                         options=HookOptions(cwd=workspace, permission_mode=job.permissions.mode))
    asker = hooks.permission_asker(asker)                    # PermissionRequest hooks answer before the asker
    agent = Agent(..., capabilities=[hooks.capability, permissions.capability, ...])   # hooks outermost
    hooks.bind_history(lambda: run.all_messages())           # driver: the transcript follows the run
    context = await hooks.on_session_start("startup")        # driver; then on_user_prompt / on_stop / on_session_end
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tau.hooks.capability import HookCapability, HookToolset
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
from tau.hooks.responses import claude_tool_response, tool_output_text
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
from tau.hooks.session import DEFAULT_MAX_STOP_BLOCKS, HookSession, PromptVerdict, StopVerdict
from tau.hooks.transcript import TranscriptWriter, transcript_file

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
    "HookOptions",
    "HookOutcome",
    "HookRegistry",
    "HookRunner",
    "HookSession",
    "HookToolset",
    "MatcherGroup",
    "PromptVerdict",
    "RuleMatcher",
    "StopVerdict",
    "TranscriptWriter",
    "claude_tool_response",
    "compile_matcher",
    "hook_session",
    "hook_sources",
    "load_hook_config",
    "match_value",
    "merge_sources",
    "rule_applies",
    "tool_output_text",
    "transcript_file",
]


@dataclass(frozen=True)
class HookOptions:
    """How a hook session reports and decides, beyond where it runs: the payloads' `cwd`, `transcript_path` (when no
    transcript writer gives one) and `permission_mode`; `rule_matcher` (permission-rule `if` conditions),
    `max_stop_blocks` (Stop hooks that may block in a row), `ask_metadata_key`, `subagent_id` (a `task` call id ->
    its child session id, for SubagentStop payloads) and `notice` (one-line operator notices)."""

    cwd: str = ""
    transcript_path: str = ""
    permission_mode: str = "default"
    rule_matcher: RuleMatcher | None = None
    max_stop_blocks: int = DEFAULT_MAX_STOP_BLOCKS
    ask_metadata_key: str | None = "tau_permission"
    subagent_id: Callable[[str], str] | None = None
    notice: Callable[[str], object] | None = None


def hook_session(
    config: HookConfig,
    *,
    session_id: str,
    project_dir: str,
    emit: Emit | None = None,
    registry: HookRegistry | None = None,
    env: Mapping[str, str] | None = None,
    transcript: TranscriptWriter | None = None,
    options: HookOptions | None = None,
) -> HookSession:
    """The hooks of one session. `env` None = hook commands inherit tau's environment (plus the project dirs);
    the runtime passes the host environment with the settings `env` on top. `transcript` (its path becomes every
    payload's `transcript_path`, over `options.transcript_path`) is kept current before each hook runs."""
    options = options or HookOptions()
    context = HookContext(
        session_id=session_id,
        project_dir=project_dir,
        cwd=options.cwd,
        transcript_path=str(transcript.path) if transcript is not None else options.transcript_path,
        permission_mode=options.permission_mode,
    )
    runner = HookRunner(
        config, context=context, registry=registry, emit=emit, env=env, rule_matcher=options.rule_matcher
    )
    return HookSession(
        runner,
        max_stop_blocks=options.max_stop_blocks,
        ask_metadata_key=options.ask_metadata_key,
        transcript=transcript,
        subagent_id=options.subagent_id,
        notice=options.notice,
    )
