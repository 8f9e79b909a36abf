"""Helpers of the fleet tests (test_fleet_failover.py): `tau serve --engine temporal --store postgres://…` front ends
as subprocesses, fleet workers (fleet_worker.py) over the same database, and a client's view of one session's event
stream (seqs, events) read through Connect."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "temporal"))

from temporal_kit import TAU, TIMEOUT, Server, Worker, turns_json

from tau.rpc._gen import runtime_pb2 as pb
from tau.testing import Turn

HERE = Path(__file__).resolve().parent
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class Fleet:
    server: Server
    store: str  # the Postgres URL
    root: Path
    env: dict[str, str]


class FrontEnd:
    """`tau serve --engine temporal` on a free port; `url` once it listens. Its stderr is kept (drained by a
    thread, so a chatty server never blocks)."""

    def __init__(self, fleet: Fleet, name: str) -> None:
        state = fleet.root / f"front-{name}"
        args = [*TAU, "serve", "--port", "0", "--state-dir", str(state), "--store", fleet.store]
        args += ["--engine", "temporal", "--address", fleet.server.address, "--task-queue", fleet.server.task_queue]
        self.proc = subprocess.Popen(args, cwd=fleet.root, env=fleet.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        assert self.proc.stderr is not None
        self.err: list[str] = []
        while True:
            line = self.proc.stderr.readline()
            assert line, f"tau serve exited: {''.join(self.err)}"
            self.err.append(line)
            if match := LISTENING.search(line):
                self.url = match.group(1)
                break
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=TIMEOUT)


def fleet_worker(fleet: Fleet, name: str, turns: Sequence[Turn], *, pace: float = 0.0) -> Worker:
    """A worker process (fleet_worker.py); each model request takes `pace` seconds."""
    state = fleet.root / f"worker-{name}"
    args = [sys.executable, str(HERE / "fleet_worker.py"), fleet.server.address, fleet.server.task_queue, fleet.store]
    args += [str(state), turns_json(turns), str(pace)]
    return Worker(args, env={**fleet.env, "PYTHONPATH": os.pathsep.join(sys.path)}, cwd=fleet.root)


@dataclass
class Seen:
    """What one client saw of a session's stream: every response's seq and its tau event (None for a response the
    server made itself: status, error)."""

    seqs: list[int] = field(default_factory=list)
    events: list[dict[str, Any] | None] = field(default_factory=list)
    final: bool = False

    @property
    def last(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    def read(self, responses: Iterable[Any], *, limit: int | None = None) -> None:
        """Take responses until the final one (or `limit` of them)."""
        for count, response in enumerate(responses, start=1):
            self.seqs.append(response.seq)
            self.events.append(json.loads(response.event_json) if response.event_json else None)
            if response.HasField("final"):
                self.final = True
                return
            if limit is not None and count >= limit:
                return

    def kinds(self) -> list[str]:
        return [event["type"] for event in self.events if event is not None]


def follow(client: Any, session_id: str, seen: Seen) -> None:
    """StreamEvents from the client's last seq to the run's final event."""
    seen.read(client.stream_events(pb.StreamEventsRequest(session_id=session_id, after_seq=seen.last, follow=True)))


def runs_by_worker(address: str, sessions: Sequence[str]) -> dict[int, int]:
    """How many of the sessions' runs each worker process (by pid) is executing now: their workflows' pending
    `tau.execute_run` activities, by their worker's identity (temporalio's default, "PID@HOST")."""
    import asyncio

    from temporalio.client import Client

    from tau.temporal.engine import workflow_id

    async def count() -> dict[int, int]:
        client = await Client.connect(address)
        described = await asyncio.gather(*(client.get_workflow_handle(workflow_id(s)).describe() for s in sessions))
        running: dict[int, int] = {}
        for description in described:
            for activity in description.raw_description.pending_activities:
                pid, _, _ = activity.last_worker_identity.partition("@")
                if pid.isdigit():
                    running[int(pid)] = running.get(int(pid), 0) + 1
        return running

    return asyncio.run(count())
