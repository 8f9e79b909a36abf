"""`load_job`: prompt source + config layers + environment + flags -> one frozen `JobSpec`, or one ConfigError.

The prompt comes from exactly one of: a job file (`tau run FILE`: frontmatter + markdown body), stdin (`tau run -`:
parsed like a job file, relative paths against `cwd`), or `-p TEXT` (taken verbatim, no frontmatter). Variables
(`{{ name }}`) are filled in the prompt and in `instructions` from `vars:` defaults (config files, then frontmatter)
overridden by `--var name=value` flags.

The workspace is the frontmatter/config/flag `cwd` if set (relative to the declaring file's directory), else the
process cwd — not the job file's directory, so `tau run ~/jobs/review.md` works on the directory you are in.
`environment: docker` is valid in the schema but rejected here until the docker backend lands
(`SUPPORTED_ENVIRONMENTS`). There is no default model: one must come from some layer.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tau.config.assemble import LOCAL, assemble_layers
from tau.config.jobfile import JobDocument, parse_job_text, read_job_file, render_template
from tau.config.layers import (
    FRONTMATTER,
    PROJECT,
    USER,
    Layer,
    build_layer,
    env_layer,
    flags_layer,
    merge_layers,
    origin_of,
)
from tau.config.models import resolve_model
from tau.config.paths import is_dir, user_path
from tau.config.setting_errors import config_error
from tau.config.settings import VAR_NAME
from tau.config.spec import JobSpec, ModelSpec
from tau.errors import ConfigError

SUPPORTED_ENVIRONMENTS: tuple[str, ...] = ("host", "docker")
STDIN_SOURCE = "<stdin>"
PROMPT_SOURCE = "<-p>"


def read_document(job_path: str | None, prompt_text: str | None, stdin_text: str | None, cwd: Path) -> JobDocument:
    """The prompt document from exactly one source; `job_path == "-"` (or only `stdin_text`) means stdin."""
    if prompt_text is not None and job_path is not None:
        raise ConfigError("give either a job file (or '-') or -p TEXT, not both", source="-p")
    if prompt_text is not None:
        return parse_job_text(prompt_text, source=PROMPT_SOURCE, base_dir=cwd, frontmatter=False)
    if job_path == "-" or (job_path is None and stdin_text is not None):
        return parse_job_text(stdin_text or "", source=STDIN_SOURCE, base_dir=cwd)
    if job_path is None:
        raise ConfigError("no prompt: give a job file, '-' to read stdin, or -p TEXT", source="tau run")
    return read_job_file(job_path, cwd=cwd)


def parse_var_flags(values: object) -> dict[str, str]:
    """`--var name=value` (repeatable; a mapping is accepted too) -> {name: value}."""
    if isinstance(values, Mapping):
        pairs = [(str(name), str(value)) for name, value in values.items()]
    elif isinstance(values, str):
        pairs = [_split_var(values)]
    elif isinstance(values, Sequence):
        pairs = [_split_var(str(item)) for item in values]
    else:
        raise ConfigError(f"expected name=value, got {values!r}", source="--var")
    for name, _ in pairs:
        if not VAR_NAME.fullmatch(name):
            raise ConfigError(f"invalid variable name {name!r}: use letters, digits, '_' and '-'", source="--var")
    return dict(pairs)


def _split_var(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep:
        raise ConfigError(f"expected name=value, got {item!r}", source="--var")
    return name.strip(), value


def _variables(settings: Mapping[str, Any], flags: Mapping[str, Any]) -> dict[str, str]:
    defaults = {name: value for name, value in settings.get("vars", {}).items() if value is not None}
    given = flags.get("vars")
    return {**defaults, **(parse_var_flags(given) if given else {})}


def _model(settings: Mapping[str, Any], layers: Sequence[Layer], env: Mapping[str, str], doc: JobDocument) -> ModelSpec:
    origin = origin_of(layers, "model")
    if not settings.get("model") or origin is None:
        problem = "no model configured: pass --model provider:name, set TAU_MODEL, or set model in the job or config"
        raise ConfigError(problem, source=doc.source, field="model")
    source, _ = origin
    return resolve_model(settings["model"], settings=settings, env=env, base_dir=doc.base_dir, source=source)


def _environment(settings: Mapping[str, Any], layers: Sequence[Layer], cwd: Path) -> dict[str, Any]:
    sandbox = dict(settings.get("sandbox", {}))
    kind = "docker" if sandbox.get("container") else settings.get("environment", "host")
    if kind not in SUPPORTED_ENVIRONMENTS:
        source = (origin_of(layers, "environment") or ("", cwd))[0]
        raise ConfigError(f"{kind} environment is not available yet", source=source, field="environment")
    workspace = settings.get("cwd") or str(cwd)
    if not is_dir(Path(workspace)):
        source = (origin_of(layers, "cwd") or ("", cwd))[0]
        raise ConfigError(f"workspace directory {workspace!r} does not exist", source=source, field="cwd")
    return {"kind": kind, "workspace": workspace, "sandbox": sandbox}


def _instructions(settings: Mapping[str, Any], layers: Sequence[Layer], variables: Mapping[str, str]) -> str | None:
    text = settings.get("instructions")
    if not text:
        return None
    source = (origin_of(layers, "instructions") or ("", Path()))[0]
    return render_template(text, variables, source=source, field="instructions")


def _record_path(record: object, cwd: Path) -> str | None:
    """`--record FILE`: checked before the run starts by writing a probe file next to it (the cassette is written
    there as a temp file renamed over FILE), so a bad path never costs a run. FILE must be new or a regular file."""
    if not record:
        return None
    path = user_path(str(record), base_dir=cwd, source="--record")
    if is_dir(path):
        raise ConfigError(f"{path} is a directory; give a file name for the cassette", source="--record")
    if os.path.lexists(path) and not (path.is_file() and not path.is_symlink()):
        raise ConfigError(f"{path} exists and is not a regular file; give a new file name", source="--record")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise ConfigError(f"cannot write a cassette at {path}: {error.strerror or error}", source="--record") from None
    return str(path)


def _run_flags(flags: Mapping[str, Any], cwd: Path) -> dict[str, Any]:
    return {
        "record_path": _record_path(flags.get("record"), cwd),
        "session_id": str(flags["session_id"]) if flags.get("session_id") else None,
    }


def load_job(
    *,
    job_path: str | None = None,
    prompt_text: str | None = None,
    stdin_text: str | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str],
    cwd: Path,
) -> JobSpec:
    """Resolve one run. `flags` uses `layers.FLAG_PATHS` keys plus `vars`, `record`, `session_id`; `env` and `cwd`
    stand for the process environment and working directory (injected so that tests are hermetic)."""
    cwd = cwd.resolve()
    flags = flags or {}
    document = read_document(job_path, prompt_text, stdin_text, cwd)
    assembly = assemble_layers(
        front=build_layer(FRONTMATTER, document.source, document.base_dir, document.frontmatter),
        env_layer=env_layer(env, cwd),
        flags_layer=flags_layer(flags, cwd),
        env=env,
        cwd=cwd,
        trust_flag=bool(flags.get("trust_workspace")),
    )
    layers = assembly.layers
    settings = merge_layers(layers)
    variables = _variables(settings, flags)
    prompt = render_template(document.body, variables, source=document.source).strip()
    if not prompt:
        raise ConfigError("empty prompt", source=document.source, field="prompt")
    data: dict[str, Any] = {
        "source": document.source,
        "prompt": prompt,
        "instructions": _instructions(settings, layers, variables),
        "model": _model(settings, layers, env, document),
        "permissions": settings.get("permissions", {}),
        "limits": settings.get("limits", {}),
        "output": settings.get("output", {}),
        "environment": _environment(settings, layers, cwd),
        "vars": variables,
        "env": settings.get("env", {}),
        "memory": settings.get("memory", {}),
        "skills": settings.get("skills", {}),
        "mcp": settings.get("mcp", {}),
        "hooks": settings.get("hooks", {}),
        "telemetry": settings.get("telemetry", {}),
        "compaction": settings.get("compaction", {}),
        "checkpoints": settings.get("checkpoints", {}),
        "subagents": settings.get("subagents", {}),
        "plan": settings.get("plan", {}),
        "home": env.get("HOME") or None,
        "config_sources": [layer.source for layer in layers if layer.name in (USER, PROJECT, LOCAL)],
        "trust": {
            "root": assembly.trust.root,
            "trusted": assembly.trust.trusted,
            "via": assembly.trust.via,
            "problem": "" if assembly.trust.trusted else assembly.trust.problem,
        },
        "notices": assembly.notices,
        **_run_flags(flags, cwd),
    }
    if "tools" in settings:
        data["tools"] = settings["tools"]
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, root=JobSpec, source=document.source) from None
