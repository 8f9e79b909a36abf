"""The loop driver end to end with scripted models: event order, budgets and the finalize turn, cancellation,
timeouts, structured output, permissions reaching the model, and what each terminal reason exits with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tau.config.spec import EnvironmentSpec, JobSpec, LimitsSpec, ModelSpec, OutputSpec, PermissionsSpec
from tau.errors import Interrupted
from tau.protocol import Event, RunCompleted
from tau.runtime import prepare_run
from tau.sessions import InMemorySessionStore
from tau.testing import Turn, calls, reply, scripted_model

pytestmark = pytest.mark.anyio


def make_job(workspace: Path, **overrides: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "source": "<test>",
        "prompt": "do the task",
        "model": ModelSpec(provider="test", name="scripted"),
        "environment": EnvironmentSpec(workspace=str(workspace)),
        "permissions": PermissionsSpec(mode="acceptEdits", allow=("Bash(*)",)),
    }
    fields.update(overrides)
    return JobSpec(**fields)


async def run_job(
    job: JobSpec, steps: list[Any], store: InMemorySessionStore | None = None
) -> tuple[RunCompleted, list[Event], Any]:
    model, script = scripted_model(steps)
    events: list[Event] = []
    driver = await prepare_run(job, sinks=[events.append], model=model, store=store)
    try:
        result = await driver.run()
    finally:
        await driver.close()
    return result, events, script


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


def tool_returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]


async def test_event_stream_shape_and_seq(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    result, events, _ = await run_job(
        make_job(tmp_path), [calls(("read", {"file_path": "a.txt"})), reply("two lines", chunk=3)]
    )
    assert types(events) == [
        "session.started",
        "turn.started",
        "message.completed",
        "usage.updated",
        "snapshot.created",  # a response that asks for tools is committed before they run
        "tool.started",
        "permission.decided",
        "tool.completed",
        "turn.started",
        "message.delta",
        "message.delta",
        "message.delta",
        "message.completed",
        "usage.updated",
        "snapshot.created",
        "run.completed",
    ]
    assert [e.seq for e in events] == list(range(len(events)))
    first = events[0]
    assert first.type == "session.started"
    assert first.schema_version == "2.0"
    assert first.tools == ["read", "write", "edit", "bash", "glob", "grep", "memory", "ask_user"]
    assert first.environment.workspace == str(tmp_path)
    assert result == events[-1]
    assert (result.status, result.terminal_reason, result.exit_code, result.result) == (
        "completed",
        "completed",
        0,
        "two lines",
    )
    assert result.num_turns == 2
    assert result.usage.requests == 2
    assert result.usage.tool_calls == 1


async def test_parallel_tool_calls_all_run(tmp_path: Path) -> None:
    result, events, script = await run_job(
        make_job(tmp_path),
        [
            calls(
                ("write", {"file_path": "x.txt", "content": "X"}),
                ("write", {"file_path": "y.txt", "content": "Y"}),
                ("bash", {"command": "echo hi"}),
            ),
            reply("ok"),
        ],
    )
    assert result.exit_code == 0
    assert (tmp_path / "x.txt").read_text() == "X"
    assert (tmp_path / "y.txt").read_text() == "Y"
    done = [e for e in events if e.type == "tool.completed"]
    assert sorted(e.call_id for e in done) == ["call_1_0", "call_1_1", "call_1_2"]
    assert all(e.status == "success" for e in done)
    assert "hi" in next(r for r in tool_returns(script.requests[1]) if r.tool_name == "bash").model_response_str()


async def test_turn_limit_gets_one_final_turn_without_tools(tmp_path: Path) -> None:
    job = make_job(tmp_path, limits=LimitsSpec(max_turns=2))
    steps = [calls(("bash", {"command": "true"})), calls(("bash", {"command": "true"})), reply("summary: ran twice")]
    result, _, script = await run_job(job, steps)
    assert (result.terminal_reason, result.exit_code, result.status) == ("max_turns", 53, "failed")
    assert result.result == "summary: ran twice"
    # the finalize request offered no tools and told the model why
    assert [t.name for t in script.infos[2].function_tools] == []
    last_prompt = [p for p in script.requests[2][-1].parts if isinstance(p, UserPromptPart)]
    assert "budget" in str(last_prompt[-1].content).lower()
    assert script.infos[0].function_tools  # earlier turns had tools


async def test_model_that_keeps_calling_tools_after_finalize_is_stopped(tmp_path: Path) -> None:
    job = make_job(tmp_path, limits=LimitsSpec(max_turns=1))
    steps = [calls(("bash", {"command": "true"})), calls(("bash", {"command": "true"})), reply("never")]
    result, _, script = await run_job(job, steps)
    assert (result.terminal_reason, result.exit_code) == ("max_turns", 53)
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        (LimitsSpec(max_tool_calls=2), "max_tool_calls"),
        (LimitsSpec(max_tokens=1), "max_tokens"),
        (LimitsSpec(max_consecutive_failures=2), "max_consecutive_failures"),
    ],
)
async def test_budgets_exit_5(tmp_path: Path, limits: LimitsSpec, reason: str) -> None:
    def fail_until_tools_vanish(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        if not info.function_tools:
            return reply("stopped")
        return calls(("read", {"file_path": "missing.txt"}))

    result, _, script = await run_job(make_job(tmp_path, limits=limits), [fail_until_tools_vanish] * 10)
    assert (result.terminal_reason, result.exit_code, result.result) == (reason, 5, "stopped")
    assert len(script.requests) <= 4


async def test_default_request_limit_of_pydantic_ai_does_not_cut_long_runs(tmp_path: Path) -> None:
    steps: list[Any] = [calls(("bash", {"command": "true"})) for _ in range(60)] + [reply("done")]
    result, _, _ = await run_job(make_job(tmp_path, limits=LimitsSpec(max_turns=None)), steps)
    assert (result.exit_code, result.num_turns) == (0, 61)


async def test_wall_timeout_exits_124(tmp_path: Path) -> None:
    job = make_job(tmp_path, limits=LimitsSpec(timeout=0.5))
    result, events, _ = await run_job(job, [calls(("bash", {"command": "sleep 20"})), reply("late")])
    assert (result.terminal_reason, result.exit_code) == ("timeout", 124)
    assert events[-1].type == "run.completed"


async def test_idle_timeout_exits_124_when_the_model_goes_silent(tmp_path: Path) -> None:
    async def silent(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        await asyncio.sleep(20)
        yield "late"

    events: list[Event] = []
    job = make_job(tmp_path, limits=LimitsSpec(idle_timeout=0.3))
    driver = await prepare_run(job, sinks=[events.append], model=FunctionModel(stream_function=silent))
    try:
        result = await driver.run()
    finally:
        await driver.close()
    assert (result.terminal_reason, result.exit_code) == ("idle_timeout", 124)


async def test_a_silent_running_tool_is_not_idle(tmp_path: Path) -> None:
    job = make_job(tmp_path, limits=LimitsSpec(idle_timeout=0.3))
    result, _, _ = await run_job(job, [calls(("bash", {"command": "sleep 1"})), reply("done")])
    assert (result.terminal_reason, result.exit_code, result.result) == ("completed", 0, "done")


@pytest.mark.parametrize(
    ("signal_name", "code", "reason"), [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")]
)
async def test_cancel_ends_with_signal_code_and_keeps_completed_steps(
    tmp_path: Path, signal_name: str, code: int, reason: str
) -> None:
    model, _ = scripted_model([calls(("bash", {"command": "true"})), calls(("bash", {"command": "sleep 20"}))])
    events: list[Event] = []
    store = InMemorySessionStore()
    driver = await prepare_run(make_job(tmp_path), sinks=[events.append], model=model, store=store)

    async def stop_when_sleeping() -> None:
        while not any(e.type == "tool.started" and e.input.get("command") == "sleep 20" for e in events):
            await asyncio.sleep(0.01)
        driver.cancel(Interrupted(f"received {signal_name}", signal_name=signal_name))

    stopper = asyncio.get_running_loop().create_task(stop_when_sleeping())
    result = await driver.run()
    await stopper
    assert (result.terminal_reason, result.exit_code) == (reason, code)
    history = await store.history(driver.session_id)
    assert [r.tool_name for r in tool_returns(history)][:1] == ["bash"]


async def test_structured_output_is_validated_against_the_schema(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "title": "answer",
        "properties": {"count": {"type": "integer", "minimum": 0}},
        "required": ["count"],
    }
    job = make_job(tmp_path, output=OutputSpec(format="json", schema=schema))
    steps = [calls(("final_result", {"count": -3})), calls(("final_result", {"count": 3}))]
    result, _, script = await run_job(job, steps)
    assert (result.exit_code, result.structured_output, result.result) == (0, {"count": 3}, '{"count": 3}')
    rejected = tool_returns(script.requests[1])[-1]
    assert rejected.outcome == "retried"
    assert "does not match the required JSON schema" in rejected.model_response_str()
    assert "minimum of 0" in rejected.model_response_str()


async def test_denied_call_reaches_the_model_and_run_continues(tmp_path: Path) -> None:
    job = make_job(tmp_path, permissions=PermissionsSpec(mode="default", deny=("Bash(rm *)",)))
    steps = [calls(("bash", {"command": "echo x && rm -rf data"})), reply("could not delete")]
    (tmp_path / "data").mkdir()
    result, events, script = await run_job(job, steps)
    assert result.exit_code == 0
    assert (tmp_path / "data").is_dir()
    denied = tool_returns(script.requests[1])[0]
    assert denied.outcome == "denied"
    assert "Bash(rm *)" in denied.model_response_str()
    assert [d.tool for d in result.permission_denials] == ["bash"]
    decided = [e for e in events if e.type == "permission.decided"]
    assert [(e.decision, e.resolution) for e in decided] == [("deny", "denied")]


async def test_headless_ask_is_denied_with_a_reason(tmp_path: Path) -> None:
    job = make_job(tmp_path, permissions=PermissionsSpec(mode="default"))
    steps = [calls(("write", {"file_path": "f.txt", "content": "x"})), reply("ok")]
    result, _, script = await run_job(job, steps)
    assert not (tmp_path / "f.txt").exists()
    text = tool_returns(script.requests[1])[0].model_response_str()
    assert "No human is available" in text
    assert result.exit_code == 0


async def test_invalid_tool_arguments_and_unknown_tools_are_retried_not_fatal(tmp_path: Path) -> None:
    steps = [
        calls(("read", '{"file_path": ')),  # invalid JSON
        calls(("read", {"file_path": 3, "limit": "many"})),  # wrong types
        calls(("frobnicate", {"x": 1})),  # unknown tool
        reply("recovered"),
    ]
    result, _, script = await run_job(make_job(tmp_path), steps)
    assert (result.exit_code, result.result) == (0, "recovered")
    assert len(script.requests) == 4


async def test_every_step_is_committed_to_the_store(tmp_path: Path) -> None:
    store = InMemorySessionStore()
    steps = [calls(("bash", {"command": "echo 1"})), calls(("bash", {"command": "echo 2"})), reply("done")]
    result, events, _ = await run_job(make_job(tmp_path), steps, store=store)
    snapshots = [e for e in events if e.type == "snapshot.created"]
    assert [s.step for s in snapshots] == [1, 2, 3]
    assert store.head(result.session_id) == snapshots[-1].snapshot_id
    history = await store.history(result.session_id)
    assert [r.model_response_str().strip().splitlines()[-1] for r in tool_returns(history)] == ["1", "2"]


async def test_provider_failure_is_exit_1_with_terminal_event(tmp_path: Path) -> None:
    from pydantic_ai.exceptions import ModelHTTPError

    def boom(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        raise ModelHTTPError(status_code=401, model_name="m", body={"error": "bad key"})

    result, events, _ = await run_job(make_job(tmp_path), [boom])
    assert (result.status, result.exit_code, result.terminal_reason) == ("failed", 1, "provider_error")
    assert "401" in (result.error or "")
    assert types(events)[0] == "session.started" and types(events)[-1] == "run.completed"
