"""Parity of the front ends: the scenarios, the boxes, the reference and the normalized views (the front ends
themselves are driven by front_ends.py). One scenario (a sequence of operations, each with the scripted model turns of
the run it starts) is played through the runtime directly, `tau` as a subprocess, the RPC service and `tau watch`, each
in its own box (workspace, state dir, home), and read back as normalized events and the stored session.

The reference is the runtime itself (`Runtime.submit`), its models recorded (`RecordingModel`, one cassette per run).
The RPC service and `tau watch` get the same scripted turns through their model factories; the CLI replays the
reference's cassettes (`--model replay:FILE`), and replay refuses any request that differs from the recorded one, so
the CLI's model is asked exactly what the runtime's was.

Runs that must be caught in the middle (inject, cancel) call `bash` on a command that waits for a `gate` file in the
workspace; the kit waits (bounded) for `tool.started`, acts, and opens the gate or not.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessagesTypeAdapter
from pydantic_ai.models import Model

from tau.config import JobSpec, load_job
from tau.models.cassette import RecordingModel
from tau.protocol import Event
from tau.runtime import Answer, Answers, Cancel, Continue, Fork, Inject, ReviewPlan, Runtime, Start
from tau.sessions import FileSessionStore
from tau.testing import Turn, calls, reply, scripted_model

TIMEOUT = 60
SESSION = "parity"
FORKED = "parity-fork"
GATE = "while [ ! -e gate ]; do sleep 0.05; done; echo opened"
PLAN = "# Plan\n\n1. Create `out.txt` containing `done`."
PLAN_2 = "# Plan\n\n1. Create `out.txt` containing `done`.\n2. Check it with `cat out.txt`."
NOTE = '<context key="note" content_type="text/plain">\nThe gate is open now.\n</context>'
WRITE = ("write", {"file_path": "out.txt", "content": "done"})
ASK = ("ask_user", {"question": "Which colour?", "choices": ["red", "blue"]})


# -- scenarios -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One operation and the scripted turns of the run it starts. `text`: the prompt, the denial reason, the
    answer or the plan feedback; `call`: the pending call it answers; `note`: the text injected mid-run."""

    op: str
    turns: tuple[Turn, ...] = ()
    text: str = ""
    call: str = ""
    note: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]
    mode: str = "default"
    front_ends: tuple[str, ...] = ("cli", "rpc")

    def __str__(self) -> str:
        return self.name


SCENARIOS = (
    Scenario("start", (Step("start", (reply("Hello."),), "Say hello."),), front_ends=("cli", "rpc", "watch")),
    Scenario(
        "continue",
        (Step("start", (reply("One."),), "Count."), Step("continue", (reply("Two."),), "Again.")),
    ),
    Scenario(
        "approve",
        (Step("start", (calls(WRITE),), "Write out.txt."), Step("approve", (reply("Wrote it."),), call="call_1_0")),
    ),
    Scenario(
        "deny",
        (
            Step("start", (calls(WRITE),), "Write out.txt."),
            Step("deny", (reply("Understood."),), "Not today.", call="call_1_0"),
        ),
    ),
    Scenario(
        "answer",
        (
            Step("start", (calls(ASK),), "Paint the fence."),
            Step("answer", (reply("Painting it blue."),), "blue", call="call_1_0"),
        ),
    ),
    Scenario(
        "plan-approve",
        (
            Step("start", (calls(("submit_plan", {"plan": PLAN})),), "Create out.txt."),
            Step("plan-approve", (calls(WRITE), reply("Created out.txt."))),
        ),
        mode="plan",
    ),
    Scenario(
        "plan-reject",
        (
            Step("start", (calls(("submit_plan", {"plan": PLAN})),), "Create out.txt."),
            Step("plan-reject", (calls(("submit_plan", {"plan": PLAN_2})),), "Add a check."),
        ),
        mode="plan",
    ),
    Scenario(
        "fork",
        (
            Step("start", (reply("One."),), "Count."),
            Step("continue", (reply("Two."),), "Again."),
            Step("fork", (reply("Three."),), "Branch."),
        ),
    ),
    Scenario(
        "inject",
        (
            Step(
                "inject", (calls(("bash", {"command": GATE})), reply("Saw the note.")), "Wait for the gate.", note=NOTE
            ),
        ),
        mode="bypassPermissions",
    ),
    Scenario(
        "cancel",
        (Step("cancel", (calls(("bash", {"command": GATE})),), "Wait for the gate."),),
        mode="bypassPermissions",
        front_ends=("cli", "rpc", "watch"),
    ),
)


# -- boxes -----------------------------------------------------------------------------------------------------------


@dataclass
class Box:
    """One front end's world: `work` (workspace and cwd), `state` (session store), `home`."""

    root: Path

    def __post_init__(self) -> None:
        for directory in (self.work, self.home / ".config", self.root / "tmp"):
            directory.mkdir(parents=True, exist_ok=True)

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "TMPDIR": str(self.root / "tmp"),
        }

    def open_gate(self) -> None:
        (self.work / "gate").write_text("open\n")


def flags(scenario: Scenario) -> dict[str, Any]:
    """The run flags every front end gives (as `load_job` takes them)."""
    return {"on_ask": "suspend", "permission_mode": scenario.mode, "allow": ["Bash"]}


def cli_flags(scenario: Scenario) -> list[str]:
    return ["--on-ask", "suspend", "--permission-mode", scenario.mode, "--allow", "Bash"]


class Scripts:
    """A model factory playing one scripted run per call, in order; `record` writes each run's cassette."""

    def __init__(self, runs: Sequence[Sequence[Turn]], *, record: Path | None = None) -> None:
        self._runs = [list(turns) for turns in runs]
        self._record = record
        self.count = 0

    def __call__(self, job: JobSpec) -> Model:
        model, _ = scripted_model(self._runs[self.count])
        self.count += 1
        if self._record is None:
            return model
        return RecordingModel(model, cassette(self._record, self.count), workspace=job.environment.workspace)


