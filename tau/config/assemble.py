"""The layers of one run, in order, with the repository's layers filtered by workspace trust.

One layering rule, lowest precedence first::

    built-in defaults
    < user:    ~/.config/tau/config.toml, ~/.claude/settings.json, ~/.config/tau/settings.json
    < project: .tau/config.toml (nearest from the cwd up), <workspace>/.claude/settings.json, .tau/settings.json
    < local:   <workspace>/.claude/settings.local.json
    < the job file's frontmatter < TAU_* variables < command-line flags

— except that a layer the repository controls (project and local files under the root of an untrusted workspace) may
only tighten: `trust_keys.restrict_layer` keeps what tightens and reports the rest. The job file named on the command
line is the user's own choice (like a script they run) and is not filtered; `tau run -p` in a clone reads no job file.
An untrusted project config's `output` table (needs trust as a whole) is dropped before its layer is built, since
building reads `output.schema` files: naming a file outside the repository must not make tau read or quote it.

Two passes, because the workspace (and so which repository's files apply) can come from any layer's `cwd`: the
first merge without settings files finds the workspace, then its settings files are read and the layers merged again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tau.config.claude_settings import SettingsFile, read_settings_file, settings_paths, written_key
from tau.config.documents import load_toml
from tau.config.jobfile import read_text_file
from tau.config.layers import (
    PROJECT,
    USER,
    Layer,
    build_layer,
    merge_layers,
    project_config_path,
    read_config_file,
    user_config_path,
)
from tau.config.trust import NEVER_TRUSTED, Trust, TrustStore, decide_trust, trust_hint
from tau.config.trust_keys import Skipped, restrict_layer

__all__ = ["Assembly", "assemble_layers"]

LOCAL = "local"


@dataclass
class Assembly:
    """The run's layers in precedence order, the workspace's trust, and the notices to show at run start."""

    layers: list[Layer]
    trust: Trust
    workspace: Path
    notices: list[str] = field(default_factory=list)
    settings_files: list[SettingsFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _user_layers(env: Mapping[str, str]) -> list[Layer]:
    path = user_config_path(env)
    return [read_config_file(USER, path)] if path is not None and path.is_file() else []


def _restricted(layer: Layer, below: Sequence[Layer], trust: Trust) -> tuple[Layer, list[Skipped]]:
    data, skipped = restrict_layer(layer.data, merge_layers(below), source=layer.source, trusted=trust.trusted)
    return Layer(layer.name, layer.source, layer.base_dir, data, layer.origins), skipped


def _project_config(path: Path, trust: Trust) -> tuple[list[Skipped], Layer]:
    """The project config file as a layer. Untrusted, its `output` table (needs trust as a whole) is dropped
    *before* the layer is built: building loads `output.schema` files, and a repository must not make tau read
    (and quote in an error) a file outside it just by naming it."""
    if trust.trusted:
        return [], read_config_file(PROJECT, path)
    raw = load_toml(read_text_file(path, source=str(path), what="config file"), source=str(path))
    output = raw.pop("output", None)
    keys = [f"output.{key}" for key in output] if isinstance(output, dict) else [] if output is None else ["output"]
    return [Skipped(key, str(path), "needs trust") for key in keys], build_layer(PROJECT, str(path), path.parent, raw)


def _settings_layer(found: SettingsFile) -> Layer:
    name = {"user": USER, "project": PROJECT, "local": LOCAL}[found.scope]
    return build_layer(name, str(found.path), found.path.parent.parent, found.layer)


def assemble_layers(
    *,
    front: Layer,
    env_layer: Layer,
    flags_layer: Layer,
    env: Mapping[str, str],
    cwd: Path,
    trust_flag: bool = False,
    store: TrustStore | None = None,
) -> Assembly:
    """All layers of a run (see the module docstring). ConfigError for any malformed source, naming it."""
    home = Path(env["HOME"]) if env.get("HOME") else None
    store = store or TrustStore.for_env(env)
    user = _user_layers(env)
    listed = [str(w) for layer in user for w in layer.data.get("trusted_workspaces", [])]
    skipped: list[Skipped] = []
    project: list[Layer] = []
    project_path = project_config_path(cwd, env)
    if project_path is not None:
        project_trust = decide_trust(project_path.parent.parent, env=env, flag=trust_flag, listed=listed, store=store)
        early, raw = _project_config(project_path, project_trust)
        layer, dropped = _restricted(raw, user, project_trust)
        project.append(layer)
        skipped += early + dropped
    top = [front, env_layer, flags_layer]
    first = merge_layers([*user, *project, *top])
    workspace = Path(first.get("cwd") or cwd)
    trust = decide_trust(workspace, env=env, flag=trust_flag, listed=listed, store=store)
    files: list[SettingsFile] = []
    user_settings: list[Layer] = []
    repo_settings: list[Layer] = []
    for path, scope in settings_paths(workspace, home=home, env=env):
        found = read_settings_file(path, scope)
        if found is None:
            continue
        files.append(found)
        layer = _settings_layer(found)
        if scope == "user":
            user_settings.append(layer)
            continue
        layer, dropped = _restricted(layer, [*user, *user_settings, *project, *repo_settings], trust)
        repo_settings.append(layer)
        skipped += [replace(item, key=written_key(item.key)) for item in dropped]
    layers = [*user, *user_settings, *project, *repo_settings, *top]
    assembly = Assembly(layers, trust, workspace, settings_files=files, skipped=skipped)
    assembly.notices = _notices(assembly)
    return assembly


def _notices(assembly: Assembly) -> list[str]:
    notices: list[str] = []
    by_source: dict[str, dict[str, list[str]]] = {}
    for item in assembly.skipped:
        by_source.setdefault(item.source, {}).setdefault(item.reason, []).append(item.key)
    hint = trust_hint(assembly.trust.root)
    if not assembly.trust.trusted and assembly.trust.problem != NEVER_TRUSTED:
        # it was trusted once (`tau trust`) and is not any more: say why, whatever else is skipped
        notices.append(f"untrusted workspace: {assembly.trust.root}: {assembly.trust.problem} — {hint}")
    for source, reasons in by_source.items():
        user_only = reasons.pop("user only", [])
        if user_only:
            notices.append(f"{source}: {', '.join(user_only)} can only be set in the user config; ignored")
        if reasons:
            parts = [f"{', '.join(keys)} ({reason})" for reason, keys in reasons.items()]
            notices.append(f"untrusted workspace: ignored from {source}: {'; '.join(parts)} — {hint}")
    for found in assembly.settings_files:
        if found.unsupported:
            keys = ", ".join(found.unsupported)
            notices.append(f"{found.path}: settings tau does not implement, ignored: {keys}")
    return notices


def settings_summary(assembly: Assembly) -> dict[str, Any]:
    """For `tau doctor`: per settings file, what it sets and what it skips."""
    return {str(f.path): {"scope": f.scope, "unsupported": list(f.unsupported)} for f in assembly.settings_files}
