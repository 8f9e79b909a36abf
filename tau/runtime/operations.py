"""Operations: what a front end asks of the runtime, as frozen data. `Runtime.submit(op)` acts on them.

Front ends (`tau run`/`resume`/`fork`/`plan`, the RPC service, `tau watch`) translate their input into one of these and
render the events that come back; every precondition, the job a continuation runs with, the run itself and its
commits are the runtime's (`runtime.service`). Operations carry data only — no stores, models or callbacks — so the
same operation means the same thing from every front end and can cross a process boundary (the engine port).

Sessions are named by id; `Fork.source` may also be a snapshot id or a unique prefix (as `tau fork` takes it).
A continuation's job: `job` when the front end keeps one (the RPC service keeps each session's job), else the job
stored with the session's head with `overrides` on top (CLI flags, as `load_job` takes them; credentials from the
runtime's environment: `tau.config.resume_job`).

- `Start`: a new session running `job` (id: `session_id`, else the job's, else a new uuid).
- `Continue`: a session's next run: a new `prompt`, or none to continue its pending calls (re-evaluated by the
  permission policy).
- `Answer`: a suspended session's pending calls answered (`Answers`: approvals, denials with the text the model
  reads, clarification answers), optionally with a new prompt.
- `ReviewPlan`: the verdict on a submitted plan; approve continues in execution mode with the plan, reject in plan
  mode with `feedback`.
- `Fork`: a new session from a session's head or one of its snapshots (`at`: an id or unique prefix in the source
  session's chain); `run` continues the fork at once with `prompt`/`answers` (as `tau fork` does), else it only
  forks (RPC ForkSession). `with_files` first restores the workspace to the forked snapshot's pin.
- `Inject`: text entries for a session running in this process, delivered before its next model request.
- `Cancel`: stop a session's run in this process (`signal` picks the terminal reason: SIGINT -> interrupted/130,
  SIGTERM -> terminated/143); the run still ends with its terminal event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tau.config.spec import JobSpec
from tau.protocol import ApprovalRequested, ClarificationRequested
from tau.runtime.answers import Answers


@dataclass(frozen=True)
class Start:
    job: JobSpec
    session_id: str | None = None


@dataclass(frozen=True)
class Continue:
    session: str
    prompt: str | None = None
    job: JobSpec | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    session: str
    answers: Answers
    prompt: str | None = None
    job: JobSpec | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewPlan:
    session: str
    decision: Literal["approve", "reject"]
    feedback: str | None = None
    job: JobSpec | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fork:
    source: str
    new_session_id: str | None = None
    at: str | None = None
    run: bool = True
    prompt: str | None = None
    answers: Answers = field(default_factory=Answers)
    overrides: Mapping[str, Any] = field(default_factory=dict)
    with_files: bool = False


@dataclass(frozen=True)
class Inject:
    session: str
    entries: tuple[str, ...]


@dataclass(frozen=True)
class Cancel:
    session: str
    reason: str = ""
    signal: Literal["SIGINT", "SIGTERM"] = "SIGINT"


RunOperation = Start | Continue | Answer | ReviewPlan | Fork
Operation = RunOperation | Inject | Cancel


@dataclass(frozen=True)
class Forked:
    """What `Fork(run=False)` returns: the new session, its root snapshot and the calls it waits on (as events)."""

    session_id: str
    snapshot_id: str
    requests: tuple[ApprovalRequested | ClarificationRequested, ...] = ()


@dataclass(frozen=True)
class Delivered:
    """What `Inject` and `Cancel` return: whether a run of the session in this process took it."""

    session_id: str
    delivered: bool
