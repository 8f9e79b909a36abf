"""Which settings a repository may set: every settings key classified once, and the filter for repository layers.

A layer the repository controls (a config or settings file under the root of an untrusted workspace) may only
**tighten**: add deny/ask rules, lower budgets, narrow tools, make the sandbox stricter, switch features off. Each key
of the settings schema (`settings.SettingsLayer`) has exactly one class in `KEYS`:

- `tighten`: applied from an untrusted repository only when the value is at least as strict as what the layers below
  it (or the built-in default) give; a looser value is skipped with a notice ("would loosen").
- `trust`: loosens, executes, redirects or reads outside (model, endpoints and key variables, allow rules, permission
  handling, working directory, tool environment, hooks, MCP servers and their config paths, state, memory and plan
  locations, sandbox image and container, output shape): applied only when the workspace is trusted.
- `user`: only the user's own config may set it (`trusted_workspaces`); ignored in any repository layer.

`tests/config/test_trust_keys.py` walks the schema and fails when a key has no class. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tau.config.spec import BUILTIN_TOOLS, SANDBOX_CPUS, SANDBOX_MEMORY, SANDBOX_NETWORK, SANDBOX_PIDS_LIMIT

__all__ = ["KEYS", "KeyRule", "Skipped", "restrict_layer", "rule_for"]

KeyClass = Literal["tighten", "trust", "user"]
Tighter = Callable[[Any, Any], bool]  # (new, old) -> new is at least as strict as old


def _number(value: Any) -> float:
    return math.inf if value is None else float(value)


def _lower(new: Any, old: Any) -> bool:
    return new is not None and _number(new) <= _number(old)


def _off(new: Any, old: Any) -> bool:
    return new is False or new == old


def _on(new: Any, old: Any) -> bool:
    return new is True or new == old


def _always(new: Any, old: Any) -> bool:
    return True  # rule lists are appended: an added deny or ask rule can only restrict


def _subset(new: Any, old: Any) -> bool:
    return isinstance(new, list | tuple) and set(new) <= set(old if old is not None else BUILTIN_TOOLS)


def _ordered(*order: object, none_is: object = None) -> Tighter:
    def tighter(new: Any, old: Any) -> bool:
        new = none_is if new is None else new
        old = none_is if old is None else old
        return new in order and old in order and order.index(new) <= order.index(old)

    return tighter


def _stricter_policy(new: Any, old: Any) -> bool:
    """`read-only` or `workspace-write` tighten the mode's own choice; `full` never does unless it was set below."""
    if new == "full":
        return bool(old == "full")
    return _ordered("read-only", "workspace-write", "full", none_is="full")(new, old)


@dataclass(frozen=True)
class KeyRule:
    kind: KeyClass
    tighter: Tighter | None = None
    default: Any = None  # the built-in value a tightening is compared with when no lower layer set the key


def _t(tighter: Tighter, default: Any = None) -> KeyRule:
    return KeyRule("tighten", tighter, default)


TRUST = KeyRule("trust")

