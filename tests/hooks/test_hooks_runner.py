"""The runner against real hook scripts: payloads (COMPAT C2 field names), exit codes, JSON output, timeouts,
combination of several hooks, Python hooks and the Stop-continuation bound."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hooksupport import Events, ScriptMaker, config_of, group

from tau.hooks import (
    CommandHandler,
    HookBlock,
    HookOptions,
    HookRegistry,
    HookSession,
    PromptVerdict,
    hook_session,
)
from tau.protocol import HookRan
from tau.protocol.names import claude_name

pytestmark = pytest.mark.anyio


def session(
    project: Path,
    hooks: dict[str, Any],
    events: Events | None = None,
    registry: HookRegistry | None = None,
    **options: Any,
) -> HookSession:
    return hook_session(
        config_of(hooks),
        session_id="sess-1",
        project_dir=str(project),
        emit=events,
        registry=registry,
        options=HookOptions(transcript_path="/tmp/t.jsonl", permission_mode="default", **options),
    )


def capture(script: ScriptMaker, tmp_path: Path, name: str = "capture.sh") -> tuple[str, Path]:
    out = tmp_path / f"{name}.json"
    return script(name, f'cat > "{out}"\necho "$TAU_PROJECT_DIR|$CLAUDE_PROJECT_DIR|$PWD" > "{out}.env"\n'), out


async def test_payload_snapshots_follow_claude_code_field_names(
    project: Path, script: ScriptMaker, tmp_path: Path
) -> None:
    cmd, out = capture(script, tmp_path)
    every = {
        event: [group(cmd)]
        for event in (
            "PreToolUse",
            "PostToolUse",
            "PostToolUseFailure",
            "UserPromptSubmit",
            "Stop",
            "SubagentStop",
            "SessionStart",
            "SessionEnd",
            "PreCompact",
            "Notification",
        )
    }
    hooks = session(project, every)
    common = {
        "session_id": "sess-1",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": str(project),
        "permission_mode": "default",
    }
    cases: list[tuple[Any, dict[str, Any]]] = [
        (
            hooks.pre_tool_use("bash", {"command": "ls"}, "call_1"),
            {
                "hook_event_name": "PreToolUse",
                "tool_name": "Bash",
                "tool_input": {"command": "ls"},
                "tool_use_id": "call_1",
            },
        ),
        (
            hooks.post_tool_use("read", {"file_path": "a"}, "call_2", "1\tx"),
            {
                "hook_event_name": "PostToolUse",
                "tool_name": "Read",
                "tool_input": {"file_path": "a"},
                "tool_use_id": "call_2",
                "tool_response": "1\tx",
            },
        ),
        (
            hooks.post_tool_use_failure("mcp__s__t", {"q": 1}, "call_3", "boom"),
            {
                "hook_event_name": "PostToolUseFailure",
                "tool_name": "mcp__s__t",
                "tool_input": {"q": 1},
                "tool_use_id": "call_3",
                "error": "boom",
                "is_interrupt": False,
            },
        ),
        (hooks.on_user_prompt("fix it"), {"hook_event_name": "UserPromptSubmit", "prompt": "fix it"}),
        (
            hooks.on_stop("all done"),
            {"hook_event_name": "Stop", "stop_hook_active": False, "last_assistant_message": "all done"},
        ),
        (
            hooks.on_subagent_stop("sub done", True),
            {
                "hook_event_name": "SubagentStop",
                "agent_id": "",
                "agent_type": "",
                "stop_hook_active": True,
                "last_assistant_message": "sub done",
            },
        ),
        (hooks.on_session_start("resume"), {"hook_event_name": "SessionStart", "source": "resume"}),
        (hooks.on_session_end("completed"), {"hook_event_name": "SessionEnd", "reason": "completed"}),
        (hooks.on_pre_compact("auto"), {"hook_event_name": "PreCompact", "trigger": "auto", "custom_instructions": ""}),
        (
            hooks.on_notification("needs input", "idle_prompt"),
            {"hook_event_name": "Notification", "message": "needs input", "notification_type": "idle_prompt"},
        ),
    ]
    for call, expected in cases:
        await call
        assert json.loads(out.read_text()) == {**common, **expected}
    assert Path(f"{out}.env").read_text().strip() == f"{project}|{project}|{project}"


async def test_exit_2_blocks_with_stderr_and_ignores_stdout_even_invalid_json(
    project: Path, script: ScriptMaker
) -> None:
    cmd = script("block.sh", 'echo "{not json"\necho "rm is forbidden here" >&2\nexit 2\n')
    events = Events()
    outcome = await session(project, {"PreToolUse": [group(cmd, "Bash")]}, events).pre_tool_use(
        "bash", {"command": "rm -rf /"}, "c1"
    )
    assert outcome.blocked and outcome.decision == "block"
    assert outcome.reason == "rm is forbidden here"
    assert [(e.hook_event, e.matcher, e.command, e.exit_code, e.decision, e.message) for e in events] == [
        ("PreToolUse", "Bash", cmd, 2, "block", "rm is forbidden here")
    ]


async def test_invalid_json_on_exit_0_is_ignored_with_a_warning(project: Path, script: ScriptMaker) -> None:
    cmd = script("bad.sh", 'echo \'{"hookSpecificOutput": {"permissionDecision": "deny"\'\n')
    events = Events()
    outcome = await session(project, {"PreToolUse": [group(cmd)]}, events).pre_tool_use("bash", {"command": "x"}, "c")
    assert outcome.decision is None and not outcome.blocked
    assert len(outcome.messages) == 1 and outcome.messages[0].startswith("ignored invalid hook JSON output")
    assert events[0].decision == "error" and events[0].exit_code == 0


async def test_wrongly_typed_json_is_ignored_too(project: Path, script: ScriptMaker) -> None:
    cmd = script("typed.sh", 'echo \'{"hookSpecificOutput": {"permissionDecision": "maybe"}}\'\n')
    outcome = await session(project, {"PreToolUse": [group(cmd)]}).pre_tool_use("bash", {"command": "x"}, "c")
    assert outcome.decision is None
    assert "hookSpecificOutput.permissionDecision" in outcome.messages[0]


async def test_other_exit_codes_are_non_blocking_errors(project: Path, script: ScriptMaker) -> None:
    cmd = script("one.sh", 'echo "oops" >&2\nexit 1\n')
    events = Events()
    outcome = await session(project, {"PreToolUse": [group(cmd)]}, events).pre_tool_use("bash", {"command": "x"}, "c")
    assert not outcome.blocked and outcome.decision is None
    assert outcome.messages == ["hook exited 1 (non-blocking): oops"]
    assert (events[0].exit_code, events[0].decision) == (1, "error")


async def test_timeout_kills_the_process_group_and_does_not_block(
    project: Path, script: ScriptMaker, tmp_path: Path
) -> None:
    marker = f"tau-hook-timeout-{os.getpid()}-{time.monotonic_ns()}"  # a unique argument to look for
    cmd = script("slow.sh", f"perl -e 'sleep 30' {marker} &\nwait\n")
    events = Events()
    hooks = session(project, {"PreToolUse": [group(cmd, timeout=0.5)]}, events)
    started = time.monotonic()
    outcome = await hooks.pre_tool_use("bash", {"command": "x"}, "c")
    assert time.monotonic() - started < 5
    assert not outcome.blocked
    assert outcome.messages == ["hook timed out after 0.5s and was killed (non-blocking)"]
    assert (events[0].exit_code, events[0].decision) == (None, "error")
    for _ in range(50):  # the background `sleep` (in the hook's PID namespace and process group) is gone too
        if not _running(f"\0{marker}\0"):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the hook's child process survived the timeout")


def _running(cmdline: str) -> bool:
    """Whether any process's command line contains `cmdline` (NUL-separated arguments)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if cmdline.encode() in handle.read():
                        return True
            except OSError:
                continue
    return False


