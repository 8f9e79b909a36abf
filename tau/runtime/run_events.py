"""A run's first and last events: every `SessionStarted` and every `RunCompleted` tau emits is built here, once.

`started_event(job, setup, session_id, snapshot_id)` says which session, model, environment and tools the run has.
`completed_event(...)` is the driver's, for a run that ended (completed, failed with a typed error, or suspended with
the terminal reason it waits on: exit 4); `failure_event(error, session_id)` is the front ends' for a run that could
not start or finish by itself (a preflight failure, a task cancelled before the run existed), so a front end that always
ends with a terminal event (the RPC service, `tau watch`) reports those the same way as a run's own failure.

Invariant: status, terminal reason and exit code come only from the error (its `reason`, `exit_code`, `retryable`)
or the suspension; a structured answer is kept as data and as its JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tau import __version__
from tau.config.spec import JobSpec
from tau.errors import ExitCode, TauError
from tau.protocol import EnvironmentInfo, PermissionDenial, RunCompleted, SessionStarted, UsageTotals
from tau.runtime.setup import RunSetup

__all__ = ["RunTotals", "completed_event", "failure_event", "started_event"]


def started_event(job: JobSpec, setup: RunSetup, session_id: str, snapshot_id: str | None) -> SessionStarted:
    """The first event of a run of `job` as `setup` built it."""
    env = job.environment
    return SessionStarted(
        session_id=session_id,
        snapshot_id=snapshot_id,
        model=setup.model_ref,
        cwd=env.workspace,
        environment=setup.environment or EnvironmentInfo(kind=env.kind, workspace=env.workspace),
        tools=list(setup.tool_names),
        mcp=list(setup.mcp),
        memory_files=list(setup.memory_files),
        skills=list(setup.skills),
        permission_mode=job.permissions.mode,
        tau_version=__version__,
    )


@dataclass(frozen=True)
class RunTotals:
    """What a run spent: its usage, cost, model requests and wall time."""

    usage: UsageTotals = field(default_factory=UsageTotals)
    cost_usd: float | None = None
    num_turns: int = 0
    duration_ms: float = 0.0


def completed_event(
    session_id: str,
    output: Any = None,
    error: TauError | None = None,
    *,
    suspended: str | None = None,
    totals: RunTotals | None = None,
    permission_denials: Sequence[PermissionDenial] = (),
) -> RunCompleted:
    """The terminal event of a run of `session_id`; `suspended` is the terminal reason of a suspended run
    (`needs_input`, `awaiting_plan_approval`)."""
    totals = totals or RunTotals()
    result_text, structured = _split_output(output)
    status: Literal["completed", "failed", "suspended"] = "completed" if error is None else "failed"
    reason = "completed" if error is None else error.reason
    code = ExitCode.COMPLETED if error is None else error.exit_code
    if suspended is not None:
        status, reason, code = "suspended", suspended, ExitCode.NEEDS_INPUT
    return RunCompleted(
        status=status,
        terminal_reason=reason,
        exit_code=int(code),
        session_id=session_id,
        result=result_text,
        structured_output=structured,
        error=None if error is None else error.message,
        error_kind=None if error is None else type(error).__name__,
        retryable=bool(getattr(error, "retryable", False)),
        usage=totals.usage,
        cost_usd=totals.cost_usd,
        num_turns=totals.num_turns,
        duration_ms=round(totals.duration_ms, 3),
        permission_denials=list(permission_denials),
    )


def failure_event(error: TauError, session_id: str = "") -> RunCompleted:
    """The terminal event of a run that could not start or finish by itself."""
    return completed_event(session_id, error=error)


def _split_output(output: Any) -> tuple[str | None, Any]:
    if output is None:
        return None, None
    if isinstance(output, str):
        return output, None
    return json.dumps(output, ensure_ascii=False), output
