"""The data of `tau doctor`: every source a run in a directory reads, with what it loads, skips and ignores.

Built from the same functions a run uses (`assemble_layers`, `load_hook_config`, `load_servers`,
`load_bootstrap_memory`), so the report cannot drift from what a run does. Reads files only; starts nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tau.config.trust import Trust, trust_hint

if TYPE_CHECKING:
    from tau.hooks import HookConfig

__all__ = ["gather"]


def _keys(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            out += _keys(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}")
    return out


def _layer_sources(
    env: Mapping[str, str], workspace: Path, trust_flag: bool
) -> tuple[Trust, dict[str, Any], list[dict[str, Any]]]:
    """The trust verdict, the merged settings (as a run resolves them) and one entry per config or settings file."""
    from tau.config.assemble import assemble_layers
    from tau.config.claude_settings import written_key
    from tau.config.layers import FRONTMATTER, build_layer, env_layer, flags_layer, merge_layers

    assembly = assemble_layers(
        front=build_layer(FRONTMATTER, "<none>", workspace, {}),
        env_layer=env_layer(env, workspace),
        flags_layer=flags_layer({}, workspace),
        env=env,
        cwd=workspace,
        trust_flag=trust_flag,
    )
    sources: dict[str, dict[str, Any]] = {}
    settings_files = {str(found.path) for found in assembly.settings_files}
    for layer in assembly.layers:
        if layer.name in ("user", "project", "local"):
            entry = sources.setdefault(layer.source, {"path": layer.source, "kind": f"{layer.name} settings"})
            keys = _keys(layer.data)
            entry["loads"] = [written_key(key) for key in keys] if layer.source in settings_files else keys
    for item in assembly.skipped:
        entry = sources.setdefault(item.source, {"path": item.source, "kind": "project settings"})
        entry.setdefault("skips", []).append(f"{item.key} ({item.reason})")
    for found in assembly.settings_files:
        entry = sources.setdefault(str(found.path), {"path": str(found.path), "kind": f"{found.scope} settings"})
        entry["ignores"] = [f"{key} (not implemented by tau)" for key in found.unsupported]
    return assembly.trust, merge_layers(assembly.layers), list(sources.values())


_Add = Callable[[str, str, str], None]


def _hook_lines(config: HookConfig) -> list[tuple[str, str]]:
    """(source file, `Event matcher: command`) of every handler of `config`."""
    return [
        (handler.source, f"{event} {group.matcher or '*'}: {handler.command}")
        for event, groups in config.events.items()
        for group in groups
        for handler in group.handlers
    ]


def _disabler(sources: Sequence[str]) -> str:
    """The hook file that sets `disableAllHooks` (its warning names none)."""
    for name in sources:
        try:
            data = json.loads(Path(name).read_bytes())
        except (OSError, ValueError, RecursionError):
            continue
        if isinstance(data, dict) and data.get("disableAllHooks") is True:
            return name
    return "hooks"


def _untrusted_hooks(skipped: Sequence[str], add: _Add) -> None:
    """The project's own hook files a run does not read (untrusted), each read alone only to list what it holds."""
    from tau.errors import ConfigError
    from tau.hooks import merge_sources

    for source in skipped:
        try:
            data = json.loads(Path(source).read_bytes())
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            config = merge_sources([(source, {k: v for k, v in data.items() if k != "disableAllHooks"})])
        except (OSError, ValueError, RecursionError, ConfigError) as error:
            add(source, "skips", f"hooks (needs trust; not readable: {error})")
            continue
        for _, line in _hook_lines(config):
            add(source, "skips", f"{line} (needs trust)")
        for warning in config.warnings:
            add(source, "skips", warning.removeprefix(f"{source}: "))
        if data.get("disableAllHooks") is True:
            add(source, "skips", "disableAllHooks (needs trust)")


def _hook_sources(
    env: Mapping[str, str], workspace: Path, trust: Trust, settings: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Every hook handler per file: loaded as a run loads them, or skipped (`hooks.enabled = false`, untrusted), plus
    the hook module's warnings (handler types and events tau lacks, `disableAllHooks`) on the file they concern."""
    from tau.hooks import load_hook_config

    home = Path(env["HOME"]) if env.get("HOME") else None
    compat = settings.get("compat", True) is not False
    off = settings.get("enabled", True) is False
    by_file: dict[str, dict[str, Any]] = {}

    def add(source: str, label: str, line: str) -> None:
        by_file.setdefault(source, {"path": source, "kind": "hooks"}).setdefault(label, []).append(line)

    run = load_hook_config(workspace, home=home, env=env, compat=compat, trusted=trust.trusted)
    for source, line in _hook_lines(run):
        add(source, "skips" if off else "loads", f"{line} (hooks.enabled is false)" if off else line)
    for warning in run.warnings:
        named = next((name for name in run.sources if warning.startswith(f"{name}: ")), None) or _disabler(run.sources)
        add(named, "skips", warning.removeprefix(f"{named}: "))
    _untrusted_hooks(run.skipped, add)
    return list(by_file.values())


def _mcp_sources(
    env: Mapping[str, str], workspace: Path, trust: Trust, settings: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The servers a run would configure (project `.mcp.json` under trust and Claude Code's approval keys, and
    `mcp.config` files), each loaded or skipped with the reason. Nothing is started."""
    from tau.mcp import ProjectApproval, load_servers

    approval = ProjectApproval(
        trusted=trust.trusted,
        enable_all=settings.get("enable_all_project"),
        enabled=tuple(settings.get("enabled_project", ())),
        disabled=tuple(settings.get("disabled_project", ())),
    )
    configs = tuple(settings.get("config", ()))
    strict = settings.get("strict", False) is True
    servers = load_servers(configs, strict=strict, env=env, cwd=workspace, approval=approval)
    by_file: dict[str, dict[str, Any]] = {}
    for server in servers:
        entry = by_file.setdefault(server.source, {"path": server.source, "kind": "MCP servers"})
        if server.disabled:
            entry.setdefault("skips", []).append(f"{server.name} ({server.note or 'disabled'})")
        else:
            entry.setdefault("loads", []).append(f"{server.name} ({server.transport})")
    return list(by_file.values())


def _memory_sources(env: Mapping[str, str], workspace: Path, trust: Trust) -> list[dict[str, Any]]:
    from tau.memory import find_project_root, load_bootstrap_memory

    home = env.get("HOME", "")
    root = find_project_root(str(workspace), home=home or None)
    memory = load_bootstrap_memory(cwd=str(workspace), home=home, project_root=root, trusted=trust.trusted)
    entry: dict[str, Any] = {"path": root, "kind": "memory files"}
    entry["loads"] = [f"{f.path} ({f.bytes} bytes{', truncated' if f.truncated else ''})" for f in memory.files]
    entry["skips"] = list(memory.warnings)
    return [entry] if entry["loads"] or entry["skips"] else []


def gather(workspace: Path, env: Mapping[str, str], *, trust_flag: bool = False) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    trust, settings, sources = _layer_sources(env, workspace, trust_flag)
    sources += _hook_sources(env, workspace, trust, settings.get("hooks", {}))
    sources += _mcp_sources({**env, **settings.get("env", {})}, workspace, trust, settings.get("mcp", {}))
    sources += _memory_sources(env, workspace, trust)
    verdict = {
        "root": trust.root,
        "trusted": trust.trusted,
        "verdict": trust.describe(),
        "hint": "" if trust.trusted else trust_hint(trust.root),
    }
    return {"workspace": str(workspace), "trust": verdict, "sources": sources}
