"""Hook config: sources and merge order, compatibility files, malformed input, matchers and `if` rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tau.errors import ConfigError
from tau.hooks import CommandHandler, compile_matcher, hook_sources, load_hook_config, rule_applies


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def hooks_doc(command: str, event: str = "PreToolUse", matcher: str | None = "Bash") -> dict[str, object]:
    group: dict[str, object] = {"hooks": [{"type": "command", "command": command}]}
    if matcher is not None:
        group["matcher"] = matcher
    return {"hooks": {event: [group]}}


def commands(config: object, event: str = "PreToolUse") -> list[str]:
    from tau.hooks import HookConfig

    assert isinstance(config, HookConfig)
    return [h.command for g in config.groups(event) for h in g.handlers]


def test_sources_in_merge_order(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "p"
    assert hook_sources(project, home=home, env={}, compat=False) == [
        home / ".config/tau/settings.json",
        project / ".tau/settings.json",
        project / ".tau/hooks.json",
    ]
    assert hook_sources(project, home=home, env={"XDG_CONFIG_HOME": "/x"}, compat=True) == [
        Path("/x/tau/settings.json"),
        project / ".claude/settings.json",
        project / ".claude/settings.local.json",
        project / ".codex/hooks.json",
        project / ".tau/settings.json",
        project / ".tau/hooks.json",
    ]


def test_merge_keeps_every_source_in_order_and_dedupes(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "p"
    write(home / ".config/tau/settings.json", hooks_doc("user.sh"))
    write(project / ".claude/settings.json", hooks_doc("claude.sh"))
    write(project / ".claude/settings.local.json", hooks_doc("local.sh"))
    write(project / ".codex/hooks.json", {"PreToolUse": [{"matcher": "Bash", "hooks": [{"command": "codex.sh"}]}]})
    write(project / ".tau/settings.json", hooks_doc("tau.sh"))
    write(project / ".tau/hooks.json", hooks_doc("user.sh"))  # duplicate of the user hook: dropped

    with_compat = load_hook_config(project, home=home, env={}, compat=True)
    assert commands(with_compat) == ["user.sh", "claude.sh", "local.sh", "codex.sh", "tau.sh"]
    assert commands(load_hook_config(project, home=home, env={}, compat=False)) == ["user.sh", "tau.sh"]


def test_handler_fields_and_defaults(tmp_path: Path) -> None:
    doc = {
        "hooks": {
            "Stop": [{"hooks": [{"type": "command", "command": "a.sh"}]}],
            "PreToolUse": [
                {"matcher": "Bash", "hooks": [{"type": "command", "command": "b.sh", "timeout": 5, "if": "Bash(rm *)"}]}
            ],
        }
    }
    source = write(tmp_path / "p/.tau/settings.json", doc)
    config = load_hook_config(tmp_path / "p", home=None, env={}, compat=False)
    assert config.groups("Stop")[0].matcher is None
    assert config.groups("Stop")[0].handlers == (CommandHandler("a.sh", 60.0, None, str(source)),)
    assert config.groups("PreToolUse")[0].handlers == (CommandHandler("b.sh", 5.0, "Bash(rm *)", str(source)),)
    assert config.sources == (str(source),)


def test_unsupported_events_and_handler_types_warn(tmp_path: Path) -> None:
    doc = {
        "hooks": {
            "TeammateIdle": [{"hooks": [{"type": "command", "command": "x"}]}],
            "Stop": [{"hooks": [{"type": "prompt", "prompt": "judge"}, {"type": "command", "command": "s.sh"}]}],
        }
    }
    write(tmp_path / "p/.tau/settings.json", doc)
    config = load_hook_config(tmp_path / "p", home=None, env={}, compat=False)
    assert commands(config, "Stop") == ["s.sh"]
    assert "TeammateIdle" not in config.events
    assert len(config.warnings) == 2
    assert "TeammateIdle" in config.warnings[0]
    assert "'prompt' is not supported" in config.warnings[1]


def test_disable_all_hooks(tmp_path: Path) -> None:
    write(tmp_path / "p/.tau/settings.json", {**hooks_doc("a.sh"), "disableAllHooks": True})
    config = load_hook_config(tmp_path / "p", home=None, env={}, compat=False)
    assert not config
    assert config.warnings[-1] == "disableAllHooks is set: no file hooks run"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "invalid JSON"),
        ("[1]", "must be a JSON object"),
        ({"hooks": []}, "hooks: must be an object"),
        ({"hooks": {"Stop": {}}}, "hooks.Stop: must be a list"),
        ({"hooks": {"Stop": ["x"]}}, "hooks.Stop[0]: a matcher group must be an object"),
        ({"hooks": {"Stop": [{"hooks": {}}]}}, "`hooks` must be a list"),
        ({"hooks": {"Stop": [{"hooks": [{"type": "command"}]}]}}, "hooks.Stop[0].hooks[0]: a command handler needs"),
        ({"hooks": {"Stop": [{"hooks": [{"command": "x", "timeout": 0}]}]}}, "timeout must be a positive"),
        ({"hooks": {"Stop": [{"hooks": [{"command": "x", "timeout": "5"}]}]}}, "timeout must be a positive"),
        ({"hooks": {"PreToolUse": [{"matcher": "Bash(", "hooks": []}]}}, "invalid matcher regex"),
        ({"hooks": {"PreToolUse": [{"matcher": 3, "hooks": []}]}}, "`matcher` must be a string"),
        ({"hooks": {"PreToolUse": [{"hooks": [{"command": "x", "if": "Bash(rm"}]}]}}, "invalid `if` rule"),
    ],
)
def test_malformed_config_names_the_file(tmp_path: Path, content: object, problem: str) -> None:
    path = write(tmp_path / "p/.tau/settings.json", content)
    with pytest.raises(ConfigError) as caught:
        load_hook_config(tmp_path / "p", home=None, env={}, compat=False)
    assert caught.value.source == str(path)
    assert problem in str(caught.value)


def test_malformed_claude_file_only_read_with_compat(tmp_path: Path) -> None:
    write(tmp_path / "p/.claude/settings.json", "{broken")
    assert not load_hook_config(tmp_path / "p", home=None, env={}, compat=False)
    with pytest.raises(ConfigError, match=r"\.claude/settings\.json: invalid JSON"):
        load_hook_config(tmp_path / "p", home=None, env={}, compat=True)


@pytest.mark.parametrize(
    ("matcher", "value", "expected"),
    [
        (None, "Bash", True),
        ("", "anything", True),
        ("*", "mcp__s__t", True),
        ("Bash", "Bash", True),
        ("Bash", "bash", True),  # tau's name of the same tool
        ("Bash", "Read", False),
        ("Bash", "BashOutput", False),  # exact, not a prefix
        ("Edit|Write", "Write", True),
        ("Edit|Write", "write", True),
        ("Edit|Write", "Read", False),
        ("mcp__github__.*", "mcp__github__list_issues", True),
        ("mcp__github__.*", "mcp__gitlab__list", False),
        ("Notebook.*", "NotebookEdit", True),
        ("bash", "Bash", True),
        ("startup", "startup", True),
        ("manual|auto", "auto", True),
        ("manual", "auto", False),
    ],
)
def test_matcher_table(matcher: str | None, value: str, expected: bool) -> None:
    assert compile_matcher(matcher)(value) is expected


@pytest.mark.parametrize(
    ("rule", "tool", "args", "expected"),
    [
        ("Bash", "bash", {"command": "ls"}, True),
        ("Bash(rm *)", "bash", {"command": "rm -rf build"}, True),
        ("Bash(rm *)", "bash", {"command": "cd x && rm -rf y"}, True),
        ("Bash(rm *)", "bash", {"command": "ls -l"}, False),
        ("Bash(rm *)", "bash", {"command": "rmdir x"}, False),
        ("Bash(git commit:*)", "bash", {"command": "git commit -m x"}, True),
        ("Bash(git commit:*)", "bash", {"command": "git commits"}, False),
        ("Bash(rm *)", "read", {"file_path": "rm x"}, False),
        ("Edit(src/**)", "edit", {"file_path": "src/a/b.py"}, True),
        ("Edit(src/**)", "edit", {"file_path": "/proj/src/a.py"}, True),
        ("Edit(src/**)", "edit", {"file_path": "tests/a.py"}, False),
        ("Write(*.env)", "write", {"file_path": "conf/.env"}, True),
        ("Read", "read", {"file_path": "x"}, True),
        ("mcp__s__t", "mcp__s__t", {}, True),
        ("mcp__s__t(anything)", "mcp__s__t", {"q": 1}, True),  # opaque specifier: the hook runs
    ],
)
def test_if_rule_table(rule: str, tool: str, args: dict[str, object], expected: bool) -> None:
    assert rule_applies(rule, tool, args, project_dir="/proj") is expected