async def test_json_output_fields(project: Path, script: ScriptMaker) -> None:
    output = {
        "systemMessage": "checked",
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "permissionDecisionReason": "safe",
            "updatedInput": {"command": "ls -la"},
            "additionalContext": "listing is cheap",
        },
    }
    cmd = script("json.sh", f"cat <<'EOF'\n{json.dumps(output)}\nEOF\n")
    outcome = await session(project, {"PreToolUse": [group(cmd)]}).pre_tool_use("bash", {"command": "ls"}, "c")
    assert (outcome.decision, outcome.reason, outcome.updated_input) == ("allow", "safe", {"command": "ls -la"})
    assert outcome.additional_context == ["listing is cheap"]
    assert outcome.messages == ["checked"]


async def test_several_hooks_run_concurrently_and_combine_in_config_order(
    project: Path, script: ScriptMaker, tmp_path: Path
) -> None:
    """The first and third hooks each wait for the other to have started (bounded): run one after the other, the
    first would give up and fail, so the combined "ask" proves they ran at the same time. No clock is asserted."""
    marks = tmp_path / "marks"
    marks.mkdir()

    def emit(decision: str, updated: str, waits_for: str | None) -> str:
        body = {
            "hookSpecificOutput": {
                "permissionDecision": decision,
                "permissionDecisionReason": decision,
                "updatedInput": {"command": updated},
            }
        }
        handshake = f"touch {marks}/{updated}\n"
        if waits_for:
            handshake += (
                f"for i in $(seq 300); do [ -f {marks}/{waits_for} ] && break; sleep 0.05; done\n"
                f"[ -f {marks}/{waits_for} ] || exit 1\n"
            )
        return script(f"{updated}.sh", f"{handshake}cat <<'EOF'\n{json.dumps(body)}\nEOF\n")

    slow_ask, fast_allow, last_allow = (
        emit("ask", "first", "third"),
        emit("allow", "second", None),
        emit("allow", "third", "first"),
    )
    events = Events()
    hooks = session(project, {"PreToolUse": [group(slow_ask), group(fast_allow), group(last_allow)]}, events)
    outcome = await hooks.pre_tool_use("bash", {"command": "x"}, "c")
    assert outcome.decision == "ask" and outcome.reason == "ask"  # ask > allow
    assert outcome.updated_input == {"command": "third"}  # last in config order, not last to finish
    assert [e.command for e in events] == [slow_ask, fast_allow, last_allow]


