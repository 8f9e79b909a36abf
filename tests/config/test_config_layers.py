"""Config file discovery, merge rules, TAU_* translation and durations."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_sandbox import Sandbox

from tau.config import describe_sources, find_config_files
from tau.config.layers import env_layer, merge, project_config_path, user_config_path
from tau.config.settings import parse_duration


def test_merge_rules() -> None:
    base = {
        "permissions": {"allow": ["A"], "mode": "plan"},
        "tools": ["read"],
        "limits": {"max_turns": 1, "timeout": 5.0},
    }
    over = {"permissions": {"allow": ["B", "A"]}, "tools": ["bash"], "limits": {"max_turns": 2}}
    assert merge(base, over) == {
        "permissions": {"allow": ["A", "B"], "mode": "plan"},
        "tools": ["bash"],
        "limits": {"max_turns": 2, "timeout": 5.0},
    }
    schema_base = {"output": {"schema": {"type": "object", "required": ["a"]}, "format": "json"}}
    assert merge(schema_base, {"output": {"schema": {"type": "string"}}}) == {
        "output": {"schema": {"type": "string"}, "format": "json"}
    }


def test_user_config_path_honours_xdg() -> None:
    assert user_config_path({"HOME": "/h"}) == Path("/h/.config/tau/config.toml")
    assert user_config_path({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == Path("/x/tau/config.toml")
    assert user_config_path({"HOME": "/h", "XDG_CONFIG_HOME": "relative"}) == Path("/h/.config/tau/config.toml")
    assert user_config_path({}) is None


def test_project_walk_stops_below_home(sandbox: Sandbox) -> None:
    sandbox.write("home/.tau/config.toml", "")  # ~/.tau is tau's data dir, never a project
    assert project_config_path(sandbox.proj, sandbox.env) is None
    nearer = sandbox.write("home/code/.tau/config.toml", "")
    assert project_config_path(sandbox.proj, sandbox.env) == nearer
    nearest = sandbox.project_config("")
    assert project_config_path(sandbox.proj, sandbox.env) == nearest


def test_describe_sources(sandbox: Sandbox) -> None:
    assert describe_sources(sandbox.env, sandbox.proj) == []
    user = sandbox.user_config("")
    project = sandbox.project_config("")
    assert describe_sources(sandbox.env, sandbox.proj) == [f"user config {user}", f"project config {project}"]
    assert find_config_files(sandbox.env, sandbox.proj).existing() == [("user", user), ("project", project)]


def test_env_layer_translates_known_variables_only(tmp_path: Path) -> None:
    env = {
        "TAU_MODEL": "test:x",
        "TAU_MAX_TURNS": "12",
        "TAU_MAX_USD": "0.5",
        "TAU_TIMEOUT": "1h30m",
        "TAU_TOOLS": "read grep",
        "TAU_OUTPUT": "stream-json",
        "TAU_HOME": "/elsewhere",  # owned by another part of tau: ignored here
        "OPENAI_API_KEY": "sk",
    }
    layer = env_layer(env, tmp_path)
    assert layer.data == {
        "model": "test:x",
        "limits": {"max_turns": 12, "max_usd": 0.5, "timeout": 5400.0},
        "tools": ["read", "grep"],
        "output": {"format": "stream-json"},
    }
    assert layer.origin("limits.max_usd") == "TAU_MAX_USD"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90.0), (1.5, 1.5), ("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0), ("1h30m", 5400.0),
     ("250ms", 0.25), ("2d", 172_800.0), (" 10 S ", 10.0)],
)  # fmt: skip
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["5 parsecs", "m5", "1x", "", "-5m"])
def test_bad_durations(value: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)
