"""CreateSession requests -> a validated session job, and one `JobSpec` per Run: the RPC face of `tau.config`.

A session's job is resolved once, at CreateSession, through `config.load_job` — the same layering as `tau run`
(defaults < user config < project config < job frontmatter < TAU_* env < request fields, the request standing in for
CLI flags) — so an invalid job is an INVALID_ARGUMENT before anything runs. The job comes from exactly one of: inline
`job_text` (a job file: frontmatter + markdown body), a preset (`<presets_dir>/<name>.md`), or none (settings only).
Its body, if any, is the default prompt of `Run`; a Run's own prompt is taken verbatim (no `{{ var }}` expansion).

Context entries (bootstrap context, and InjectContext entries that arrive between runs) are rendered as tagged
blocks: bootstrap context joins the system instructions of every run, queued entries prefix the next prompt.
Environment variables and the working directory are injected (`env`, `cwd`); nothing here reads the process state.

Environments map onto the job's `environment` settings as `tau run` flags would: host -> the workspace; docker ->
`--sandbox docker` plus `sandbox.image` (empty: tau's own image, `tau sandbox build`); an existing container ->
`--container NAME` (its `workspace` is the host directory bind-mounted into it; tau finds where from the container's
mounts). `workspace` is always an absolute host path; empty means the server's workspace. Whether the daemon, the
image or the container exist is checked when a run starts (preflight failure, exit 3).

`on_ask`: a server has no terminal, so an `ask` either is denied or suspends the run for a client's `Respond`. The
request's `permissions.on_ask` wins; else the job document's frontmatter, else `TAU_ON_ASK` in the server's
environment; else RPC sessions suspend (`DEFAULT_ON_ASK`), which overrides `on_ask` in config files (an interactive
`tty` setting there would mean deny here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from tau.config import JobSpec, load_job, resume_job, stored_job
from tau.config.jobfile import split_frontmatter
from tau.errors import ConfigError
from tau.rpc._gen import runtime_pb2 as pb

PLACEHOLDER_PROMPT = "(the prompt is given by each Run)"
DEFAULT_ON_ASK = "suspend"
PRESET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_JOB_SOURCE = "<stdin>"


@dataclass(frozen=True)
class ContextBlock:
    key: str
    content: str
    content_type: str = "text/plain"


@dataclass(frozen=True)
class SessionJob:
    """A session's resolved job. `spec.prompt` is meaningless until `for_run` fills in a run's prompt."""

    spec: JobSpec
    default_prompt: str
    context: tuple[ContextBlock, ...] = ()

    def for_run(self, prompt: str, *, session_id: str, queued: Sequence[ContextBlock] = ()) -> JobSpec:
        """The `JobSpec` of one run: the session's settings, this prompt (queued context first), the session id."""
        text = prompt if prompt.strip() else self.default_prompt
        if queued:
            text = f"{render_context(queued)}\n\n{text}"
        instructions = self.spec.instructions
        if self.context:
            instructions = "\n\n".join(part for part in (instructions, render_context(self.context)) if part)
        return self.spec.model_copy(update={"prompt": text, "session_id": session_id, "instructions": instructions})


def context_blocks(entries: Sequence[pb.ContextEntry]) -> tuple[ContextBlock, ...]:
    blocks = []
    for index, entry in enumerate(entries):
        if not entry.key.strip():
            raise ConfigError(f"context entry {index} has an empty key", field="context")
        blocks.append(ContextBlock(entry.key, entry.content, entry.content_type or "text/plain"))
    return tuple(blocks)


def render_context(blocks: Sequence[ContextBlock]) -> str:
    """Context as the model sees it: one `<context key=... content_type=...>` block per entry."""
    rendered = [
        f'<context key="{_attr(b.key)}" content_type="{_attr(b.content_type)}">\n{b.content}\n</context>'
        for b in blocks
    ]
    return "\n".join(rendered)


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _workspace(workspace: str, default: Path, field: str) -> Path:
    if not workspace:
        return default
    path = Path(workspace)
    if not path.is_absolute():
        raise ConfigError(f"workspace must be an absolute path, got {workspace!r}", field=field)
    return path