async def test_deny_beats_ask_and_allow_and_reasons_join(project: Path, script: ScriptMaker) -> None:
    deny = script(
        "deny.sh",
        'echo \'{"hookSpecificOutput": {"permissionDecision": "deny", "permissionDecisionReason": "policy"}}\'\n',
    )
    block = script("block.sh", 'echo "no rm" >&2; exit 2\n')
    allow = script("allow.sh", 'echo \'{"hookSpecificOutput": {"permissionDecision": "allow"}}\'\n')
    hooks = session(project, {"PreToolUse": [group(allow), group(deny), group(block)]})
    outcome = await hooks.pre_tool_use("bash", {"command": "rm x"}, "c")
    assert outcome.decision == "block" and outcome.blocked
    assert outcome.reason == "policy\nno rm"


async def test_matchers_and_if_filters_select_handlers(project: Path, script: ScriptMaker) -> None:
    ok = script("ok.sh", "exit 0\n")
    hooks = session(
        project,
        {
            "PreToolUse": [
                group(ok, "Bash", **{"if": "Bash(rm *)"}),
                group(ok + " #edit", "Edit|Write"),
                group(ok + " #all"),
            ]
        },
    )

    def names(tool: str, args: dict[str, Any]) -> list[str]:
        found = hooks.runner.matching("PreToolUse", claude_name(tool), tool=tool, tool_input=args)
        return [handler.command for _, handler in found if isinstance(handler, CommandHandler)]

    assert names("bash", {"command": "rm -r x"}) == [ok, ok + " #all"]
    assert names("bash", {"command": "ls"}) == [ok + " #all"]
    assert names("write", {"file_path": "a"}) == [ok + " #edit", ok + " #all"]


