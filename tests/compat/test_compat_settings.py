"""Claude Code's settings files, as teams commit them, through real `tau run` subprocesses over a replayed model.

A clone holds a real-world-shaped `.claude/settings.json` (deny rules for secrets and `rm -rf`, allow rules for the
team's commands, `additionalDirectories`, `env`, keys tau does not implement), a `.claude/settings.local.json` and a
`.tau/settings.json`. Each case asserts what Claude Code does:

- deny rules from every one of those files hold in every permission mode (default, acceptEdits, plan,
  bypassPermissions), whether the mode comes from the command line, the job file's frontmatter, or a settings file's
  own `defaultMode` (the user's, or the project's), untrusted and trusted; a command-line `--allow Bash(rm:*)` does not
  beat a settings deny;
- untrusted, the project's allow rules, `additionalDirectories` and `env` do not apply, and one notice line per
  settings file says what was skipped and how to trust; trusted (`tau trust`, `--trust-workspace`,
  `TAU_TRUST_WORKSPACE=1`) they apply and no such notice is printed;
- Claude Code's precedence: user < project < local < command line for single values (`defaultMode`, `env`), and
  deny > ask > allow across all of them for rules.

Every case records its cassette in-process (where the same permission layer decides), then replays it through the CLI.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from compat_hooks_kit import Clone, Sandbox, TauResult

from tau.testing import calls, reply

SECRET = "STRIPE_KEY=sk_live_do_not_leak"
APP = "def main() -> None:\n    print('hello')\n"
GUIDE = "Release checklist: tag, build, publish.\n"

CLAUDE_SETTINGS: dict[str, Any] = {
    "$schema": "https://json.schemastore.org/claude-code-settings.json",
    "permissions": {
        "allow": ["Bash(npm run lint)", "Bash(npm run test:*)", "Bash(touch:*)"],
        "deny": ["Read(./.env)", "Read(./.env.*)", "Read(./**/*.env)", "Read(./secrets/**)", "Bash(curl:*)"],
        "additionalDirectories": ["../shared-docs/"],
    },
    "env": {"DEPLOY_TARGET": "staging", "NODE_ENV": "development"},
    "includeCoAuthoredBy": False,
    "statusLine": {"type": "command", "command": "~/.claude/statusline.sh"},
}
TAU_SETTINGS: dict[str, Any] = {"permissions": {"deny": ["Bash(rm -rf *)", "Bash(git push:*)"]}}
LOCAL_SETTINGS: dict[str, Any] = {
    "permissions": {"allow": ["Bash(git status)"], "deny": ["Edit(src/**)"]},
    "enabledPlugins": {"formatter@acme-tools": True},
}

MODES = ("default", "acceptEdits", "plan", "bypassPermissions")
SOURCES = ("flag", "frontmatter", "user settings", "project settings")
HINT = "trust it with `tau trust {root}`, --trust-workspace or TAU_TRUST_WORKSPACE=1"


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def make_clone(tmp_path: Path, *, settings: bool = True) -> Clone:
    """A cloned repository with a secret, sources, a build directory and (by default) the three settings files."""
    clone = Clone(Sandbox(tmp_path / "box"))
    box = clone.box
    box.write(".git/HEAD", "ref: refs/heads/main\n")
    box.write("config/app.env", SECRET + "\n")
    box.write("src/app.py", APP)
    box.write("build/bundle.js", "console.log('built')\n")
    (box.root / "shared-docs").mkdir()
    (box.root / "shared-docs" / "guide.md").write_text(GUIDE)
    if settings:
        project_settings(clone, ".claude/settings.json", CLAUDE_SETTINGS)
        project_settings(clone, ".tau/settings.json", TAU_SETTINGS)
        project_settings(clone, ".claude/settings.local.json", LOCAL_SETTINGS)
    return clone


def user_settings(clone: Clone, data: dict[str, Any]) -> None:
    write_json(clone.box.home / ".claude" / "settings.json", data)


def project_settings(clone: Clone, relative: str, data: dict[str, Any]) -> None:
    write_json(clone.box.work / relative, data)


def edit_settings(clone: Clone, relative: str, **changes: Any) -> None:
    path = clone.box.work / relative
    data = json.loads(path.read_text())
    for key, value in changes.items():
        data.setdefault("permissions", {})[key] = value
    write_json(path, data)


def replay(clone: Clone, args: Sequence[str], steps: list[Any]) -> TauResult:
    """Record `steps` in-process, put the workspace back as it was, then run `tau run` over the recording."""
    work = clone.box.work
    pristine = clone.box.root / "pristine"
    shutil.copytree(work, pristine, symlinks=True)
    cassette = clone.record(args, steps)
    shutil.rmtree(work)
    pristine.rename(work)
    return clone.tau("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json")


def decisions(result: TauResult) -> dict[str, tuple[str, str, str | None]]:
    """call id -> (decision, resolution, rule) of every permission decision."""
    return {
        line["call_id"]: (line["decision"], line["resolution"], line["rule"])
        for line in result.lines
        if line["type"] == "permission.decided"
    }


def outputs(result: TauResult) -> dict[str, tuple[str, str]]:
    """call id -> (status, output) of every completed tool call."""
    return {
        line["call_id"]: (line["status"], line["output"]) for line in result.lines if line["type"] == "tool.completed"
    }


def notices(result: TauResult) -> list[str]:
    return [line["message"] for line in result.lines if line["type"] == "notice.emitted"]


def started(result: TauResult) -> dict[str, Any]:
    first = result.lines[0]
    assert first["type"] == "session.started", result
    return first


def cleanup_steps() -> list[Any]:
    """One turn asking for the secret, `rm -rf build`, an edit under src/, and a harmless read (the twin)."""
    return [
        calls(
            ("read", {"file_path": "config/app.env"}),
            ("bash", {"command": "rm -rf build"}),
            ("edit", {"file_path": "src/app.py", "old_string": "hello", "new_string": "goodbye"}),
            ("read", {"file_path": "src/app.py"}),
            text="Cleaning up.",
        ),
        reply("Done."),
    ]


def mode_args(clone: Clone, mode: str, source: str) -> list[str]:
    """The run's arguments with `mode` set by `source` (writing the job file or settings file it needs)."""
    if source == "flag":
        return ["-p", "Clean up the build and show me the config.", "--permission-mode", mode]
    if source == "frontmatter":
        job = clone.box.root / "jobs" / "cleanup.md"
        job.parent.mkdir(parents=True, exist_ok=True)
        job.write_text(f"---\npermissions:\n  mode: {mode}\n---\nClean up the build and show me the config.\n")
        return [str(job)]
    if source == "user settings":
        user_settings(clone, {"permissions": {"defaultMode": mode}})
    else:
        edit_settings(clone, ".claude/settings.json", defaultMode=mode)
    return ["-p", "Clean up the build and show me the config."]


