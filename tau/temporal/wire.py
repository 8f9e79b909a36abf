"""What crosses Temporal between the front end (`TemporalEngine`), the workflow (`RunWorkflow`) and the worker's
activity (`execute_run`): plain dataclasses of JSON values, so the default data converter carries them and the
workflow sandbox imports nothing of tau but this module.

Invariants: a `RunInput` is a `PreparedRun` as data (the job as its credential-free JSON dump, re-resolved by the
worker from its own environment as `tau resume` does; the `Continuation` as a dict); events travel as the JSON
objects of tau's protocol (`Event.model_dump(mode="json")`), in emission order; `seq` is stamped by the workflow
(0, 1, 2... over the whole run, across attempts), never trusted from the sender.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKFLOW = "tau.run"
TERMINAL = "run.completed"  # the type of the terminal event: the last one a run delivers
ACTIVITY = "tau.execute_run"
TASK_QUEUE = "tau"
NAMESPACE = "default"

# exceptions a run raises before it exists that a retry cannot fix (ApplicationError types, non-retryable)
START_FAILURES = ("ConfigError", "PreflightError", "RunTimeout", "Interrupted")


@dataclass
class RunInput:
    """One run (a `PreparedRun`) and how the workflow retries it."""

    job: dict[str, Any]
    session_id: str
    continuation: dict[str, Any] | None = None
    heartbeat_seconds: float = 10.0
    max_attempts: int = 3
    start_to_close_seconds: float = 24 * 3600.0


@dataclass
class EventBatch:
    """Events of one activity attempt, in order (signal `events`). Batches of an older attempt are dropped."""

    attempt: int
    events: list[dict[str, Any]]


@dataclass
class Control:
    """A front end's wish for the running run (signal `control`): `cancel` (with the signal name that decides its
    exit code) or `inject` (text for the model)."""

    kind: str
    text: str = ""
    signal: str = "SIGINT"


@dataclass
class Failure:
    """Why a run ended without a terminal event of its own: a start-up failure or attempts exhausted."""

    kind: str
    message: str
    exit_code: int = 1
    reason: str = "error"


@dataclass
class Page:
    """What the `events` long-poll returns: the events after the caller's position, and whether the run ended."""

    events: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    failure: Failure | None = None


@dataclass
class Progress:
    """What an activity attempt asks the workflow first: how many events were delivered, the history length the
    first attempt found (None: the first attempt never got that far), the attempt now running, the first cancel
    sent, how many controls the activity has applied, and whether the run's terminal event was delivered (`finished`:
    a retry then has nothing left to do)."""

    delivered: int = 0
    base: int | None = None
    attempt: int = 0
    cancel: Control | None = None
    taken: int = 0
    finished: bool = False
