"""`tau hooks ls` and `tau hooks test EVENT --input FILE|-` (the click group, invoked in-process)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from hooksupport import ScriptMaker

from tau.cli.hooks_cmd import hooks


def settings(project: Path, data: object, name: str = ".tau/settings.json") -> Path:
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_hooks_test_prints_the_combined_decision(project: Path, script: ScriptMaker, tmp_path: Path) -> None:
    guard = script("guard.sh", 'grep -q \'"rm \' && { echo "no rm" >&2; exit 2; }\nexit 0\n')
    settings(
        project, {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": guard}]}]}}
    )
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps({"tool_name": "Bash", "tool_input": {"command": "rm -rf /"}, "tool_use_id": "t1"}))
    args = ["test", "PreToolUse", "--input", str(payload), "--cwd", str(project), "--trust-workspace"]
    result = CliRunner().invoke(hooks, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["decision"] == "block" and out["blocked"] is True and out["reason"] == "no rm"
    assert [(h["hook_event"], h["matcher"], h["command"], h["exit_code"], h["decision"]) for h in out["hooks"]] == [
        ("PreToolUse", "Bash", guard, 2, "block")
    ]


def test_hooks_test_reads_stdin_and_respects_matchers(project: Path, script: ScriptMaker) -> None:
    cmd = script("ctx.sh", 'echo "remember the changelog"\n')
    settings(project, {"hooks": {"SessionStart": [{"matcher": "startup", "hooks": [{"command": cmd}]}]}})
    runner = CliRunner()
    args = ["test", "SessionStart", "--input", "-", "--cwd", str(project), "--trust-workspace"]
    hit = json.loads(runner.invoke(hooks, args, input='{"source": "startup"}').output)
    miss = json.loads(runner.invoke(hooks, args, input='{"source": "resume"}').output)
    assert hit["additional_context"] == ["remember the changelog"] and hit["decision"] is None
    assert miss["hooks"] == [] and miss["additional_context"] == []


def test_hooks_test_bad_input_is_a_config_error(project: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    result = CliRunner().invoke(hooks, ["test", "Stop", "--input", str(bad), "--cwd", str(project)])
    assert result.exit_code != 0
    assert "the payload must be a JSON object" in str(result.exception)
    unknown = CliRunner().invoke(hooks, ["test", "Nope", "--input", str(bad), "--cwd", str(project)])
    assert "unknown hook event 'Nope'" in str(unknown.exception)


def test_hooks_ls_lists_handlers_with_their_source(project: Path) -> None:
    tau_file = settings(project, {"hooks": {"Stop": [{"hooks": [{"command": "./stop.sh", "timeout": 5}]}]}})
    claude_file = settings(
        project,
        {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"command": "./g.sh", "if": "Bash(rm *)"}]}]}},
        ".claude/settings.json",
    )
    runner = CliRunner()
    plain = runner.invoke(hooks, ["ls", "--json", "--no-compat", "--cwd", str(project), "--trust-workspace"])
    stop = {"event": "Stop", "matcher": None, "command": "./stop.sh", "timeout": 5.0, "if": None}
    assert json.loads(plain.stdout) == [{**stop, "source": str(tau_file), "active": True}]
    untrusted = runner.invoke(hooks, ["ls", "--cwd", str(project)])
    assert untrusted.stdout.splitlines() == [
        f"PreToolUse\tBash\t./g.sh if Bash(rm *)\t({claude_file})\t[skipped: untrusted workspace]",
        f"Stop\t*\t./stop.sh\t({tau_file})\t[skipped: untrusted workspace]",
    ]
    assert "untrusted workspace" in untrusted.stderr
    trusted = runner.invoke(hooks, ["ls", "--cwd", str(project), "--trust-workspace"])
    assert trusted.stdout.splitlines() == [
        f"PreToolUse\tBash\t./g.sh if Bash(rm *)\t({claude_file})",
        f"Stop\t*\t./stop.sh\t({tau_file})",
    ]