KEYS: dict[str, KeyRule] = {
    "model": TRUST,
    "model_settings": TRUST,
    "base_url": TRUST,
    "instructions": TRUST,
    "tools": _t(_subset, list(BUILTIN_TOOLS)),
    "permissions.mode": _t(_ordered("plan", "default", "acceptEdits", "bypassPermissions"), "default"),
    "permissions.allow": TRUST,
    "permissions.ask": _t(_always),
    "permissions.deny": _t(_always),
    "permissions.on_ask": TRUST,
    "permissions.additional_directories": TRUST,
    "limits.max_turns": _t(_lower, 100),
    "limits.max_tool_calls": _t(_lower),
    "limits.max_consecutive_failures": _t(_lower, 8),
    "limits.max_tokens": _t(_lower),
    "limits.max_usd": _t(_lower),
    "limits.timeout": _t(_lower),
    "limits.idle_timeout": _t(_lower),
    "limits.tool_timeout": _t(_lower, 120.0),
    "limits.tool_output_chars": _t(_lower, 30_000),
    "limits.ask_timeout": _t(_lower),
    "output": TRUST,
    "memory.enabled": _t(_off, True),
    "memory.compat": _t(_off, True),
    "memory.max_bytes": _t(_lower, 262_144),
    "memory.dir": TRUST,
    "memory.working": _t(_off, True),
    "skills.enabled": _t(_off, True),
    "mcp.config": TRUST,
    "mcp.strict": _t(_on, False),
    "mcp.enable_all_project": TRUST,
    "mcp.enabled_project": TRUST,
    "mcp.disabled_project": _t(_always),
    "hooks": TRUST,
    "sandbox.policy": _t(_stricter_policy),
    "sandbox.network": _t(_ordered("none", "bridge"), SANDBOX_NETWORK),
    "sandbox.memory": _t(_lower, SANDBOX_MEMORY),
    "sandbox.cpus": _t(_lower, SANDBOX_CPUS),
    "sandbox.pids_limit": _t(_lower, SANDBOX_PIDS_LIMIT),
    "sandbox.writable_roots": TRUST,
    "sandbox.image": TRUST,
    "sandbox.keep": TRUST,
    "sandbox.container": TRUST,
    "sandbox.workdir": TRUST,
    "compaction": TRUST,
    "checkpoints": TRUST,
    "subagents.max_depth": _t(_lower, 2),
    "subagents.max_turns": _t(_lower, 50),
    "subagents.max_result_chars": _t(_lower, 20_000),
    "subagents.models": TRUST,
    "plan": TRUST,
    "environment": _t(_ordered("docker", "host"), "host"),
    "cwd": TRUST,
    "vars": TRUST,
    "env": TRUST,
    "models": TRUST,
    "providers": TRUST,
    "telemetry": TRUST,  # an endpoint of the repository's choosing would receive its runs' traces
    "trusted_workspaces": KeyRule("user"),
    "store": KeyRule("user"),  # a repository must not redirect where sessions are written (tau.config.store)
}


def rule_for(dotted: str) -> tuple[str, KeyRule] | None:
    """The rule of `dotted` or of its nearest classified parent table, with the key it is filed under."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end])
        if key in KEYS:
            return key, KEYS[key]
    return None


@dataclass(frozen=True)
class Skipped:
    """One setting a repository layer set that did not apply. `reason`: `needs trust`, `would loosen` or `user only`."""

    key: str
    source: str
    reason: str


def _lookup(data: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _put(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def _leaves(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(key, value) at the depth `KEYS` classifies: a table filed as a whole stays one entry."""
    out: list[tuple[str, Any]] = []
    for name, value in data.items():
        dotted = f"{prefix}{name}"
        if dotted in KEYS or not isinstance(value, Mapping):
            out.append((dotted, value))
        else:
            out.extend(_leaves(value, dotted + "."))
    return out


def restrict_layer(
    data: Mapping[str, Any], below: Mapping[str, Any], *, source: str, trusted: bool
) -> tuple[dict[str, Any], list[Skipped]]:
    """What a repository layer may contribute: its validated `data`, filtered against `below` (the merged layers
    under it). Trusted: everything but `user` keys. Untrusted: `tighten` keys that tighten, nothing else."""
    kept: dict[str, Any] = {}
    skipped: list[Skipped] = []
    for dotted, value in _leaves(data):
        found = rule_for(dotted)
        if found is None:  # pragma: no cover - the schema test keeps KEYS complete
            skipped.append(Skipped(dotted, source, "needs trust"))
            continue
        key, rule = found
        if rule.kind == "user":
            skipped.append(Skipped(dotted, source, "user only"))
        elif trusted:
            _put(kept, dotted, value)
        elif rule.kind == "trust" or rule.tighter is None:
            skipped.append(Skipped(dotted, source, "needs trust"))
        else:
            present, old = _lookup(below, key)
            if rule.tighter(value, old if present else rule.default):
                _put(kept, dotted, value)
            else:
                skipped.append(Skipped(dotted, source, "would loosen"))
    return kept, skipped