def effective_mode(mode: str, source: str, trusted: bool) -> str:
    """An untrusted project's `defaultMode` applies only when it tightens (plan); a looser one falls back."""
    if source == "project settings" and not trusted and mode not in ("default", "plan"):
        return "default"
    return mode


@pytest.mark.parametrize("trusted", [False, True], ids=["untrusted", "trusted"])
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("mode", MODES)
def test_settings_deny_rules_hold_in_every_mode(tmp_path: Path, mode: str, source: str, trusted: bool) -> None:
    clone = make_clone(tmp_path)
    args = [*mode_args(clone, mode, source), "--allow", "Bash(rm:*)"]
    if trusted:
        args.append("--trust-workspace")
    result = replay(clone, args, cleanup_steps())
    want = effective_mode(mode, source, trusted)
    assert result.returncode == (4 if want == "plan" else 0), result
    assert started(result)["permission_mode"] == want
    assert decisions(result) == {
        "call_1_0": ("deny", "denied", "Read(./**/*.env)"),
        "call_1_1": ("deny", "denied", "Bash(rm -rf *)"),
        "call_1_2": ("deny", "denied", "Edit(src/**)"),
        "call_1_3": ("allow", "allowed", None),
    }
    done = outputs(result)
    assert [done[f"call_1_{i}"][0] for i in range(4)] == ["denied", "denied", "denied", "success"]
    assert "print('hello')" in done["call_1_3"][1]  # the twin: tools do run in this mode
    assert SECRET not in result.stdout
    assert (clone.box.work / "build" / "bundle.js").is_file()
    assert (clone.box.work / "src" / "app.py").read_text() == APP
    loosened = [n for n in notices(result) if "permissions.defaultMode (would loosen)" in n]
    assert len(loosened) == (1 if want != mode else 0)