@dataclass(frozen=True)
class Placement:
    """Where a session's runs act: the workspace (`load_job`'s cwd), environment flags, the sandbox image."""

    workspace: Path
    flags: Mapping[str, str]
    image: str | None = None


def placement_of(environment: pb.Environment, default: Path) -> Placement:
    kind = environment.WhichOneof("kind")
    if kind == "docker":
        docker = environment.docker
        workspace = _workspace(docker.workspace, default, "environment.docker.workspace")
        return Placement(workspace, {"environment": "docker"}, docker.image.strip() or None)
    if kind == "container":
        container = environment.container
        if not container.container.strip():
            raise ConfigError("container is empty: give a container id or name", field="environment.container")
        workspace = _workspace(container.workspace, default, "environment.container.workspace")
        return Placement(workspace, {"container": container.container.strip()})
    host = environment.host.workspace if kind == "host" else ""
    return Placement(_workspace(host, default, "environment.host.workspace"), {})


def _with_image(spec: JobSpec, image: str | None) -> JobSpec:
    if image is None:
        return spec
    sandbox = spec.environment.sandbox.model_copy(update={"image": image})
    return spec.model_copy(update={"environment": spec.environment.model_copy(update={"sandbox": sandbox})})


def _on_ask_flag(
    request: pb.CreateSessionRequest, frontmatter: Mapping[str, Any], env: Mapping[str, str]
) -> str | None:
    """The `on_ask` flag of an RPC session (see the module docstring), None to leave the job's own."""
    if request.permissions.on_ask:
        return request.permissions.on_ask
    permissions = frontmatter.get("permissions")
    if isinstance(permissions, Mapping) and permissions.get("on_ask"):
        return None
    if env.get("TAU_ON_ASK"):
        return None
    return DEFAULT_ON_ASK


def _limit_flags(options: pb.JobOptions) -> dict[str, Any]:
    names = ("max_turns", "max_tool_calls", "max_tokens", "max_usd", "timeout", "idle_timeout")
    return {name: getattr(options, name) for name in names if options.HasField(name)}


def mcp_document(servers: Sequence[pb.McpServer]) -> str:
    """Typed MCP servers as the inline `.mcp.json` document `--mcp-config` takes (`tau.mcp.config` parses it)."""
    table: dict[str, Any] = {}
    for index, server in enumerate(servers):
        if not server.name.strip():
            raise ConfigError(f"MCP server {index} has no name", field="job.mcp_servers")
        if server.name in table:
            raise ConfigError(f"MCP server {server.name!r} is given twice", field="job.mcp_servers")
        entry: dict[str, Any] = {"type": server.type} if server.type else {}
        if server.command:
            entry.update(command=server.command, args=list(server.args))
        if server.url:
            entry["url"] = server.url
        if server.env:
            entry["env"] = dict(server.env)
        if server.headers:
            entry["headers"] = dict(server.headers)
        table[server.name] = entry
    return json.dumps({"mcpServers": table})


def request_flags(request: pb.CreateSessionRequest) -> dict[str, Any]:
    """The request's settings as `load_job` flags (only the ones given)."""
    options = request.job
    flags: dict[str, Any] = {"model": request.model or None, **_limit_flags(options)}
    if options.instructions:
        flags["instructions"] = options.instructions
    if options.tools:
        flags["tools"] = list(options.tools)
    if options.vars:
        flags["vars"] = dict(options.vars)
    if options.HasField("output_schema"):
        flags["output_schema"] = json_format.MessageToDict(options.output_schema)
    if options.mcp_servers:
        flags["mcp_config"] = [mcp_document(options.mcp_servers)]
    if options.strict_mcp:
        flags["strict_mcp_config"] = True
    permissions = request.permissions
    flags.update(
        permission_mode=permissions.mode or None,
        on_ask=permissions.on_ask or None,
        allow=list(permissions.allow),
        ask=list(permissions.ask),
        deny=list(permissions.deny),
    )
    return {key: value for key, value in flags.items() if value not in (None, [], {})}


