"""The data of `tau doctor`: every source a run in a directory reads, with what it loads, skips and ignores.

Built from the same functions a run uses (`assemble_layers`, `load_hook_config`, `load_servers`,
`load_bootstrap_memory`), so the report cannot drift from what a run does. Reads files only; starts nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tau.config.trust import Trust, trust_hint

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


def _hook_sources(
    env: Mapping[str, str], workspace: Path, trust: Trust, settings: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Every hook handler per file, loaded or skipped (untrusted, or `hooks.enabled = false`), plus the hook
    module's warnings (handler types and events tau lacks, `disableAllHooks`) on the file they name."""
    from tau.hooks import load_hook_config

    home = Path(env["HOME"]) if env.get("HOME") else None
    compat = settings.get("compat", True) is not False
    config = load_hook_config(workspace, home=home, env=env, compat=compat, trusted=True)
    off = settings.get("enabled", True) is False
    by_file: dict[str, dict[str, Any]] = {}
    for event, groups in config.events.items():
        for group in groups:
            for handler in group.handlers:
                entry = by_file.setdefault(handler.source, {"path": handler.source, "kind": "hooks"})
                line = f"{event} {group.matcher or '*'}: {handler.command}"
                active = not off and (trust.trusted or not trust.owns(handler.source))
                why = "hooks.enabled is false" if off else "needs trust"
                entry.setdefault("loads" if active else "skips", []).append(line if active else f"{line} ({why})")
    for warning in config.warnings:
        source = next((name for name in config.sources if warning.startswith(f"{name}: ")), "hooks")
        entry = by_file.setdefault(source, {"path": source, "kind": "hooks"})
        entry.setdefault("skips", []).append(warning.removeprefix(f"{source}: "))
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