def test_without_the_settings_files_the_same_calls_go_through(tmp_path: Path) -> None:
    """The twin of the matrix: the same run with no settings files reads the secret, deletes and edits."""
    clone = make_clone(tmp_path, settings=False)
    args = ["-p", "Clean up the build and show me the config.", "--permission-mode", "bypassPermissions"]
    result = replay(clone, [*args, "--allow", "Bash(rm:*)"], cleanup_steps())
    assert result.returncode == 0, result
    assert {call: d[0] for call, d in decisions(result).items()} == {f"call_1_{i}": "allow" for i in range(4)}
    assert SECRET in outputs(result)["call_1_0"][1]
    assert not (clone.box.work / "build").exists()
    assert "goodbye" in (clone.box.work / "src" / "app.py").read_text()


def widening_steps() -> list[Any]:
    """Calls that only the project's widening settings allow: an allow rule, an additional directory, its env."""
    return [
        calls(
            ("bash", {"command": "touch CHANGELOG.md"}),
            ("bash", {"command": "cat ../shared-docs/guide.md"}),
            ("bash", {"command": "echo target=${DEPLOY_TARGET-unset}"}),
        ),
        reply("Checked."),
    ]


WIDEN_ARGS = ["-p", "Prepare the release notes.", "--allow", "Bash(echo *)"]


def test_an_untrusted_clone_applies_only_what_restricts_and_says_so(tmp_path: Path) -> None:
    clone = make_clone(tmp_path)
    result = replay(clone, WIDEN_ARGS, widening_steps())
    assert result.returncode == 0, result
    made = decisions(result)
    assert made["call_1_0"][:2] == ("ask", "denied")  # Bash(touch:*) of the project is not applied
    assert made["call_1_1"][:2] == ("ask", "denied")  # ../shared-docs is not an additional directory
    assert not (clone.box.work / "CHANGELOG.md").exists()
    assert outputs(result)["call_1_2"] == ("success", "exit code: 0\nstdout:\ntarget=unset")
    root = str(clone.box.work)
    hint = HINT.format(root=root)
    claude, local = f"{root}/.claude/settings.json", f"{root}/.claude/settings.local.json"
    assert notices(result) == [
        f"untrusted workspace: ignored from {claude}: permissions.allow, permissions.additionalDirectories, env "
        f"(needs trust) — {hint}",
        f"untrusted workspace: ignored from {local}: permissions.allow (needs trust) — {hint}",
        f"{claude}: settings tau does not implement, ignored: includeCoAuthoredBy, statusLine",
        f"{local}: settings tau does not implement, ignored: enabledPlugins",
    ]


@pytest.mark.parametrize("how", ["tau trust", "--trust-workspace", "TAU_TRUST_WORKSPACE=1"])
def test_a_trusted_clone_applies_allow_rules_directories_and_env(tmp_path: Path, how: str) -> None:
    clone = make_clone(tmp_path)
    args = list(WIDEN_ARGS)
    if how == "tau trust":
        trusted = clone.tau("trust")
        assert trusted.returncode == 0, trusted
    elif how == "--trust-workspace":
        args.append("--trust-workspace")
    else:
        clone.box.env["TAU_TRUST_WORKSPACE"] = "1"
    result = replay(clone, args, widening_steps())
    assert result.returncode == 0, result
    made = decisions(result)
    assert made["call_1_0"] == ("allow", "allowed", "Bash(touch:*)")
    assert made["call_1_1"][:2] == ("allow", "allowed")
    assert (clone.box.work / "CHANGELOG.md").is_file()
    assert outputs(result)["call_1_1"] == ("success", f"exit code: 0\nstdout:\n{GUIDE.strip()}")
    assert outputs(result)["call_1_2"] == ("success", "exit code: 0\nstdout:\ntarget=staging")
    assert not [n for n in notices(result) if "untrusted" in n]
    # keys tau does not implement are reported whatever the trust
    assert sum("settings tau does not implement" in n for n in notices(result)) == 2


def layered_clone(tmp_path: Path) -> Clone:
    """One value set at every level: user acceptEdits < project plan < local default; env likewise."""
    clone = make_clone(tmp_path, settings=False)
    user_settings(clone, {"permissions": {"defaultMode": "acceptEdits"}, "env": {"LEVEL": "user"}})
    project_settings(
        clone, ".claude/settings.json", {"permissions": {"defaultMode": "plan"}, "env": {"LEVEL": "project"}}
    )
    local = {"permissions": {"defaultMode": "default"}, "env": {"LEVEL": "local"}}
    project_settings(clone, ".claude/settings.local.json", local)
    return clone


LEVEL_STEPS = [calls(("bash", {"command": "echo level=$LEVEL"})), reply("Level checked.")]


