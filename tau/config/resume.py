"""`resume_job`: the JobSpec of a run that continues a stored session (`tau resume`, `tau fork`).

The session's snapshots store the job as `JobSpec.model_dump(mode="json")`, which leaves out secrets (the model's
`api_key`, the `env` table). A resumed run is that stored job, with:

- the prompt replaced (`prompt`; None keeps the stored one, which the runtime does not send again);
- credentials and `env` re-resolved from the *current* environment and config files: `load_job` runs once more
  with the stored model ref and workspace as flags (so a missing API key is the usual one-line ConfigError, exit 2);
- the CLI flags of this invocation applied on top, field by field (permission rules are appended, as in layering).

The stored job is the base, not the config files: settings that came from the original job file's frontmatter
(instructions, memory, hooks, sandbox, ...) survive a resume on another machine that lacks the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tau.config.loader import load_job
from tau.config.spec import JobSpec
from tau.errors import ConfigError

RESUME_SOURCE = "<resume>"
_LIMIT_FLAGS = (
    "max_turns",
    "max_tool_calls",
    "max_consecutive_failures",
    "max_tokens",
    "max_usd",
    "timeout",
    "idle_timeout",
    "tool_timeout",
)


def stored_job(config: Mapping[str, Any], *, source: str) -> JobSpec:
    """The JobSpec a snapshot's config object holds (without its secrets)."""
    try:
        return JobSpec.model_validate(dict(config), by_name=True, by_alias=True)
    except ValidationError as error:
        raise ConfigError(
            f"the session's stored job config is not valid for this tau ({error.error_count()} errors)", source=source
        ) from None


def resume_job(
    config: Mapping[str, Any],
    *,
    prompt: str | None,
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    cwd: Path,
    source: str = RESUME_SOURCE,
) -> JobSpec:
    """The job of a run continuing a session whose snapshot stored `config` (see the module docstring).

    `flags` are this invocation's flags as `load_job` takes them (only the ones given).
    """
    base = stored_job(config, source=source)
    given = {key: value for key, value in flags.items() if value is not None and value not in ((), [], False)}
    fresh_flags: dict[str, Any] = dict(given)
    fresh_flags.setdefault("model", base.model.ref)
    fresh_flags.setdefault("cwd", base.environment.workspace)
    fresh_flags.pop("session_id", None)
    fresh = load_job(prompt_text=prompt or base.prompt, flags=fresh_flags, env=env, cwd=cwd)

    same_model = "model" not in given and "base_url" not in given
    live = {"api_key": fresh.model.api_key, "base_url": fresh.model.base_url or base.model.base_url}
    model = base.model.model_copy(update=live) if same_model else fresh.model
    update: dict[str, Any] = {
        "model": model,
        "env": fresh.env,
        "home": fresh.home,
        "source": source if prompt is not None else base.source,
        "prompt": fresh.prompt if prompt is not None else base.prompt,
        "session_id": None,
        "record_path": fresh.record_path,
        "trust": fresh.trust,  # decided now: a workspace trusted (or revoked) since the session began counts
        "notices": fresh.notices,
        "telemetry": fresh.telemetry,  # where this process exports, not where the session's first run did
    }
    if "vars" in given:
        update["vars"] = {**base.vars, **fresh.vars}
    for key in ("tools", "instructions"):
        if key in given:
            update[key] = getattr(fresh, key)
    sections = {
        "permissions": _permissions(base, fresh, given),
        "limits": _section(base.limits, fresh.limits, {key: key for key in _LIMIT_FLAGS}, given),
        "output": _section(
            base.output, fresh.output, {"output": "format", "output_schema": ("schema_", "schema_source")}, given
        ),
        "environment": _environment(base, fresh, given),
        "mcp": _mcp(base, fresh, given),
    }
    update.update({key: value for key, value in sections.items() if value is not None})
    return base.model_copy(update=update)


def _section(
    base: BaseModel, fresh: BaseModel, fields: Mapping[str, str | tuple[str, ...]], given: Mapping[str, Any]
) -> Any:
    """`base` with the fields the given flags set taken from `fresh`; None if no flag touches it."""
    update: dict[str, Any] = {}
    for flag, names in fields.items():
        if flag in given:
            for name in (names,) if isinstance(names, str) else names:
                update[name] = getattr(fresh, name)
    return base.model_copy(update=update) if update else None


def _permissions(base: JobSpec, fresh: JobSpec, given: Mapping[str, Any]) -> Any:
    update: dict[str, Any] = {}
    if "permission_mode" in given:
        update["mode"] = fresh.permissions.mode
    if "on_ask" in given:
        update["on_ask"] = fresh.permissions.on_ask
    for key in ("allow", "ask", "deny"):  # appended, as layers append rules
        if key in given:
            update[key] = (*getattr(base.permissions, key), *[str(rule) for rule in given[key]])
    return base.permissions.model_copy(update=update) if update else None


def _environment(base: JobSpec, fresh: JobSpec, given: Mapping[str, Any]) -> Any:
    update: dict[str, Any] = {}
    if "cwd" in given:
        update["workspace"] = fresh.environment.workspace
    if "environment" in given or "container" in given:
        update["kind"] = fresh.environment.kind
    sandbox = _section(
        base.environment.sandbox,
        fresh.environment.sandbox,
        {"container": "container", "keep_sandbox": "keep", "sandbox_policy": "policy"},
        given,
    )
    if sandbox is not None:
        update["sandbox"] = sandbox
    return base.environment.model_copy(update=update) if update else None


def _mcp(base: JobSpec, fresh: JobSpec, given: Mapping[str, Any]) -> Any:
    update: dict[str, Any] = {}
    if "mcp_config" in given:
        added = fresh.mcp.config[len(fresh.mcp.config) - len(given["mcp_config"]) :]
        update["config"] = (*base.mcp.config, *added)
    if "strict_mcp_config" in given:
        update["strict"] = True
    return base.mcp.model_copy(update=update) if update else None
