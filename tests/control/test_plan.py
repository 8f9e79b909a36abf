"""Plan mode: the submit_plan output tool, plan files through the workspace backend, the approval / rejection
prompts, and the whole flow (plan run with a denied write -> plan file -> approve -> execution writes) driven by
the current driver with the pieces the lead wires in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from controlsupport import make_job, tool_returns, user_prompts
from pydantic_ai import Agent
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart

from tau.config.spec import PermissionsSpec
from tau.environment import HostBackend
from tau.errors import ConfigError
from tau.protocol import EVENT_ADAPTER, Event, PlanSubmitted
from tau.runtime import Continuation, RunEntry, prepare_run
from tau.runtime.features.plan import (
    AWAITING_PLAN_APPROVAL,
    PLAN_TOOL,
    PlanReview,
    SubmittedPlan,
    approval_prompt,
    execute_plan_prompt,
    execution_mode,
    finish_plan,
    plan_from_messages,
    plan_instructions,
    plan_output_type,
    plan_path,
    plan_text,
    read_plan,
    rejection_prompt,
    review_prompt,
    write_plan,
)
from tau.sessions import InMemorySessionStore
from tau.testing import calls, reply, scripted_model

pytestmark = pytest.mark.anyio

PLAN = "# Plan\n\n1. Create `out.txt` with `done`.\n2. Verify it."


def plan_agent(steps: list[Any]) -> tuple[Agent[None, Any], Any]:
    model, script = scripted_model(steps)
    agent: Agent[None, Any] = Agent(model, output_type=plan_output_type(), instructions=plan_instructions())
    return agent, script


async def test_submit_plan_ends_the_run_at_once() -> None:
    agent, script = plan_agent([calls((PLAN_TOOL, {"plan": f"  {PLAN}\n\n"}))])
    result = await agent.run("plan it")
    assert result.output == SubmittedPlan(PLAN)
    assert len(script.requests) == 1  # no extra model request after the plan
    assert PLAN_TOOL in [t.name for t in script.infos[0].output_tools]
    assert plan_instructions() in str(script.requests[0])


async def test_plain_text_is_taken_as_the_plan() -> None:
    agent, _ = plan_agent([reply(PLAN)])
    result = await agent.run("plan it")
    assert result.output == PLAN
    assert plan_text(result.output) == PLAN


async def test_an_empty_plan_is_sent_back_to_the_model() -> None:
    agent, script = plan_agent([calls((PLAN_TOOL, {"plan": "  "})), calls((PLAN_TOOL, {"plan": PLAN}))])
    result = await agent.run("plan it")
    assert result.output == SubmittedPlan(PLAN)
    retry = str(script.requests[1][-1])
    assert "The plan is empty" in retry


def test_plan_text_of_other_outputs() -> None:
    assert plan_text(SubmittedPlan("x")) == "x"
    assert plan_text("  text \n") == "text"
    assert plan_text("   ") is None
    assert plan_text(None) is None
    assert plan_text({"structured": 1}) is None


async def test_write_and_read_the_plan_through_the_backend(tmp_path: Path) -> None:
    backend = HostBackend(tmp_path)
    path = await write_plan(backend, "sess-1", PLAN + "\n\n\n")
    assert path == ".tau/plans/sess-1.md"
    assert (tmp_path / path).read_text() == PLAN + "\n"
    assert await read_plan(backend, "sess-1") == PLAN
    assert await read_plan(backend, "other") is None
    custom = await write_plan(backend, "sess-1", PLAN, plan_dir="docs/plans")
    assert (tmp_path / "docs/plans/sess-1.md").is_file()
    assert custom == "docs/plans/sess-1.md"


async def test_plan_files_stay_inside_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with pytest.raises(PermissionError):
        await write_plan(HostBackend(workspace), "s", PLAN, plan_dir="../escape")
    assert not (tmp_path / "escape").exists()
    with pytest.raises(ConfigError):
        plan_path("../x")


async def test_finish_plan_writes_and_returns_the_event(tmp_path: Path) -> None:
    backend = HostBackend(tmp_path)
    event = await finish_plan(SubmittedPlan(PLAN), workspace=backend, session_id="s1")
    assert event == PlanSubmitted(path=".tau/plans/s1.md", plan=PLAN)
    assert EVENT_ADAPTER.validate_json(event.model_dump_json()) == event
    assert event.model_dump()["type"] == "plan.submitted"
    assert await finish_plan(None, workspace=backend, session_id="s2") is None
    assert not (tmp_path / ".tau/plans/s2.md").exists()


def test_prompts_and_modes() -> None:
    assert approval_prompt(PLAN + "\n") == f"The plan was approved; execute it:\n\n{PLAN}"
    assert rejection_prompt("too risky").startswith("The plan was rejected: too risky\n\nYou are still in plan mode")
    assert "no reason was given" in rejection_prompt("  ")
    assert execute_plan_prompt(PLAN, "Also run the tests.") == (
        f"Execute this approved plan:\n\n{PLAN}\n\nAlso run the tests."
    )
    assert execute_plan_prompt(PLAN, None) == f"Execute this approved plan:\n\n{PLAN}"
    assert execution_mode("plan") == "acceptEdits"
    assert execution_mode("default") == "default"
    assert execution_mode("plan", "default") == "default"
    assert execution_mode("plan", "plan") == "acceptEdits"
    assert PlanReview("reject", "no").mode("plan", "bypassPermissions") == "plan"
    assert PlanReview("approve").mode("plan", None) == "acceptEdits"


def test_plan_from_messages_prefers_the_submitted_plan() -> None:
    submitted = ModelResponse(parts=[TextPart("thinking"), ToolCallPart(PLAN_TOOL, {"plan": PLAN})])
    assert plan_from_messages([submitted]) == PLAN
    assert plan_from_messages([ModelResponse(parts=[TextPart(" text plan ")])]) == "text plan"
    assert plan_from_messages([]) is None


async def test_review_prompt_reads_the_edited_plan_file(tmp_path: Path) -> None:
    backend = HostBackend(tmp_path)
    await write_plan(backend, "s1", PLAN)
    (tmp_path / ".tau/plans/s1.md").write_text(PLAN + "\n3. Edited by the operator.\n")
    approved = await review_prompt(PlanReview("approve"), workspace=backend, session_id="s1")
    assert approved.endswith("3. Edited by the operator.")
    history = [ModelResponse(parts=[ToolCallPart(PLAN_TOOL, {"plan": "from history"})])]
    fallback = await review_prompt(PlanReview("approve"), workspace=backend, session_id="s2", messages=history)
    assert fallback == approval_prompt("from history")
    rejected = await review_prompt(PlanReview("reject", "add tests"), workspace=backend, session_id="s1")
    assert rejected == rejection_prompt("add tests")
    with pytest.raises(ConfigError, match="no plan to approve"):
        await review_prompt(PlanReview("approve"), workspace=backend, session_id="s3")


async def test_plan_flow_end_to_end_with_the_driver(tmp_path: Path) -> None:
    """Plan run (write denied, text plan) -> the driver writes the plan, emits it, exit 4 -> approval continuation
    (`Continuation(plan_review=...)`) in execution mode writes."""
    store = InMemorySessionStore()
    plan_job = make_job(tmp_path, permissions=PermissionsSpec(mode="plan"), session_id="p1")
    model, planner = scripted_model([calls(("write", {"file_path": "out.txt", "content": "early"})), reply(PLAN)])
    events: list[Event] = []
    driver = await prepare_run(plan_job, sinks=[events.append], model=model, store=store)
    try:
        planned = await driver.run()
    finally:
        await driver.close()
    assert not (tmp_path / "out.txt").exists()
    denied = tool_returns(planner.requests[1], "write")
    assert denied and "plan" in denied[0].model_response_str().lower()
    assert (planned.status, planned.terminal_reason, planned.exit_code, planned.result) == (
        "suspended",
        AWAITING_PLAN_APPROVAL,
        4,
        PLAN,
    )
    assert events[-2] == PlanSubmitted(path=".tau/plans/p1.md", plan=PLAN, seq=events[-2].seq)
    assert (tmp_path / ".tau/plans/p1.md").read_text() == PLAN + "\n"
    assert plan_instructions() in str(planner.requests[0])

    review = PlanReview("approve")
    run_job = make_job(
        tmp_path,
        permissions=PermissionsSpec(mode=review.mode(plan_job.permissions.mode)),
        session_id="p1",
    )
    model, executor = scripted_model([calls(("write", {"file_path": "out.txt", "content": "done"})), reply("ok")])
    continuation = Continuation(None, plan_review=review)
    driver = await prepare_run(run_job, model=model, store=store, entry=RunEntry(continuation=continuation))
    try:
        executed = await driver.run()
    finally:
        await driver.close()
    assert executed.exit_code == 0
    assert (tmp_path / "out.txt").read_text() == "done"
    seen = user_prompts(executor.requests[0])
    assert seen == ["do the task", approval_prompt(PLAN)]  # same session: the original prompt, then the approval
    last = executor.requests[0][-1]
    assert isinstance(last, ModelRequest) and plan_instructions() not in (last.instructions or "")

    again = await prepare_run(run_job, model=model, store=store, entry=RunEntry(continuation=continuation))
    try:
        with pytest.raises(ConfigError, match="not awaiting plan approval"):
            await again.run()
    finally:
        await again.close()