def cassette(directory: Path, run: int) -> Path:
    return directory / f"run-{run}.json"


def runs_of(scenario: Scenario) -> list[tuple[Turn, ...]]:
    return [step.turns for step in scenario.steps]


async def wait_for(seen: Callable[[], bool], what: str) -> None:
    """Poll `seen` until it holds (bounded: a run that never gets there fails the test instead of hanging)."""
    deadline = time.monotonic() + TIMEOUT
    while not seen():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)


def started_tool(events: Sequence[dict[str, Any]]) -> bool:
    return any(event["type"] == "tool.started" for event in events)


def as_dicts(events: Sequence[Event]) -> list[dict[str, Any]]:
    return [json.loads(event.model_dump_json()) for event in events]


# -- the reference: the runtime itself ------------------------------------------------------------------------------


async def through_runtime(scenario: Scenario, box: Box, cassettes: Path) -> list[list[dict[str, Any]]]:
    """Every run's events, the runtime driven directly; records one cassette per run into `cassettes`."""
    scripts = Scripts(runs_of(scenario), record=cassettes)
    runtime = Runtime(FileSessionStore(box.state), env=box.env, cwd=box.work, model_factory=scripts)
    runs: list[list[dict[str, Any]]] = []
    for step in scenario.steps:
        events: list[Event] = []
        await _runtime_step(runtime, scenario, box, step, events)
        runs.append(as_dicts(events))
    return runs


async def _runtime_step(runtime: Runtime, scenario: Scenario, box: Box, step: Step, events: list[Event]) -> None:
    sinks = [events.append]
    if step.op in ("start", "inject", "cancel"):
        job = load_job(
            prompt_text=step.text, flags={**flags(scenario), "model": "test:scripted"}, env=box.env, cwd=box.work
        )
        task = asyncio.ensure_future(runtime.submit(Start(job, SESSION), sinks=sinks))
        if step.op != "start":
            await wait_for(lambda: started_tool(as_dicts(events)), "tool.started")
            if step.op == "inject":
                assert (await runtime.submit(Inject(SESSION, (step.note,)))).delivered
                box.open_gate()
            else:
                assert (await runtime.submit(Cancel(SESSION, "stop"))).delivered
        await task
    elif step.op == "continue":
        await runtime.submit(Continue(SESSION, step.text), sinks=sinks)
    elif step.op in ("approve", "deny", "answer"):
        await runtime.submit(Answer(SESSION, _answers(step)), sinks=sinks)
    elif step.op in ("plan-approve", "plan-reject"):
        decision = "approve" if step.op == "plan-approve" else "reject"
        await runtime.submit(ReviewPlan(SESSION, decision, step.text or None), sinks=sinks)
    elif step.op == "fork":
        await runtime.submit(Fork(SESSION, FORKED, prompt=step.text), sinks=sinks)
    else:
        raise AssertionError(f"unknown step {step.op}")


def _answers(step: Step) -> Answers:
    if step.op == "approve":
        return Answers(approve=(step.call,))
    if step.op == "deny":
        return Answers(deny={step.call: step.text})
    return Answers(answer={step.call: step.text})


# -- normalized views -----------------------------------------------------------------------------------------------

VOLATILE = frozenset({"seq", "timestamp", "session_id", "snapshot_id", "duration_ms", "tau_version"})


def normalize(runs: Sequence[Sequence[dict[str, Any]]], box: Box) -> list[list[dict[str, Any]]]:
    """Events without what differs by nature between two runs: sequence numbers, times, ids, durations, the
    workspace path, the model reference (a scripted model here, a cassette there) and a cancel's wording."""
    return [[_event(event, box) for event in run] for run in runs]


def _event(event: dict[str, Any], box: Box) -> dict[str, Any]:
    out = _scrub(event, str(box.work))
    if out["type"] == "session.started":
        out.pop("model")
    if out["type"] == "run.completed" and out.get("terminal_reason") == "interrupted":
        out.pop("error")  # "stopped by tau stop", "run cancelled by CancelRun: ...": each front end's own words
    return out


def _scrub(value: Any, work: str) -> Any:
    if isinstance(value, dict):
        return {key: _scrub(item, work) for key, item in value.items() if key not in VOLATILE}
    if isinstance(value, list):
        return [_scrub(item, work) for item in value]
    if isinstance(value, str):
        return value.replace(work, "<ws>")
    return value


_MESSAGE_VOLATILE = frozenset({"timestamp", "provider_response_id", "run_id", "conversation_id", "provider_details"})


def stored(box: Box, session: str) -> dict[str, Any]:
    """The stored session: its messages (normalized), the status of every snapshot, whether it waits on calls."""

    async def read() -> dict[str, Any]:
        store = FileSessionStore(box.state)
        shown = await store.show(session)
        log = await store.log(session)
        messages = json.loads(ModelMessagesTypeAdapter.dump_json(shown.messages))
        return {
            "messages": _drop(_scrub(messages, str(box.work)), _MESSAGE_VOLATILE),
            "statuses": [summary.status for summary in log],
            "pending": shown.pending is not None,
        }

    return asyncio.run(read())


def _drop(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {key: _drop(item, keys) for key, item in value.items() if key not in keys}
    if isinstance(value, list):
        return [_drop(item, keys) for item in value]
    return value


def sessions_of(scenario: Scenario) -> tuple[str, ...]:
    return (SESSION, FORKED) if any(step.op == "fork" for step in scenario.steps) else (SESSION,)