async def test_plain_stdout_is_context_for_prompt_and_session_start(project: Path, script: ScriptMaker) -> None:
    cmd = script("ctx.sh", 'echo "branch: main"\n')
    hooks = session(
        project, {"UserPromptSubmit": [group(cmd)], "SessionStart": [group(cmd, "startup")], "PreToolUse": [group(cmd)]}
    )
    assert await hooks.on_user_prompt("go") == PromptVerdict(blocked=False, extra_context="branch: main")
    assert await hooks.on_session_start("startup") == "branch: main"
    assert await hooks.on_session_start("resume") is None  # matcher is the source
    assert (await hooks.pre_tool_use("bash", {"command": "x"}, "c")).additional_context == []


async def test_user_prompt_block(project: Path, script: ScriptMaker) -> None:
    cmd = script("guard.sh", 'echo \'{"decision": "block", "reason": "no secrets in prompts"}\'\n')
    verdict = await session(project, {"UserPromptSubmit": [group(cmd)]}).on_user_prompt("my key is sk-123")
    assert verdict.blocked and verdict.reason == "no secrets in prompts"


async def test_stop_hook_blocks_once_then_lets_the_run_end(project: Path, script: ScriptMaker, tmp_path: Path) -> None:
    marker = tmp_path / "stopped-once"
    cmd = script(
        "stop.sh",
        f"""
payload=$(cat)
case "$payload" in *'"stop_hook_active": true'*) exit 0;; esac
touch "{marker}"
echo "run the tests before stopping" >&2
exit 2
""",
    )
    hooks = session(project, {"Stop": [group(cmd)]})
    first = await hooks.on_stop("done")
    assert (first.block, first.reason) == (True, "run the tests before stopping")
    assert marker.exists()
    second = await hooks.on_stop("tests pass")  # stop_hook_active is now true: the script lets it stop
    assert (second.block, second.reason) == (False, None)


async def test_stop_continuations_are_bounded(project: Path, script: ScriptMaker) -> None:
    cmd = script("always.sh", 'echo "keep going" >&2; exit 2\n')
    hooks = session(project, {"Stop": [group(cmd)]}, max_stop_blocks=2)
    verdicts = [await hooks.on_stop("x") for _ in range(3)]
    assert [v.block for v in verdicts] == [True, True, False]
    assert verdicts[2].note == "Stop hook blocked 2 times in a row; the run stops anyway"
    await hooks.on_user_prompt("next task")  # a new prompt resets the bound
    assert (await hooks.on_stop("x")).block


async def test_continue_false_requests_a_stop(project: Path, script: ScriptMaker) -> None:
    cmd = script("halt.sh", 'echo \'{"continue": false, "stopReason": "budget exhausted upstream"}\'\n')
    hooks = session(project, {"PostToolUse": [group(cmd)]})
    outcome = await hooks.post_tool_use("bash", {"command": "x"}, "c", "ok")
    assert outcome.stop and hooks.stop_requested == "budget exhausted upstream"


async def test_python_hooks_registered_when_embedding(project: Path) -> None:
    seen: list[dict[str, Any]] = []
    registry = HookRegistry()

    def record(payload: dict[str, Any]) -> None:
        seen.append(payload)

    async def guard(payload: dict[str, Any]) -> dict[str, Any]:
        if "rm" in payload["tool_input"]["command"]:
            raise HookBlock("python says no")
        return {"hookSpecificOutput": {"additionalContext": "python was here"}}

    def broken(payload: dict[str, Any]) -> None:
        raise RuntimeError("bug in hook")

    registry.register("PreToolUse", "Bash", record)
    registry.register("PreToolUse", "Bash", guard)
    registry.register("PreToolUse", "Read", broken)
    events = Events()
    hooks = session(project, {}, events, registry=registry)
    denied = await hooks.pre_tool_use("bash", {"command": "rm x"}, "c1")
    assert (denied.decision, denied.reason) == ("block", "python says no")
    allowed = await hooks.pre_tool_use("bash", {"command": "ls"}, "c2")
    assert allowed.additional_context == ["python was here"] and not allowed.blocked
    failed = await hooks.pre_tool_use("read", {"file_path": "x"}, "c3")
    assert failed.messages == ["RuntimeError: bug in hook"] and not failed.blocked
    assert [p["tool_use_id"] for p in seen] == ["c1", "c2"]
    assert [e.command.split(".")[-1] for e in events][:2] == ["record", "guard"]
    assert all(isinstance(e, HookRan) for e in events)
