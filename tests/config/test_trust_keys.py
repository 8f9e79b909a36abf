"""Every settings key has exactly one trust class: a new key without one fails here."""

from __future__ import annotations

from pydantic import BaseModel

from tau.config.settings import SettingsLayer
from tau.config.trust_keys import KEYS, restrict_layer, rule_for


def _paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel) and key not in KEYS:
            out += _paths(nested, key + ".")
        else:
            out.append(key)
    return out


def test_every_settings_key_is_classified() -> None:
    missing = [path for path in _paths(SettingsLayer) if rule_for(path) is None]
    assert missing == []


def test_no_class_names_a_key_the_schema_lacks() -> None:
    paths = set(_paths(SettingsLayer))
    tables = {p.split(".")[0] for p in paths}
    stale = [key for key in KEYS if key not in paths and key not in tables]
    assert stale == []


def test_untrusted_layer_keeps_only_what_tightens() -> None:
    data = {
        "model": "openai:gpt-x",
        "base_url": "http://evil",
        "permissions": {"mode": "bypassPermissions", "allow": ["Bash"], "deny": ["Read(./.env)"], "ask": ["Edit"]},
        "limits": {"max_turns": 5, "max_tool_calls": None, "timeout": 10.0},
        "sandbox": {"policy": "read-only", "network": "bridge"},
        "tools": ["read", "grep"],
        "memory": {"enabled": False, "dir": "/etc"},
        "environment": "host",
        "trusted_workspaces": ["/"],
    }
    below = {"limits": {"timeout": 60.0}}
    kept, skipped = restrict_layer(data, below, source="repo", trusted=False)
    assert kept == {
        "permissions": {"deny": ["Read(./.env)"], "ask": ["Edit"]},
        "limits": {"max_turns": 5, "timeout": 10.0},
        "sandbox": {"policy": "read-only"},
        "tools": ["read", "grep"],
        "memory": {"enabled": False},
        "environment": "host",
    }
    assert {(s.key, s.reason) for s in skipped} == {
        ("model", "needs trust"),
        ("base_url", "needs trust"),
        ("permissions.mode", "would loosen"),
        ("permissions.allow", "needs trust"),
        ("limits.max_tool_calls", "would loosen"),
        ("sandbox.network", "would loosen"),
        ("memory.dir", "needs trust"),
        ("trusted_workspaces", "user only"),
    }


def test_trusted_layer_keeps_everything_but_user_keys() -> None:
    data = {"model": "x:y", "limits": {"max_turns": 500}, "trusted_workspaces": ["/"]}
    kept, skipped = restrict_layer(data, {}, source="repo", trusted=True)
    assert kept == {"model": "x:y", "limits": {"max_turns": 500}}
    assert [(s.key, s.reason) for s in skipped] == [("trusted_workspaces", "user only")]


def test_a_looser_value_than_a_lower_layer_is_refused() -> None:
    _, skipped = restrict_layer({"limits": {"max_turns": 50}}, {"limits": {"max_turns": 20}}, source="r", trusted=False)
    assert [(s.key, s.reason) for s in skipped] == [("limits.max_turns", "would loosen")]


def test_an_untrusted_repository_cannot_turn_the_sandbox_off() -> None:
    _, skipped = restrict_layer({"sandbox": {"policy": "full"}}, {}, source="r", trusted=False)
    assert [(s.key, s.reason) for s in skipped] == [("sandbox.policy", "would loosen")]
    kept, _ = restrict_layer({"sandbox": {"policy": "read-only"}}, {}, source="r", trusted=False)
    assert kept == {"sandbox": {"policy": "read-only"}}
