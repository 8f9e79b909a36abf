"""The temporal engine under the parity scenarios of tests/parity (start, continue, approve, deny, answer, plan
approve and reject, fork, inject, cancel) plus a subagent: the same normalized events and the same stored session as
the runtime executing inline (the reference), through a real Temporal dev server and real workers —

- engine: `Runtime` with `TemporalEngine` in the test process, an in-process worker with the scripted model;
- cli: `tau run|resume|fork|plan --engine temporal` subprocesses (TAU_ENGINE / TAU_TEMPORAL_* in their environment)
  and a `tau worker` subprocess, replaying the reference's cassettes; `tau inject` / `tau stop` from another shell.

An injection is sent as a signal; before the gate opens, the tests wait until the worker took it (the workflow's
`progress.taken`), as tests/parity waits until the inline run consumed its inbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporal_kit import Server, TemporalBox, front_ends, parity_kit, tau_worker, wait_workflows

from tau.config import load_job
from tau.protocol import Event
from tau.runtime import Cancel, Inject, Runtime, Start
from tau.sessions import FileSessionStore
from tau.temporal.devserver import DevServer
from tau.temporal.engine import TemporalEngine, workflow_id
from tau.temporal.wire import Progress
from tau.temporal.worker import make_worker
from tau.testing import calls, reply

Box, Scenario, Step, SESSION = parity_kit.Box, parity_kit.Scenario, parity_kit.Step, parity_kit.SESSION

TASK = ("task", {"description": "help", "prompt": "say hi", "subagent_type": "helper"})
SUBAGENT = Scenario(
    "subagent",
    (Step("start", (calls(TASK), reply("hi from the child"), reply("the child said hi")), "Delegate."),),
    mode="acceptEdits",
)
SCENARIOS = (*parity_kit.SCENARIOS, SUBAGENT)


def prepare(box: parity_kit.Box, scenario: parity_kit.Scenario) -> None:
    if scenario.name == "subagent":
        (box.work / ".git").mkdir(exist_ok=True)
        agents = box.work / ".tau" / "agents"
        agents.mkdir(parents=True, exist_ok=True)
        (agents / "helper.md").write_text("---\nname: helper\ndescription: Helps.\n---\nYou help.\n")


@dataclass(frozen=True)
class Reference:
    box: parity_kit.Box
    cassettes: Path
    runs: list[list[dict[str, Any]]]
    sessions: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Callable[[parity_kit.Scenario], Reference]:
    made: dict[str, Reference] = {}

    def get(scenario: parity_kit.Scenario) -> Reference:
        if scenario.name not in made:
            root = tmp_path_factory.mktemp(f"reference-{scenario.name}")
            box, cassettes = Box(root / "box"), root / "cassettes"
            cassettes.mkdir()
            prepare(box, scenario)
            runs = asyncio.run(parity_kit.through_runtime(scenario, box, cassettes))
            sessions = {session: parity_kit.stored(box, session) for session in parity_kit.sessions_of(scenario)}
            made[scenario.name] = Reference(box, cassettes, runs, sessions)
        return made[scenario.name]

    return get


def _outcomes(runs: list[list[dict[str, Any]]]) -> list[tuple[str, int]]:
    return [(run[-1]["type"], run[-1]["exit_code"]) for run in runs]


def test_the_subagent_reference_delegates(reference: Callable[[parity_kit.Scenario], Reference]) -> None:
    ref = reference(SUBAGENT)
    [run] = ref.runs
    assert (run[-1]["status"], run[-1]["result"]) == ("completed", "the child said hi")
    returns = [
        part["content"]
        for message in ref.sessions[SESSION]["messages"]
        for part in message["parts"]
        if part["part_kind"] == "tool-return"
    ]
    assert any("hi from the child" in str(content) for content in returns)


# -- the engine in this process, an in-process worker ------------------------------------------------------------


async def _progress(engine: TemporalEngine) -> Progress:
    client = await engine.client()
    result: Progress = await client.get_workflow_handle(workflow_id(SESSION)).query("progress", result_type=Progress)
    return result


async def _steered(runtime: Runtime, engine: TemporalEngine, scenario: Any, box: Any, step: Any) -> list[Event]:
    events: list[Event] = []
    flags = {**parity_kit.flags(scenario), "model": "test:scripted"}
    job = load_job(prompt_text=step.text, flags=flags, env=box.env, cwd=box.work)
    task = asyncio.ensure_future(runtime.submit(Start(job, SESSION), sinks=[events.append]))
    await parity_kit.wait_for(lambda: parity_kit.started_tool(parity_kit.as_dicts(events)), "tool.started")
    if step.op == "inject":
        assert (await runtime.submit(Inject(SESSION, (step.note,)))).delivered
        deadline = asyncio.get_running_loop().time() + parity_kit.TIMEOUT
        while (await _progress(engine)).taken < 1:
            assert asyncio.get_running_loop().time() < deadline, "the worker never took the injection"
            await asyncio.sleep(0.05)
        box.open_gate()
    else:
        assert (await runtime.submit(Cancel(SESSION, "stop"))).delivered
    await task
    return events


async def through_engine(scenario: Any, box: Any, server: Server) -> list[list[dict[str, Any]]]:
    from temporalio.client import Client

    scripts = parity_kit.Scripts(parity_kit.runs_of(scenario))
    client = await Client.connect(server.address)
    store = FileSessionStore(box.state)
    worker = make_worker(client, store, task_queue=server.task_queue, env=box.env, model_factory=scripts)
    engine = TemporalEngine(server.address, task_queue=server.task_queue)
    runtime = Runtime(FileSessionStore(box.state), engine=engine, env=box.env, cwd=box.work)
    runs: list[list[dict[str, Any]]] = []
    async with worker:
        for step in scenario.steps:
            if step.op in ("inject", "cancel"):
                events = await _steered(runtime, engine, scenario, box, step)
            else:
                events = []
                await parity_kit._runtime_step(runtime, scenario, box, step, events)
            runs.append(parity_kit.as_dicts(events))
    return runs


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_the_temporal_engine_matches_inline(
    scenario: parity_kit.Scenario,
    reference: Callable[[parity_kit.Scenario], Reference],
    temporal_server: DevServer,
    task_queue: str,
    tmp_path: Path,
) -> None:
    ref = reference(scenario)
    box = Box(tmp_path / "engine")
    prepare(box, scenario)
    runs = asyncio.run(through_engine(scenario, box, Server(temporal_server.address, task_queue)))
    wait_workflows(temporal_server.address, task_queue, len(scenario.steps))  # every run went through Temporal
    assert _outcomes(runs) == _outcomes(ref.runs)
    assert parity_kit.normalize(runs, box) == parity_kit.normalize(ref.runs, ref.box)
    for session in parity_kit.sessions_of(scenario):
        assert parity_kit.stored(box, session) == ref.sessions[session], session


# -- tau run --engine temporal and a tau worker, as subprocesses ----------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_tau_run_on_a_tau_worker_matches_inline(
    scenario: parity_kit.Scenario,
    reference: Callable[[parity_kit.Scenario], Reference],
    temporal_server: DevServer,
    task_queue: str,
    tmp_path: Path,
) -> None:
    ref = reference(scenario)
    box = TemporalBox(tmp_path / "cli")
    box.server = Server(temporal_server.address, task_queue)
    prepare(box, scenario)
    with tau_worker(box.server, env=box.env, cwd=box.work, state=box.state):
        runs = front_ends.through_cli(scenario, box, ref.cassettes)
    wait_workflows(temporal_server.address, task_queue, len(scenario.steps))  # every run went through Temporal
    assert _outcomes(runs) == _outcomes(ref.runs)
    assert parity_kit.normalize(runs, box) == parity_kit.normalize(ref.runs, ref.box)
    for session in parity_kit.sessions_of(scenario):
        assert parity_kit.stored(box, session) == ref.sessions[session], session
