"""Settings layers and how they merge: defaults < user config < project config < frontmatter < TAU_* env < CLI flags.

Sources (all read through injected `env` and `cwd`; nothing here looks at `os.environ` or the process cwd):

- user config: `$XDG_CONFIG_HOME/tau/config.toml`, else `$HOME/.config/tau/config.toml` (skipped if neither is set);
- project config: the nearest `.tau/config.toml` walking up from `cwd`, stopping below `$HOME` (so `~/.tau` is never
  mistaken for a project);
- frontmatter of the job document (built by the loader);
- `TAU_*` environment variables (`ENV_VARS`; empty values count as unset, unknown `TAU_*` names are ignored because
  other parts of tau own some);
- CLI flags: a flat dict from the CLI (`FLAG_PATHS` keys; `None` and empty sequences mean "not given").

Merge rules: tables merge deeply; `permissions.allow/ask/deny` lists are appended (a higher layer cannot remove a lower
layer's rule — deny still beats allow); every other value, including lists such as `tools` and the `output.schema`
object, is replaced. Relative paths in a layer (`cwd`, `output.schema`) resolve against the layer's `base_dir`: the
config file's directory for `config.toml` (so `cwd = ".."` in `.tau/config.toml` means the project root), the job
file's directory for frontmatter, and `cwd` for environment variables and flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau.config.documents import load_toml
from tau.config.jobfile import read_text_file
from tau.config.output_schema import load_schema
from tau.config.paths import is_file, user_path
from tau.config.settings import validate_layer
from tau.config.telemetry import OTEL_PATHS, OTEL_VARS
from tau.errors import ConfigError

USER = "user"
PROJECT = "project"
FRONTMATTER = "frontmatter"
ENV = "env"
FLAGS = "flags"

# Flat settings shared by TAU_* variables and CLI flags -> their path in the settings schema.
FLAG_PATHS: dict[str, tuple[str, ...]] = {
    "model": ("model",),
    "base_url": ("base_url",),
    "instructions": ("instructions",),
    "tools": ("tools",),
    "output": ("output", "format"),
    "output_schema": ("output", "schema"),
    "permission_mode": ("permissions", "mode"),
    "on_ask": ("permissions", "on_ask"),
    "allow": ("permissions", "allow"),
    "ask": ("permissions", "ask"),
    "deny": ("permissions", "deny"),
    "max_turns": ("limits", "max_turns"),
    "max_tool_calls": ("limits", "max_tool_calls"),
    "max_consecutive_failures": ("limits", "max_consecutive_failures"),
    "max_tokens": ("limits", "max_tokens"),
    "max_usd": ("limits", "max_usd"),
    "timeout": ("limits", "timeout"),
    "idle_timeout": ("limits", "idle_timeout"),
    "tool_timeout": ("limits", "tool_timeout"),
    "environment": ("environment",),
    "cwd": ("cwd",),
    "mcp_config": ("mcp", "config"),
    "container": ("sandbox", "container"),
    "keep_sandbox": ("sandbox", "keep"),
    "sandbox_policy": ("sandbox", "policy"),
    "strict_mcp_config": ("mcp", "strict"),
    **OTEL_PATHS,  # the standard OpenTelemetry variables (`OTEL_VARS`), no CLI flags
}
# Flags that are not settings: handled by the loader.
RUN_FLAGS: frozenset[str] = frozenset({"vars", "record", "session_id", "trust_workspace"})
ENV_VARS: dict[str, str] = {
    "TAU_MODEL": "model",
    "TAU_BASE_URL": "base_url",
    "TAU_INSTRUCTIONS": "instructions",
    "TAU_TOOLS": "tools",  # comma- or space-separated
    "TAU_OUTPUT": "output",
    "TAU_OUTPUT_SCHEMA": "output_schema",
    "TAU_PERMISSION_MODE": "permission_mode",
    "TAU_ON_ASK": "on_ask",
    "TAU_MAX_TURNS": "max_turns",
    "TAU_MAX_TOOL_CALLS": "max_tool_calls",
    "TAU_MAX_CONSECUTIVE_FAILURES": "max_consecutive_failures",
    "TAU_MAX_TOKENS": "max_tokens",
    "TAU_MAX_USD": "max_usd",
    "TAU_TIMEOUT": "timeout",
    "TAU_SANDBOX": "environment",
    "TAU_IDLE_TIMEOUT": "idle_timeout",
    "TAU_TOOL_TIMEOUT": "tool_timeout",
    "TAU_ENVIRONMENT": "environment",
    "TAU_SANDBOX_POLICY": "sandbox_policy",
}
_APPEND = frozenset(
    {
        ("permissions", "allow"),
        ("permissions", "ask"),
        ("permissions", "deny"),
        ("permissions", "additional_directories"),
        ("mcp", "config"),
        ("mcp", "enabled_project"),
        ("mcp", "disabled_project"),
    }
)
_REPLACE = frozenset({("output", "schema")})


@dataclass(frozen=True)
class Layer:
    """One validated layer: only the keys it set, relative paths already resolved."""

    name: str
    source: str
    base_dir: Path
    data: Mapping[str, Any]
    origins: Mapping[str, str] = field(default_factory=dict)  # dotted key -> more precise source (a flag, a variable)

    def origin(self, dotted: str) -> str:
        return self.origins.get(dotted, self.source)


@dataclass(frozen=True)
class ConfigFiles:
    user: Path | None
    project: Path | None

    def existing(self) -> list[tuple[str, Path]]:
        return [(name, path) for name, path in ((USER, self.user), (PROJECT, self.project)) if path is not None]


def user_config_path(env: Mapping[str, str]) -> Path | None:
    """Where the user config would be (it may not exist)."""
    xdg = env.get("XDG_CONFIG_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "tau" / "config.toml"
    home = env.get("HOME", "")
    return Path(home) / ".config" / "tau" / "config.toml" if home else None


def project_config_path(cwd: Path, env: Mapping[str, str]) -> Path | None:
    """The nearest existing `.tau/config.toml` from `cwd` up, not looking at `$HOME` or above it."""
    home = Path(env["HOME"]).resolve() if env.get("HOME") else None
    for directory in (cwd, *cwd.parents):
        if home is not None and (directory == home or directory in home.parents):
            return None
        candidate = directory / ".tau" / "config.toml"
        if is_file(candidate):
            return candidate
    return None


def find_config_files(env: Mapping[str, str], cwd: Path) -> ConfigFiles:
    """The config files that exist and would be loaded (for `--verbose` and the first event)."""
    user = user_config_path(env)
    return ConfigFiles(user=user if user is not None and is_file(user) else None, project=project_config_path(cwd, env))


def describe_sources(env: Mapping[str, str], cwd: Path) -> list[str]:
    """Human-readable list of the config files that would be loaded, lowest precedence first."""
    return [f"{name} config {path}" for name, path in find_config_files(env, cwd.resolve()).existing()]


def build_layer(
    name: str, source: str, base_dir: Path, raw: Mapping[str, Any], origins: Mapping[str, str] | None = None
) -> Layer:
    """Validate `raw`, resolve its relative paths, load its output schema; ConfigError names `source`."""
    data = validate_layer(raw, source=source, origins=origins)
    origins = dict(origins or {})

    def path(text: str, dotted: str) -> str:
        return str(user_path(text, base_dir=base_dir, source=origins.get(dotted, source), field=dotted))

    if data.get("cwd"):
        data["cwd"] = path(data["cwd"], "cwd")
    permissions = data.get("permissions", {})
    if permissions.get("additional_directories"):
        dirs = [path(d, "permissions.additional_directories") for d in permissions["additional_directories"]]
        data["permissions"] = {**permissions, "additional_directories": dirs}
    sandbox = data.get("sandbox", {})
    if sandbox.get("writable_roots"):
        roots = [path(root, "sandbox.writable_roots") for root in sandbox["writable_roots"]]
        data["sandbox"] = {**sandbox, "writable_roots": roots}
    mcp = data.get("mcp", {})
    if mcp.get("config"):  # file paths relative to the declaring file; inline JSON ('{...}') as given
        entries = [e if e.lstrip().startswith("{") else path(e, "mcp.config") for e in mcp["config"]]
        data["mcp"] = {**mcp, "config": entries}
    output = data.get("output", {})
    if "schema" in output and output["schema"] is None:
        data["output"] = {**output, "schema_source": None}  # `schema: null` clears a lower layer's schema
    elif output.get("schema") is not None:
        schema_origin = origins.get("output.schema", source)
        schema, schema_source = load_schema(output["schema"], base_dir=base_dir, source=schema_origin)
        data["output"] = {**output, "schema": schema, "schema_source": schema_source}
    return Layer(name=name, source=source, base_dir=base_dir, data=data, origins=origins)


def read_config_file(name: str, path: Path) -> Layer:
    text = read_text_file(path, source=str(path), what="config file")
    return build_layer(name, str(path), path.parent, load_toml(text, source=str(path)))


def config_file_layers(env: Mapping[str, str], cwd: Path) -> list[Layer]:
    return [read_config_file(name, path) for name, path in find_config_files(env, cwd).existing()]


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = FLAG_PATHS[key]
        target = nested
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return nested


def env_layer(env: Mapping[str, str], cwd: Path) -> Layer:
    """The `TAU_*` variables of `ENV_VARS` and the OpenTelemetry ones of `OTEL_VARS`, as a layer; errors name the
    variable."""
    names = {**ENV_VARS, **OTEL_VARS}
    flat = {key: env[var] for var, key in names.items() if env.get(var, "").strip()}
    origins = {".".join(FLAG_PATHS[key]): var for var, key in names.items() if key in flat}
    return build_layer(ENV, "environment", cwd, _nest(flat), origins)


def _flag_name(key: str) -> str:
    return "--" + key.replace("_", "-")


def flags_layer(flags: Mapping[str, Any], cwd: Path) -> Layer:
    """CLI flags (already parsed by the CLI) as a layer; errors name the flag, e.g. `--max-turns`."""
    given = {key: value for key, value in flags.items() if value is not None and value not in ((), [])}
    unknown = sorted(set(given) - set(FLAG_PATHS) - RUN_FLAGS)
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r}", source=_flag_name(unknown[0]))
    flat = {
        key: list(value) if isinstance(value, tuple) else value for key, value in given.items() if key in FLAG_PATHS
    }
    origins = {".".join(FLAG_PATHS[key]): _flag_name(key) for key in flat}
    return build_layer(FLAGS, "command line", cwd, _nest(flat), origins)


def merge(base: Mapping[str, Any], over: Mapping[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """`over` on top of `base`: tables deep-merged, permission rule lists appended (deduplicated), the rest replaced."""
    merged = dict(base)
    for key, value in over.items():
        here = (*path, key)
        if here in _APPEND:
            merged[key] = list(dict.fromkeys([*merged.get(key, []), *value]))
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and here not in _REPLACE:
            merged[key] = merge(merged[key], value, here)
        else:
            merged[key] = value
    return merged


def merge_layers(layers: Sequence[Layer]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = merge(merged, layer.data)
    return merged


def origin_of(layers: Sequence[Layer], dotted: str) -> tuple[str, Path] | None:
    """(source, base_dir) of the highest layer that set `dotted` (e.g. `"model"`, `"limits.max_turns"`)."""
    for layer in reversed(layers):
        data: Any = layer.data
        for part in dotted.split("."):
            data = data.get(part) if isinstance(data, Mapping) else None
        if data is not None:
            return layer.origin(dotted), layer.base_dir
    return None
