"""Finished tool calls survive a crash (tau.runtime.results), in process with scripted models:

- a step's commits: its response when it arrives, then provisional snapshots of the results so far as calls finish
  (calls that finish while one is written go together in the next), replaced by the next step's commit — the stored
  history ends as a run's own, nothing twice; a result's event is released only once a commit holding it is written;
- a recovering run (`Continuation(recover=True)`, a durable engine's retry) whose head holds a step cut off with one
  call finished and one not runs only the unfinished call (a side effect counts executions) and sends both results;
- the call it runs again is decided afresh by the permission policy (an `ask` under `on_ask: deny` is denied), not
  waved through as approved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic_ai.messages import (
    FunctionToolResultEvent,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from tau.config.spec import EnvironmentSpec, JobSpec, ModelSpec, PermissionsSpec
from tau.protocol import Event, ToolStarted
from tau.runtime import Continuation, RunEntry, prepare_run
from tau.runtime.results import GroupCommit
from tau.sessions import InMemorySessionStore, StepRecord
from tau.testing import calls, reply, scripted_model

pytestmark = pytest.mark.anyio

A = "echo a >> ran.txt"
B = "echo b >> ran.txt"


class RecordingStore(InMemorySessionStore):
    """The in-memory store, keeping every record committed (status, provisional, message kinds)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[StepRecord] = []

    async def commit(self, session_id: str, record: StepRecord) -> str:
        self.records.append(record)
        return await super().commit(session_id, record)


def make_job(workspace: Path, permissions: PermissionsSpec | None = None) -> JobSpec:
    return JobSpec(
        source="<test>",
        prompt="do the task",
        model=ModelSpec(provider="test", name="scripted"),
        environment=EnvironmentSpec(workspace=str(workspace)),
        permissions=permissions or PermissionsSpec(mode="acceptEdits", allow=("Bash(*)",)),
    )


async def run(
    job: JobSpec, steps: list[Any], store: InMemorySessionStore, entry: RunEntry | None = None
) -> tuple[Any, list[Event], Any]:
    model, script = scripted_model(steps)
    events: list[Event] = []
    driver = await prepare_run(job, sinks=[events.append], model=model, store=store, entry=entry)
    try:
        result = await driver.run()
    finally:
        await driver.close()
    return result, events, script


def returns(messages: list[ModelMessage]) -> dict[str, ToolReturnPart]:
    return {
        p.tool_call_id: p
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, ToolReturnPart)
    }


async def test_each_finished_call_is_committed_as_it_finishes_and_replaced_by_the_next_step(tmp_path: Path) -> None:
    store = RecordingStore()
    result, _, _ = await run(
        make_job(tmp_path), [calls(("bash", {"command": A}), ("bash", {"command": B})), reply("ok")], store
    )
    assert (result.status, result.result) == ("completed", "ok")
    shape = [(r.status, r.provisional, [type(m).__name__ for m in r.messages]) for r in store.records]
    provisional = ("running", True, ["ModelRequest"])  # the results so far (two calls finishing together: one commit)
    assert shape[0] == ("running", False, ["ModelRequest", "ModelResponse"])  # the response, before its calls run
    assert shape[1:-1] in ([provisional], [provisional, provisional])
    assert shape[-1] == ("completed", False, ["ModelRequest", "ModelResponse"])  # the results' request, the answer
    partials = [r.messages[0] for r in store.records if r.provisional]
    assert all(isinstance(m, ModelRequest) and m.state == "interrupted" for m in partials)
    assert len(partials[-1].parts) == 2
    history = await store.history(result.session_id)
    assert [type(m).__name__ for m in history] == ["ModelRequest", "ModelResponse", "ModelRequest", "ModelResponse"]
    assert all(getattr(m, "state", "complete") == "complete" for m in history)  # the provisional tail was replaced
    assert sorted((tmp_path / "ran.txt").read_text().split()) == ["a", "b"]


async def crashed_mid_step(store: InMemorySessionStore) -> None:
    """A session as a process SIGKILLed mid-step leaves it: the response with calls a and b, then the provisional
    request holding a's result (b was running)."""
    await store.begin("s", {})
    response = ModelResponse(
        parts=[
            ToolCallPart("bash", {"command": A}, tool_call_id="a"),
            ToolCallPart("bash", {"command": B}, tool_call_id="b"),
        ]
    )
    await store.commit("s", StepRecord(1, [ModelRequest(parts=[UserPromptPart("do the task")]), response]))
    finished = ToolReturnPart("bash", "exit code: 0\nstdout:\n(a ran before the crash)", tool_call_id="a")
    await store.commit("s", StepRecord(2, [ModelRequest(parts=[finished], state="interrupted")], provisional=True))
    await store.close("s")


async def test_a_recovering_run_runs_only_the_call_without_a_result(tmp_path: Path) -> None:
    store = InMemorySessionStore()
    await crashed_mid_step(store)
    entry = RunEntry(session_id="s", continuation=Continuation(recover=True))
    result, events, script = await run(make_job(tmp_path), [reply("done")], store, entry)
    assert (result.status, result.result) == ("completed", "done")
    assert (tmp_path / "ran.txt").read_text() == "b\n"  # a is not run again: its stored result stands
    assert [e.input["command"] for e in events if isinstance(e, ToolStarted)] == [B]
    sent = returns(script.requests[0])
    assert sent["a"].content == "exit code: 0\nstdout:\n(a ran before the crash)"
    assert sent["b"].outcome == "success" and "exit code: 0" in str(sent["b"].content)


async def test_a_call_run_again_is_decided_afresh_not_approved(tmp_path: Path) -> None:
    store = InMemorySessionStore()
    await crashed_mid_step(store)
    entry = RunEntry(session_id="s", continuation=Continuation(recover=True))
    asking = PermissionsSpec(mode="default", on_ask="deny")  # bash asks; nobody answers: denied
    result, events, script = await run(make_job(tmp_path, asking), [reply("done")], store, entry)
    assert (result.status, result.result) == ("completed", "done")
    assert not (tmp_path / "ran.txt").exists()
    decided = [(e.call_id, e.decision, e.resolution) for e in events if e.type == "permission.decided"]
    assert decided == [("b", "ask", "denied")]
    assert returns(script.requests[0])["b"].outcome == "denied"


async def test_results_that_finish_during_a_write_go_together_in_the_next_and_are_released_after_it() -> None:
    gate = anyio.Event()
    writes: list[list[str]] = []
    released: list[str] = []
    added: list[str] = []

    async def write() -> None:
        writes.append(list(added))  # what this commit holds: every result added so far
        if len(writes) == 1:
            await gate.wait()

    group = GroupCommit(write, lambda event: released.append(event.part.tool_call_id))
    events = [FunctionToolResultEvent(ToolReturnPart("bash", "ok", tool_call_id=name)) for name in "abc"]
    added.append("a")
    group.add(events[0])
    await anyio.sleep(0)  # the first write starts and waits at the gate
    for name, event in zip("bc", events[1:], strict=True):
        added.append(name)
        group.add(event)
    assert (writes, released) == ([["a"]], [])  # nothing released before its write is done
    gate.set()
    await group.settle()
    assert writes == [["a"], ["a", "b", "c"]]  # b and c went together in one write
    assert released == ["a", "b", "c"]
