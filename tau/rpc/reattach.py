"""Runs that outlive the front end: what `tau serve` needs of an engine whose runs execute elsewhere (the temporal
engine's workers) to let them go on when it stops and to follow them again when it (or another front end) starts.

`Detachable` is the engine's side (`tau.temporal.TemporalEngine` has it; `InlineEngine` has not: its runs live in the
server's process, so a stopping server cancels them). `reattach(session_id, delivered, sinks, control)` follows the
session's latest run from its event number `delivered` (tau events already handed on by an earlier front end) to its
end and returns the terminal event, which it also gives the sinks, like `Engine.execute`. `send(session_id, kind,
text)` delivers a control (`cancel` with its reason, `inject` with rendered context) to the session's run from a front
end that does not follow it (another front end owns it: `rpc.ownership`); False when no run of it takes controls.

`tag` is the run's `RUN_TAG` (`run_tag`: `<session id>#<run number>`, set by `rpc.runs` when it submits the run):
an engine refuses to follow a latest run submitted under another tag — the front end that recorded this run died
before the engine accepted it, and the latest run is an earlier one (the run then ends `interrupted`).

`delivered_of(first_seq, last_seq)` is that number from a session's log: a run's first log entry is its RUNNING
status and every later one, until the run ends, is one tau event (`rpc.runs`), so the run had handed on
`last_seq - first_seq` events when the front end stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from tau.protocol import RunCompleted
from tau.runtime import RunControl
from tau.runtime.engine import Engine, Sink

__all__ = ["Detachable", "delivered_of", "detachable", "run_tag"]


@runtime_checkable
class Detachable(Protocol):
    async def reattach(
        self, session_id: str, delivered: int, sinks: Sequence[Sink], control: RunControl, tag: str = ""
    ) -> RunCompleted: ...

    async def send(self, session_id: str, kind: str, text: str) -> bool: ...


def detachable(engine: Engine) -> Detachable | None:
    return engine if isinstance(engine, Detachable) else None


def run_tag(session_id: str, number: int) -> str:
    return f"{session_id}#{number}"


def delivered_of(first_seq: int, last_seq: int) -> int:
    return max(0, last_seq - first_seq)
