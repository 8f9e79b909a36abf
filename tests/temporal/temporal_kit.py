"""Helpers of tests/temporal: real workers (`tau worker` subprocesses, or `worker_script.py` subprocesses with a
scripted model), a box whose `tau` commands use the temporal engine, a stateless scripted model (its answer depends
on the conversation, not on how often it was asked, so a second worker continuing a run gets the same answers), and
the parity kit of tests/parity (its scenarios, boxes, reference and normalization)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tau.testing import Turn
from tau.testing.scripted import ScriptedModel

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "parity"))

import front_ends  # noqa: E402, F401  (re-exported for the tests)
import parity_kit  # noqa: E402

TIMEOUT = 60
_SCRIPT = Path(sys.executable).with_name("tau")
TAU: tuple[str, ...] = (str(_SCRIPT),) if _SCRIPT.exists() else (sys.executable, "-m", "tau")


class StatelessScript(ScriptedModel):
    """Answers request N of a conversation (N = model responses already in it) with turn N, call ids as
    `tau.testing.scripted_model` numbers them in a run that asks in order."""

    def _next(self, messages: list[ModelMessage], info: AgentInfo) -> Turn:
        self.index = sum(isinstance(message, ModelResponse) for message in messages)
        self.requests.append(list(messages))
        if self.index >= len(self.steps):
            raise AssertionError(f"stateless script: no step {self.index + 1} (script has {len(self.steps)})")
        step = self.steps[self.index]
        assert isinstance(step, Turn)
        return step

    def _ids(self, turn: Turn) -> list[str]:
        return [f"call_{self.index + 1}_{i}" for i in range(len(turn.tool_calls))]


def stateless_model(turns: Sequence[Turn]) -> FunctionModel:
    return StatelessScript(list(turns)).model()


def turns_json(turns: Sequence[Turn]) -> str:
    return json.dumps([{"text": turn.text, "tool_calls": [list(call) for call in turn.tool_calls]} for turn in turns])


def turns_of(text: str) -> list[Turn]:
    return [Turn(item["text"], tuple((name, args) for name, args in item["tool_calls"])) for item in json.loads(text)]


@dataclass
class Server:
    address: str
    task_queue: str


class TemporalBox(parity_kit.Box):
    """A parity box whose `tau` commands run on the temporal engine (TAU_ENGINE and friends in its environment);
    `open_gate` first waits until the worker applied every control sent so far (an injection reached the run)."""

    server: Server | None = None

    @property
    def env(self) -> dict[str, str]:
        env = super().env
        assert self.server is not None
        env.update(
            TAU_ENGINE="temporal",
            TAU_TEMPORAL_ADDRESS=self.server.address,
            TAU_TEMPORAL_TASK_QUEUE=self.server.task_queue,
        )
        return env

    def open_gate(self) -> None:
        assert self.server is not None
        wait_taken(self.server.address, parity_kit.SESSION, 1)
        super().open_gate()


def progress(address: str, session: str) -> Any:
    """The run workflow's `progress` query (a fresh client on a fresh loop: callable from sync test code)."""
    from temporalio.client import Client

    from tau.temporal.engine import workflow_id
    from tau.temporal.wire import Progress

    async def ask() -> Progress:
        client = await Client.connect(address)
        result: Progress = await client.get_workflow_handle(workflow_id(session)).query(
            "progress", result_type=Progress
        )
        return result

    return asyncio.run(ask())


def wait_taken(address: str, session: str, count: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while progress(address, session).taken < count:
        assert time.monotonic() < deadline, "the worker never took the control"
        time.sleep(0.05)


def workflows(address: str, task_queue: str) -> int:
    """How many run workflows went through `task_queue` (each run of a temporal engine is one)."""
    from temporalio.client import Client

    async def count() -> int:
        client = await Client.connect(address)
        return len([item async for item in client.list_workflows(f"TaskQueue = '{task_queue}'")])

    return asyncio.run(count())


def wait_workflows(address: str, task_queue: str, expected: int) -> None:
    """Bounded wait until the server's visibility lists `expected` workflows on the queue (it may lag a little)."""
    deadline = time.monotonic() + TIMEOUT
    while (seen := workflows(address, task_queue)) != expected:
        assert seen < expected and time.monotonic() < deadline, f"{seen} workflows on {task_queue}, not {expected}"
        time.sleep(0.1)


class Worker:
    """A worker subprocess; `ready` once it prints its polling line on stderr."""

    def __init__(self, args: Sequence[str], *, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            list(args), env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + TIMEOUT
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"worker exited: {''.join(self.err)}"
            if "polling" in line:
                return

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            text = raw.decode(errors="replace")
            self.err.append(text)
            self.lines.put(text)
        self.lines.put(None)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=TIMEOUT)


@contextlib.contextmanager
def tau_worker(server: Server, *, env: dict[str, str], cwd: Path, state: Path) -> Iterator[Worker]:
    """`tau worker --engine temporal` as its users start it."""
    args = [*TAU, "worker", "--engine", "temporal", "--address", server.address]
    worker = Worker([*args, "--task-queue", server.task_queue, "--state-dir", str(state)], env=env, cwd=cwd)
    try:
        yield worker
    finally:
        worker.stop()


def script_worker(server: Server, *, env: dict[str, str], cwd: Path, state: Path, turns: Sequence[Turn]) -> Worker:
    """A worker process (tau's `serve_worker`) whose runs use a stateless scripted model."""
    script = HERE / "worker_script.py"
    args = [sys.executable, str(script), server.address, server.task_queue, str(state), turns_json(turns)]
    return Worker(args, env={**env, "PYTHONPATH": os.pathsep.join(sys.path)}, cwd=cwd)