@pytest.mark.parametrize(
    ("extra", "mode", "level"),
    [
        (["--trust-workspace"], "default", "local"),  # local beats project beats user
        (["--trust-workspace", "--permission-mode", "acceptEdits"], "acceptEdits", "local"),  # the command line wins
        ([], "plan", "user"),  # untrusted: the project's plan tightens, local's default would loosen; env is user's
    ],
    ids=["trusted", "command line", "untrusted"],
)
def test_user_project_local_command_line_precedence(tmp_path: Path, extra: list[str], mode: str, level: str) -> None:
    clone = layered_clone(tmp_path)
    result = replay(clone, ["-p", "Which level?", "--allow", "Bash(echo *)", *extra], [*LEVEL_STEPS])
    assert result.returncode == (4 if mode == "plan" else 0), result
    assert started(result)["permission_mode"] == mode
    assert outputs(result)["call_1_0"] == ("success", f"exit code: 0\nstdout:\nlevel={level}")


RULE_STEPS = [
    calls(
        ("bash", {"command": "touch allowed.txt"}),
        ("bash", {"command": "touch asked.txt"}),
        ("bash", {"command": "touch denied.txt"}),
    ),
    reply("Touched what I could."),
]


@pytest.mark.parametrize("trusted", [False, True], ids=["untrusted", "trusted"])
def test_deny_beats_ask_beats_allow_across_every_level(tmp_path: Path, trusted: bool) -> None:
    """The user allows `touch`, the project asks for one file, the local file denies another, the command line
    allows that one again: the deny wins, the ask is an ask (a denial, headless), the rest is allowed."""
    clone = make_clone(tmp_path, settings=False)
    user_settings(clone, {"permissions": {"allow": ["Bash(touch:*)"]}})
    project_settings(clone, ".claude/settings.json", {"permissions": {"ask": ["Bash(touch asked.txt)"]}})
    project_settings(clone, ".claude/settings.local.json", {"permissions": {"deny": ["Bash(touch denied.txt)"]}})
    args = ["-p", "Touch the files.", "--allow", "Bash(touch denied.txt)", *(["--trust-workspace"] if trusted else [])]
    result = replay(clone, args, [*RULE_STEPS])
    assert result.returncode == 0, result
    assert decisions(result) == {
        "call_1_0": ("allow", "allowed", "Bash(touch:*)"),
        "call_1_1": ("ask", "denied", "Bash(touch asked.txt)"),
        "call_1_2": ("deny", "denied", "Bash(touch denied.txt)"),
    }
    assert sorted(p.name for p in clone.box.work.glob("*.txt")) == ["allowed.txt"]


def test_file_tools_reach_a_trusted_additional_directory_and_nothing_beside_it(tmp_path: Path) -> None:
    """Claude Code's `additionalDirectories` widen the file tools too, not only commands: read, write, glob and ls
    work in `../shared-docs` (a trusted clone's setting), confined beneath it as the workspace is; a sibling that is
    not listed stays outside, and a symlink from the additional directory out of it is still an escape."""
    clone = make_clone(tmp_path)
    (clone.box.root / "elsewhere").mkdir()
    (clone.box.root / "elsewhere" / "private.txt").write_text("not for the model\n")
    (clone.box.root / "shared-docs" / "out").symlink_to(clone.box.root / "elsewhere")
    shared = clone.box.root / "shared-docs"
    steps = [
        calls(
            ("read", {"file_path": "../shared-docs/guide.md"}),
            ("write", {"file_path": str(shared / "notes" / "release.md"), "content": "v1.2 ready\n"}),
            ("glob", {"pattern": "**/*.md", "path": str(shared)}),
            ("read", {"file_path": str(clone.box.root / "elsewhere" / "private.txt")}),
            ("read", {"file_path": str(shared / "out" / "private.txt")}),
        ),
        reply("Done."),
    ]
    args = ["-p", "Prepare the release notes.", "--trust-workspace", "--permission-mode", "acceptEdits"]
    result = replay(clone, args, steps)
    assert result.returncode == 0, result
    done = outputs(result)
    assert done["call_1_0"][0] == "success" and GUIDE.strip() in done["call_1_0"][1]
    assert done["call_1_1"][0] == "success"
    assert (shared / "notes" / "release.md").read_text() == "v1.2 ready\n"
    found = done["call_1_2"]
    assert found[0] == "success" and "release.md" in found[1] and "guide.md" in found[1]
    assert done["call_1_3"][0] != "success" and "not for the model" not in done["call_1_3"][1]
    assert done["call_1_4"][0] != "success" and "not for the model" not in done["call_1_4"][1]
