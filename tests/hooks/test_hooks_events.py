"""PermissionRequest, SubagentStart/SubagentStop and Setup through the whole runtime (`prepare_run`: real tools on a
host workspace, the real permission layer and task tool, a scripted model), with real hook scripts from a trusted
project's `.claude/settings.json`; and the settings `env` in hook and tool commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hooksupport import ScriptMaker
from pydantic_ai.messages import ModelRequest, ToolReturnPart

from tau.cli.hooks_cmd import hooks as hooks_cli
from tau.config.spec import EnvironmentSpec, JobSpec, ModelSpec, PermissionsSpec, TrustSpec
from tau.hooks import hook_session, merge_sources
from tau.protocol import Event, PermissionDecided, ToolCompleted
from tau.runtime import prepare_run
from tau.testing import calls, reply, scripted_model
from tau.testing.scripted import ScriptedModel

pytestmark = pytest.mark.anyio

SAVE = """python3 -c '
import json, sys
payload = json.load(sys.stdin)
name = payload["hook_event_name"] + "-" + str(payload.get("tool_use_id") or payload.get("agent_type") or "x")
json.dump(payload, open(sys.argv[1] + "/" + name + ".json", "w"))
' "{out}"
"""


def settings(project: Path, hooks: dict[str, Any], **extra: Any) -> None:
    path = project / ".claude" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"hooks": hooks, **extra}))


def handler(command: str, matcher: str | None = None) -> list[dict[str, Any]]:
    group: dict[str, Any] = {"hooks": [{"type": "command", "command": command}]}
    if matcher is not None:
        group["matcher"] = matcher
    return [group]


def answer(script: ScriptMaker, name: str, output: dict[str, Any]) -> str:
    return script(name, f"cat > /dev/null\ncat <<'EOF'\n{json.dumps(output)}\nEOF\n")


async def run(
    project: Path, turns: list[Any], *, env: dict[str, str] | None = None, **permissions: Any
) -> tuple[Any, ScriptedModel, list[Event]]:
    (project / ".git").mkdir(exist_ok=True)
    model, script = scripted_model([*turns])
    job = JobSpec(
        source="<test>",
        prompt="go",
        model=ModelSpec(provider="test", name="scripted"),
        environment=EnvironmentSpec(workspace=str(project)),
        permissions=PermissionsSpec(**permissions),
        home=str(project.parent / "home"),
        trust=TrustSpec(root=str(project), trusted=True, via="test"),
        env=env or {},
    )
    events: list[Event] = []
    driver = await prepare_run(job, model=model, sinks=[events.append], environ={"PATH": "/usr/bin:/bin"})
    try:
        result = await driver.run()
    finally:
        await driver.close()
    return result, script, events


def returns(script: ScriptedModel, request: int = 1) -> list[ToolReturnPart]:
    message = script.requests[request][-1]
    assert isinstance(message, ModelRequest)
    return [p for p in message.parts if isinstance(p, ToolReturnPart)]


def saved(out: Path) -> dict[str, Any]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(out.iterdir())}


async def test_permission_request_allows_an_ask_before_the_asker(
    project: Path, script: ScriptMaker, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    allow = {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}}
    save = script("save.sh", SAVE.format(out=out))
    settings(project, {"PermissionRequest": [*handler(answer(script, "allow.sh", allow), "Bash"), *handler(save)]})
    result, model, events = await run(project, [calls(("bash", {"command": "echo ok > ok.txt"})), reply("done")])
    assert result.exit_code == 0
    assert (project / "ok.txt").read_text() == "ok\n"  # default mode asks for bash; the hook approved it
    assert [r.outcome for r in returns(model)] == ["success"]
    payload = saved(out)["PermissionRequest-call_1_0"]
    assert {k: v for k, v in payload.items() if k not in ("session_id", "transcript_path")} == {
        "cwd": str(project),
        "hook_event_name": "PermissionRequest",
        "permission_mode": "default",
        "tool_name": "Bash",
        "tool_input": {"command": "echo ok > ok.txt"},
        "tool_use_id": "call_1_0",
        "permission_suggestions": [],
    }
    assert payload["transcript_path"].endswith(f"/transcripts/{result.session_id}.jsonl")
    decided = [e for e in events if isinstance(e, PermissionDecided)]
    assert [(d.decision, d.resolution) for d in decided] == [("ask", "allowed")]


async def test_permission_request_deny_and_interrupt(project: Path, script: ScriptMaker) -> None:
    deny = {"hookSpecificOutput": {"decision": {"behavior": "deny", "message": "not on Fridays", "interrupt": True}}}
    settings(project, {"PermissionRequest": handler(answer(script, "deny.sh", deny))})
    result, model, events = await run(project, [calls(("bash", {"command": "touch made"})), reply("unreachable")])
    (denied,) = [e for e in events if isinstance(e, ToolCompleted)]
    assert denied.status == "denied" and "Denied by a PermissionRequest hook: not on Fridays" in denied.output
    assert not (project / "made").exists()
    assert (result.status, result.exit_code, result.terminal_reason) == ("failed", 1, "hook_stopped")
    assert len(model.requests) == 1  # interrupt: the model never gets another turn


async def test_permission_request_without_an_answer_leaves_it_to_the_asker_and_never_sees_a_deny(
    project: Path, script: ScriptMaker, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    settings(project, {"PermissionRequest": handler(script("save.sh", SAVE.format(out=out)))})
    turns = [calls(("bash", {"command": "touch asked"}), ("bash", {"command": "rm -rf x"})), reply("done")]
    result, model, _ = await run(project, turns, deny=("Bash(rm *)",))
    asked, denied = returns(model)
    assert asked.outcome == "denied" and "No human is available" in str(asked.content)  # the headless asker
    assert denied.outcome == "denied" and "Bash(rm *)" in str(denied.content)
    assert list(saved(out)) == ["PermissionRequest-call_1_0"]  # a deny rule never asks, so no PermissionRequest
    assert result.exit_code == 0


async def test_an_ask_left_to_the_asker_fires_notification_first(
    project: Path, script: ScriptMaker, tmp_path: Path
) -> None:
    """Claude Code's Notification (`permission_prompt`) for every ask no PermissionRequest hook answered; an ask a
    hook answered, and a call a rule decided, notify nobody."""
    out = tmp_path / "out"
    out.mkdir()
    allow = {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}}
    save = script("save.sh", SAVE.format(out=out))
    settings(
        project,
        {
            "PermissionRequest": handler(answer(script, "allow.sh", allow), "Write"),
            "Notification": handler(save, "permission_prompt"),
        },
    )
    turns = [
        calls(
            ("bash", {"command": "touch asked"}),
            ("write", {"file_path": "hooked.txt", "content": "x"}),
            ("bash", {"command": "rm -rf x"}),
        ),
        reply("done"),
    ]
    result, _, _ = await run(project, turns, deny=("Bash(rm *)",))
    assert result.exit_code == 0
    notified = saved(out)
    assert list(notified) == ["Notification-x"]  # one ask reached the asker: the first bash call
    payload = notified["Notification-x"]
    assert payload["hook_event_name"] == "Notification"
    assert payload["notification_type"] == "permission_prompt"
    assert payload["message"] == "tau needs your permission to use Bash"


async def test_subagent_start_and_stop_name_the_subagent(project: Path, script: ScriptMaker, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    agents = project / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "helper.md").write_text("---\nname: helper\ndescription: Helps.\n---\nYou help.\n")
    context = {"hookSpecificOutput": {"hookEventName": "SubagentStart", "additionalContext": "Use British spelling."}}
    save = script("save.sh", SAVE.format(out=out))
    settings(
        project,
        {
            "SubagentStart": [*handler(answer(script, "ctx.sh", context), "helper"), *handler(save)],
            "SubagentStop": handler(save, "helper"),
            "Stop": handler(save),
        },
    )
    task = ("task", {"description": "help", "prompt": "say hi", "subagent_type": "helper"})
    result, model, _ = await run(project, [calls(task), reply("hi from the child"), reply("the child said hi")])
    assert result.exit_code == 0
    child_prompt = model.requests[1][-1]
    assert isinstance(child_prompt, ModelRequest)
    assert "say hi\n\nUse British spelling." in [getattr(p, "content", None) for p in child_prompt.parts]
    got = saved(out)
    agent_id = f"{result.session_id}.task-call_1_0"
    start = got["SubagentStart-helper"]
    assert (start["hook_event_name"], start["agent_id"], start["agent_type"]) == ("SubagentStart", agent_id, "helper")
    stop = got["SubagentStop-helper"]
    assert (stop["agent_id"], stop["agent_type"], stop["last_assistant_message"]) == (
        agent_id,
        "helper",
        "hi from the child",
    )
    assert got["Stop-x"]["last_assistant_message"] == "the child said hi"
    assert "agent_id" not in got["Stop-x"]


async def test_settings_env_reaches_hook_and_tool_commands(project: Path, script: ScriptMaker, tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    settings(project, {"PostToolUse": handler(script("env.sh", f'echo "$DEPLOY_TARGET" > "{seen}"\n'))})
    turns = [calls(("bash", {"command": "echo target=$DEPLOY_TARGET"})), reply("done")]
    result, model, _ = await run(project, turns, env={"DEPLOY_TARGET": "staging"}, allow=("Bash(echo *)",))
    assert result.exit_code == 0
    (ran,) = returns(model)
    assert ran.content == "exit code: 0\nstdout:\ntarget=staging"
    assert seen.read_text() == "staging\n"


async def test_setup_hooks_get_the_trigger_and_give_context(project: Path, script: ScriptMaker) -> None:
    cmd = script(
        "setup.sh",
        'echo "installed deps for $(python3 -c "import json,sys; print(json.load(sys.stdin)[\'trigger\'])")"\n',
    )
    group = {"matcher": "init", "hooks": [{"type": "command", "command": cmd}]}
    session = hook_session(
        merge_sources([("s.json", {"hooks": {"Setup": [group]}})]), session_id="s", project_dir=str(project)
    )
    assert await session.on_setup("init") == "installed deps for init"
    assert await session.on_setup("maintenance") is None  # the matcher is the trigger


def test_tau_hooks_setup_runs_setup_hooks_with_settings_env(project: Path, script: ScriptMaker, tmp_path: Path) -> None:
    marker = tmp_path / "setup.json"
    ok = script("ok.sh", f'cat > "{marker}"; echo "cache=$CACHE_DIR"\n')
    failing = script("fail.sh", "echo broken >&2; exit 1\n")
    settings(project, {"Setup": [*handler(ok, "init"), *handler(failing, "maintenance")]}, env={"CACHE_DIR": "/c"})
    runner = CliRunner()
    args = ["setup", "--cwd", str(project)]
    untrusted = runner.invoke(hooks_cli, args, env={"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": ""})
    assert untrusted.exit_code == 0 and json.loads(untrusted.stdout)["hooks"] == []
    assert "untrusted workspace" in untrusted.stderr and not marker.exists()
    trusted = runner.invoke(hooks_cli, [*args, "--trust-workspace"], env={"HOME": str(tmp_path / "home")})
    assert trusted.exit_code == 0, trusted.output
    assert json.loads(trusted.stdout)["additional_context"] == ["cache=/c"]
    assert json.loads(marker.read_text())["trigger"] == "init"
    maintenance = runner.invoke(hooks_cli, [*args, "--trust-workspace", "--maintenance"], env={"HOME": str(tmp_path)})
    assert maintenance.exit_code == 1
    (ran,) = json.loads(maintenance.stdout)["hooks"]
    assert (ran["matcher"], ran["decision"], ran["exit_code"]) == ("maintenance", "error", 1)
