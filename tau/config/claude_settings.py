"""Claude-Code-style settings files (`settings.json`) as settings layers: permissions, env and MCP approvals.

Files, lowest precedence first (Claude Code's order: user < project < local < command line):

- user: `~/.claude/settings.json` (Claude Code's own), then `$XDG_CONFIG_HOME/tau/settings.json`
  (else `~/.config/tau/settings.json`);
- project: `<workspace>/.claude/settings.json`, then `<workspace>/.tau/settings.json`;
- local: `<workspace>/.claude/settings.local.json`.

Keys read (translated to tau's settings schema, then validated like any layer, errors naming the file):
`permissions.{allow, ask, deny}` (rule lists, appended), `permissions.defaultMode` (`dontAsk` is tau's `default`:
a headless ask is already a denial), `permissions.additionalDirectories`, `env`, `enableAllProjectMcpServers`,
`enabledMcpjsonServers`, `disabledMcpjsonServers`. `hooks` and `disableAllHooks` belong to `tau.hooks` (read there),
except in Claude Code's own user file `~/.claude/settings.json`, whose hooks tau does not run (user hooks live in tau's
`settings.json`): there they are reported like the keys tau does not implement. Every other key is reported as not
implemented (`SettingsFile.unsupported`) — `tau doctor` and a run notice list them, so nothing is dropped silently.
Which of these a repository's file may apply is `trust_keys`' decision. `written_key` names tau's keys as a settings
file writes them (`permissions.mode` -> `permissions.defaultMode`) for notices and `tau doctor`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tau.errors import ConfigError

__all__ = ["HOOK_KEYS", "SettingsFile", "read_settings_file", "settings_paths", "written_key"]

Scope = Literal["user", "project", "local"]
HOOK_KEYS = frozenset({"hooks", "disableAllHooks"})
_PERMISSION_KEYS = {"allow": "allow", "ask": "ask", "deny": "deny", "defaultMode": "mode"}
_MODES = {"default": "default", "acceptEdits": "acceptEdits", "plan": "plan", "bypassPermissions": "bypassPermissions"}
_MODES["dontAsk"] = "default"
_MCP_KEYS = {
    "enableAllProjectMcpServers": "enable_all_project",
    "enabledMcpjsonServers": "enabled_project",
    "disabledMcpjsonServers": "disabled_project",
}
_WRITTEN = {
    "permissions.mode": "permissions.defaultMode",
    "permissions.additional_directories": "permissions.additionalDirectories",
    **{f"mcp.{ours}": theirs for theirs, ours in _MCP_KEYS.items()},
}


def written_key(dotted: str) -> str:
    """A key of tau's schema as a settings file writes it (`permissions.mode` -> `permissions.defaultMode`), so
    notices and `tau doctor` name what the user sees in the file."""
    for ours, theirs in _WRITTEN.items():
        if dotted == ours or dotted.startswith(ours + "."):
            return theirs + dotted[len(ours) :]
    return dotted


@dataclass(frozen=True)
class SettingsFile:
    """One settings file: its scope, the layer data it contributes (tau's schema), and what tau does not read."""

    path: Path
    scope: Scope
    layer: Mapping[str, Any]
    unsupported: tuple[str, ...] = ()
    hooks: bool = False  # it configures hooks (read by tau.hooks)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


def settings_paths(workspace: Path, *, home: Path | None, env: Mapping[str, str]) -> list[tuple[Path, Scope]]:
    """Every settings file a run in `workspace` would read, in precedence order (existing or not)."""
    paths: list[tuple[Path, Scope]] = []
    if home is not None:
        paths.append((home / ".claude" / "settings.json", "user"))
    xdg = env.get("XDG_CONFIG_HOME", "")
    if xdg and Path(xdg).is_absolute():
        paths.append((Path(xdg) / "tau" / "settings.json", "user"))
    elif home is not None:
        paths.append((home / ".config" / "tau" / "settings.json", "user"))
    paths += [
        (workspace / ".claude" / "settings.json", "project"),
        (workspace / ".tau" / "settings.json", "project"),
        (workspace / ".claude" / "settings.local.json", "local"),
    ]
    return paths


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data_bytes = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror or error}", source=str(path)) from None
    try:
        text = data_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", source=str(path)) from None
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ConfigError(f"invalid JSON: {' '.join(str(error).split())[:200]}", source=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("must be a JSON object", source=str(path))
    return data


def _permissions(raw: object, path: Path, unsupported: list[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError("`permissions` must be an object", source=str(path), field="permissions")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("allow", "ask", "deny"):
            out[key] = value
        elif key == "defaultMode":
            if not isinstance(value, str) or value not in _MODES:
                modes = ", ".join(sorted(_MODES))
                raise ConfigError(
                    f"unknown mode {value!r} (one of {modes})", source=str(path), field=f"permissions.{key}"
                )
            out["mode"] = _MODES[value]
        elif key == "additionalDirectories":
            out["additional_directories"] = value
        else:
            unsupported.append(f"permissions.{key}")
    return out


def read_settings_file(path: Path, scope: Scope) -> SettingsFile | None:
    """The file's layer data (not yet validated) and its unsupported keys; None when it does not exist or is empty.

    Raises:
        ConfigError: unreadable, not UTF-8, invalid JSON, or a malformed `permissions` table — naming the file.
    """
    data = _load(path)
    if data is None:
        return None
    layer: dict[str, Any] = {}
    unsupported: list[str] = []
    runs_hooks = not (scope == "user" and path.parent.name == ".claude")  # tau.hooks reads no ~/.claude/settings.json
    for key, value in data.items():
        if key == "permissions":
            permissions = _permissions(value, path, unsupported)
            if permissions:
                layer["permissions"] = permissions
        elif key == "env":
            layer["env"] = value
        elif key in _MCP_KEYS:
            layer.setdefault("mcp", {})[_MCP_KEYS[key]] = value
        elif (key not in HOOK_KEYS or not runs_hooks) and key != "$schema":
            unsupported.append(key)
    hooks = runs_hooks and any(key in data for key in HOOK_KEYS)
    return SettingsFile(path, scope, layer, tuple(unsupported), hooks, data)