def _job_text(request: pb.CreateSessionRequest, presets_dir: Path | None) -> tuple[str | None, str]:
    """(job document text or None, the name errors use for it)."""
    if request.preset and request.job_text:
        raise ConfigError("give either job_text or preset, not both", field="preset")
    if not request.preset:
        return (request.job_text or None), "job_text"
    if not PRESET_NAME.fullmatch(request.preset):
        raise ConfigError(f"invalid preset name {request.preset!r}", field="preset")
    if presets_dir is None:
        raise ConfigError("this server has no presets directory", field="preset")
    path = presets_dir / f"{request.preset}.md"
    if not path.is_file():
        raise LookupError(f"no preset named {request.preset!r} in {presets_dir}")
    return path.read_text(encoding="utf-8-sig"), f"preset {request.preset}"


def build_session_job(
    request: pb.CreateSessionRequest,
    *,
    env: Mapping[str, str],
    cwd: Path,
    presets_dir: Path | None = None,
) -> SessionJob:
    """Validate and resolve a CreateSession request. Raises ConfigError (INVALID_ARGUMENT) or LookupError (an
    unknown preset: NOT_FOUND)."""
    placement = placement_of(request.environment, cwd)
    workspace = placement.workspace
    text, name = _job_text(request, presets_dir)
    flags = {**request_flags(request), **placement.flags}
    default_prompt = ""
    try:
        frontmatter, body = split_frontmatter(text, source=name) if text is not None else ({}, "")
        on_ask = _on_ask_flag(request, frontmatter, env)
        if on_ask is not None:
            flags["on_ask"] = on_ask
        if text is None:
            spec = load_job(prompt_text=PLACEHOLDER_PROMPT, flags=flags, env=env, cwd=workspace)
        else:
            default_prompt = body.strip()
            stdin_text = text if default_prompt else f"{text.rstrip()}\n{PLACEHOLDER_PROMPT}\n"
            spec = load_job(job_path="-", stdin_text=stdin_text, flags=flags, env=env, cwd=workspace)
            default_prompt = spec.prompt if default_prompt else ""
    except ConfigError as error:
        if error.source == _JOB_SOURCE:
            raise ConfigError(error.problem, source=name, field=error.field) from None
        raise
    context = context_blocks(request.context)
    return SessionJob(spec=_with_image(spec, placement.image), default_prompt=default_prompt, context=context)


def job_record(job: SessionJob) -> dict[str, Any]:
    """A session job as the serve journal keeps it: the resolved config without its secrets (as a snapshot stores
    it), the default prompt and the bootstrap context."""
    return {
        "config": job.spec.model_dump(mode="json"),
        "default_prompt": job.default_prompt,
        "context": [[block.key, block.content, block.content_type] for block in job.context],
    }


def restore_session_job(record: Mapping[str, Any], *, env: Mapping[str, str], cwd: Path) -> SessionJob:
    """The job of a session a restarted server brings back: its stored config with this server's credentials and
    environment filled in as `tau resume` does (`resume_job`); when that no longer resolves (a provider's key is gone,
    say), the stored config as it is, so the session can still be read and its runs fail with a clear error.
    Raises ConfigError when the stored config is not a valid job for this tau."""
    config = record["config"]
    try:
        spec = resume_job(config, prompt=None, flags={}, env=env, cwd=cwd, source="serve journal")
    except ConfigError:
        spec = stored_job(config, source="serve journal")
    context = tuple(ContextBlock(*map(str, block)) for block in record["context"])
    return SessionJob(spec=spec, default_prompt=str(record["default_prompt"]), context=context)
