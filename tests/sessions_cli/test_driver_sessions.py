"""The driver with a file store, in process: suspend with pending calls, resume with answers (approve, deny with a
reason the model reads, re-evaluation of unanswered calls), history reaching the model, usage deltas per step, and
the store left closed and clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo
from sessions_cli_helpers import make_job, resume, run_in_process

from tau.config.spec import PermissionsSpec
from tau.errors import ConfigError
from tau.protocol import SessionStarted
from tau.sessions import FileSessionStore
from tau.testing import Turn, calls, reply

pytestmark = pytest.mark.anyio

WRITE = ("write", {"file_path": "a.txt", "content": "A"})


def returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]


def prompts(messages: list[ModelMessage]) -> list[str]:
    return [
        str(p.content)
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, UserPromptPart)
    ]


async def suspended(tmp_path: Path, state: Path) -> None:
    result, events, _ = await run_in_process(make_job(tmp_path), [calls(WRITE)], state, session_id="s")
    assert (result.status, result.terminal_reason, result.exit_code) == ("suspended", "needs_input", 4)
    requested = [e for e in events if e.type == "approval.requested"]
    assert [(e.call_id, e.tool, e.input, e.kind) for e in requested] == [("call_1_0", "write", WRITE[1], "approval")]
    assert "needs approval" in requested[0].reason
    assert types_tail(events) == ["snapshot.created", "approval.requested", "run.completed"]
    assert not (tmp_path / "a.txt").exists()


def types_tail(events: list[Any]) -> list[str]:
    return [e.type for e in events][-3:]


async def test_suspend_commits_pending_and_releases_the_lock(tmp_path: Path) -> None:
    state = tmp_path / "state"
    await suspended(tmp_path, state)
    store = FileSessionStore(state)
    resumed = await store.resume("s")  # the run closed the session: the lock is free
    assert resumed.status == "suspended"
    assert resumed.pending is not None
    assert [c.tool_call_id for c in resumed.pending.approvals] == ["call_1_0"]
    await store.close("s")
    log = await store.log("s")
    assert [s.status for s in log] == ["created", "running", "suspended"]  # the response is committed as it arrives
    assert log[-1].pending and log[-1].totals["requests"] == 1 and log[-1].totals["input_tokens"] > 0
    assert await store.fsck() == []


async def test_approve_runs_the_call_and_continues(tmp_path: Path) -> None:
    state = tmp_path / "state"
    await suspended(tmp_path, state)
    result, events, script = await run_in_process(
        make_job(tmp_path), [reply("wrote it")], state, session_id="s", continuation=resume(approve=("call_1_0",))
    )
    assert (result.status, result.exit_code, result.result) == ("completed", 0, "wrote it")
    assert (tmp_path / "a.txt").read_text() == "A"
    assert isinstance(events[0], SessionStarted) and events[0].session_id == "s" and events[0].snapshot_id
    decided = [e for e in events if e.type == "permission.decided"]
    assert [(e.decision, e.resolution) for e in decided] == [("ask", "allowed")]
    assert prompts(script.requests[0]) == ["do the task"]  # history reached the model, no new prompt
    log = await FileSessionStore(state).log("s")
    assert [s.status for s in log] == ["created", "running", "suspended", "completed"]
    assert log[-1].totals["requests"] == 2 and log[-1].totals["tool_calls"] == 1


async def test_deny_reason_reaches_the_model(tmp_path: Path) -> None:
    state = tmp_path / "state"
    await suspended(tmp_path, state)
    result, events, script = await run_in_process(
        make_job(tmp_path),
        [reply("ok, not writing")],
        state,
        session_id="s",
        continuation=resume(deny={"call_1_0": "no"}),
    )
    assert result.exit_code == 0
    assert not (tmp_path / "a.txt").exists()
    denied = [r for r in returns(script.requests[0]) if r.tool_call_id == "call_1_0"]
    assert denied and denied[0].outcome == "denied" and "no." in denied[0].model_response_str()
    assert [(d.call_id, d.reason) for d in result.permission_denials] == [("call_1_0", "no")]
    assert any(e.type == "permission.decided" and e.resolution == "denied" for e in events)


async def test_unanswered_calls_are_decided_by_the_resumed_policy(tmp_path: Path) -> None:
    state = tmp_path / "state"
    await suspended(tmp_path, state)
    # same policy (suspend): suspends again at once, without a model call
    again, _, script = await run_in_process(make_job(tmp_path), [], state, session_id="s", continuation=resume())
    assert (again.status, again.exit_code) == ("suspended", 4)
    assert script.requests == []
    # an allow rule on resume settles it
    job = make_job(tmp_path, permissions=PermissionsSpec(on_ask="suspend", allow=("Write(*)",)))
    done, _, _ = await run_in_process(job, [reply("done")], state, session_id="s", continuation=resume())
    assert done.exit_code == 0
    assert (tmp_path / "a.txt").read_text() == "A"


async def test_unknown_call_is_a_config_error_and_leaves_the_session_unlocked(tmp_path: Path) -> None:
    state = tmp_path / "state"
    await suspended(tmp_path, state)
    with pytest.raises(ConfigError, match="call_9"):
        await run_in_process(make_job(tmp_path), [], state, session_id="s", continuation=resume(approve=("call_9",)))
    store = FileSessionStore(state)
    await store.resume("s")
    await store.close("s")


async def test_resume_with_prompt_sends_history_and_new_prompt(tmp_path: Path) -> None:
    state = tmp_path / "state"
    job = make_job(tmp_path, permissions=PermissionsSpec(mode="acceptEdits"))
    first, _, _ = await run_in_process(job, [reply("first answer")], state, session_id="r")
    assert first.exit_code == 0

    def check(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        assert prompts(messages) == ["do the task", "and more"]
        return reply("second answer")

    second, events, _ = await run_in_process(job, [check], state, session_id="r", continuation=resume("and more"))
    assert (second.exit_code, second.result) == (0, "second answer")
    assert isinstance(events[0], SessionStarted) and events[0].session_id == "r"
    store = FileSessionStore(state)
    assert [s.step for s in await store.log("r")] == [0, 1, 2]
    [info] = await store.list_sessions()
    assert (info.id, info.turns, info.status) == ("r", 2, "completed") and info.tokens > 0


async def test_resume_without_prompt_or_pending_is_a_config_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    await run_in_process(make_job(tmp_path), [reply("x")], state, session_id="n")
    with pytest.raises(ConfigError, match="not waiting"):
        await run_in_process(make_job(tmp_path), [], state, session_id="n", continuation=resume())


async def test_stored_config_has_no_secrets(tmp_path: Path) -> None:
    from tau.config.spec import ModelSpec

    state = tmp_path / "state"
    job = make_job(
        tmp_path, env={"TOKEN": "s3cret-env"}, model=ModelSpec(provider="test", name="scripted", api_key="s3cret-key")
    )
    await run_in_process(job, [reply("x")], state, session_id="k")
    blob = b"".join(p.read_bytes() for p in (state / "objects").rglob("*") if p.is_file())
    assert b"s3cret" not in blob
