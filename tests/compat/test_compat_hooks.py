"""Claude Code's hooks, as users have them, through real `tau run` subprocesses with a replayed scripted model.

Each case is a clone with a real-world-shaped `.claude/settings.json` and `.claude/hooks/*.sh` scripts (jq and
`$CLAUDE_PROJECT_DIR`, as Claude Code users write them) and asserts what Claude Code does:
- a Stop hook copies `$transcript_path` (read from stdin with jq) and reads the last assistant message from it;
  the transcript is Claude Code's JSONL, lives in tau's state directory (never the workspace), and a resumed
  session's transcript continues the same file;
- PostToolUse receives Bash's `tool_response` as Claude Code's object `{stdout, stderr, interrupted, isImage}`;
- an untrusted clone runs none of its hooks and says so; after `tau trust` they run;
- the settings `env` reaches hook commands and tool commands (host, and the docker sandbox).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from compat_hooks_kit import ENV_HOOK, POST_BASH_HOOK, STOP_HOOK, Clone, Sandbox, jsonl

from tau.testing import calls, reply

FINAL = "The greeting is: hello, world."


@pytest.fixture
def clone(tmp_path: Path) -> Clone:
    return Clone(Sandbox(tmp_path / "box"))


def with_stop_hook(clone: Clone) -> None:
    stop = clone.hook_script("keep-transcript.sh", STOP_HOOK)
    post = clone.hook_script("log-bash.sh", POST_BASH_HOOK)
    clone.claude_settings(
        {
            "permissions": {"allow": ["Bash(echo *)"]},
            "hooks": {
                "Stop": [{"hooks": [{"type": "command", "command": stop, "timeout": 30}]}],
                "PostToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": post}]}],
            },
        }
    )


def greeting_steps() -> list[Any]:
    return [calls(("bash", {"command": "echo hello, world; echo done >&2"}), text="Writing it."), reply(FINAL)]


def test_a_real_stop_hook_copies_the_transcript_and_reads_the_last_assistant_message(clone: Clone) -> None:
    with_stop_hook(clone)
    args = ["-p", "Print a greeting.", "--trust-workspace"]
    cassette = clone.record(args, greeting_steps())
    result = clone.tau("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json")
    assert result.returncode == 0, result
    session = result.last()["session_id"]
    assert (clone.out / "last-message.txt").read_text() == FINAL + "\n"
    copy = jsonl(clone.out / "transcript-copy.jsonl")
    assert [(line["type"], [block["type"] for block in line["message"]["content"]]) for line in copy] == [
        ("user", ["text"]),
        ("assistant", ["text", "tool_use"]),
        ("user", ["tool_result"]),
        ("assistant", ["text"]),
    ]
    tool_use = copy[1]["message"]["content"][1]
    assert (tool_use["name"], tool_use["input"]) == ("Bash", {"command": "echo hello, world; echo done >&2"})
    assert copy[2]["message"]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": tool_use["id"],
        "content": "exit code: 0\nstdout:\nhello, world\nstderr:\ndone",
        "is_error": False,
    }
    assert {line["sessionId"] for line in copy} == {session}
    assert [line["parentUuid"] for line in copy] == [None, *(line["uuid"] for line in copy[:-1])]
    transcript = Path((clone.out / "transcript-path.txt").read_text())
    assert transcript == clone.state_dir() / "transcripts" / f"{session}.jsonl"
    assert not transcript.is_relative_to(clone.box.work)
    assert not [p for p in clone.box.work.rglob("*.jsonl")]
    assert transcript.read_bytes() == (clone.out / "transcript-copy.jsonl").read_bytes()


def test_post_tool_use_gets_bash_output_as_claude_codes_object(clone: Clone) -> None:
    with_stop_hook(clone)
    args = ["-p", "Print a greeting.", "--trust-workspace"]
    cassette = clone.record(args, greeting_steps())
    result = clone.tau("run", *args, "--model", f"replay:{cassette}", "-o", "json")
    assert result.returncode == 0, result
    assert json.loads((clone.out / "post-tool-use.json").read_text()) == {
        "tool_name": "Bash",
        "tool_input": {"command": "echo hello, world; echo done >&2"},
        "tool_response": {"stdout": "hello, world", "stderr": "done", "interrupted": False, "isImage": False},
    }


def test_an_untrusted_clone_runs_no_hook_and_says_so_until_trusted(clone: Clone) -> None:
    with_stop_hook(clone)
    args = ["-p", "Print a greeting."]
    untrusted_steps = [calls(("bash", {"command": "echo hello, world; echo done >&2"})), reply("Denied.")]
    cassette = clone.record(args, untrusted_steps, name="untrusted")
    result = clone.tau("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json")
    assert result.returncode == 0, result
    assert not clone.out.exists()
    notices = [line["message"] for line in result.lines if line["type"] == "notice.emitted"]
    hooks_notice = [n for n in notices if "did not run hooks from" in n]
    assert len(hooks_notice) == 1 and str(clone.box.work / ".claude" / "settings.json") in hooks_notice[0]
    assert "tau trust" in hooks_notice[0]
    trusted = clone.tau("trust")
    assert trusted.returncode == 0, trusted
    cassette = clone.record(args, greeting_steps(), name="trusted")
    result = clone.tau("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json")
    assert result.returncode == 0, result
    assert (clone.out / "last-message.txt").read_text() == FINAL + "\n"
    assert not [
        line for line in result.lines if line["type"] == "notice.emitted" and "did not run hooks" in line["message"]
    ]


def test_a_resumed_session_continues_its_transcript(clone: Clone) -> None:
    stop = clone.hook_script("keep-transcript.sh", STOP_HOOK)
    clone.claude_settings({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": stop}]}]}})
    first = clone.tau("run", "-p", "first question", "--model", "test:first", "--trust-workspace", "-o", "json")
    assert first.returncode == 0, first
    session = first.json["session_id"]
    before = (clone.out / "transcript-copy.jsonl").read_bytes()
    clone.fresh()
    second = clone.tau("resume", session, "-p", "second question", "--model", "test:second", "--trust-workspace")
    assert second.returncode == 0, second
    after = (clone.out / "transcript-copy.jsonl").read_bytes()
    assert after.startswith(before) and len(after) > len(before)
    lines = jsonl(clone.out / "transcript-copy.jsonl")
    assert [line["type"] for line in lines] == ["user", "assistant", "user", "assistant"]
    assert lines[2]["message"]["content"] == [{"type": "text", "text": "second question"}]
    assert [line["parentUuid"] for line in lines[1:]] == [line["uuid"] for line in lines[:-1]]
    assert {line["sessionId"] for line in lines} == {session}
    assert Path((clone.out / "transcript-path.txt").read_text()).name == f"{session}.jsonl"


def env_case(clone: Clone) -> None:
    hook = clone.hook_script("env.sh", ENV_HOOK)
    clone.claude_settings(
        {
            "env": {"DEPLOY_TARGET": "staging"},
            "permissions": {"allow": ["Bash(echo *)"]},
            "hooks": {"PostToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": hook}]}]},
        }
    )


ENV_COMMAND = "echo target=${DEPLOY_TARGET-unset}"


def bash_output(result: Any) -> str:
    (completed,) = [line for line in result.lines if line["type"] == "tool.completed"]
    return str(completed["output"])


def test_settings_env_reaches_hooks_and_tools_only_when_trusted(clone: Clone) -> None:
    env_case(clone)
    args = ["-p", "Where do we deploy?", "--allow", "Bash(echo *)"]
    steps = [calls(("bash", {"command": ENV_COMMAND})), reply("staging")]
    cassette = clone.record([*args, "--trust-workspace"], steps, name="trusted")
    result = clone.tau("run", *args, "--trust-workspace", "--model", f"replay:{cassette}", "-o", "stream-json")
    assert result.returncode == 0, result
    assert bash_output(result) == "exit code: 0\nstdout:\ntarget=staging"
    assert (clone.out / "hook-env.txt").read_text() == "staging"
    steps = [calls(("bash", {"command": ENV_COMMAND})), reply("unknown")]
    cassette = clone.record(args, steps, name="untrusted")
    result = clone.tau("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json")
    assert result.returncode == 0, result
    assert bash_output(result) == "exit code: 0\nstdout:\ntarget=unset"
    assert not clone.out.exists()  # the untrusted clone's hooks did not run


def docker_ready() -> bool:
    from tau.environment.docker import DockerEngine

    return DockerEngine().ping()


@pytest.mark.docker
def test_settings_env_reaches_tool_commands_in_the_docker_sandbox(clone: Clone) -> None:
    if not docker_ready():
        pytest.skip("no Docker daemon answers")
    from tau.environment.sandbox import build_image

    build_image()  # tau's own sandbox image, the default of `--sandbox docker` (instant when the tag exists)
    if os.geteuid() == 0:
        os.chown(clone.box.work, 1000, 1000)  # the sandbox user owns the workspace, as in tests/docker
    env_case(clone)
    args = ["-p", "Where do we deploy?", "--trust-workspace", "--sandbox", "docker", "--allow", "Bash(echo *)"]
    steps = [calls(("bash", {"command": ENV_COMMAND})), reply("staging")]
    cassette = clone.record(args, steps)
    result = clone.tau("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json")
    assert result.returncode == 0, result
    started = result.lines[0]
    assert started["environment"]["kind"] == "docker"
    assert bash_output(result) == "exit code: 0\nstdout:\ntarget=staging"
    assert (clone.out / "hook-env.txt").read_text() == "staging"  # the hook ran on the host with the same env
