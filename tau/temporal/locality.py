"""Workspace locality on the temporal engine: the names and the one dataclass that cross Temporal when workers hold
workspaces locally (`tau worker --workspace-root DIR`), and where a session's workspace lives on such a worker.
Stdlib only: the workflow imports it (see wire.py's invariants).

The routing (Temporal's worker-specific task routing: one task queue per worker):
- a locality worker polls the shared queue (workflows; `tau.execute_run` and `tau.place`) and its own queue
  `worker_queue(shared, identity)` (the activity `tau.execute_local` only);
- the first `tau.execute_run` a locality worker takes does not run the run: it answers its own queue (it claims the
  run); the workflow then executes `tau.execute_local` there, so the run — its model requests and every tool call —
  runs on the worker whose workspace root holds the session's workspace (`session_workspace`);
- when that attempt is lost (schedule-to-start or heartbeat timeout: the worker died), the workflow asks `tau.place`
  on the shared queue (any live locality worker answers with its own queue) and runs the next attempt there, which
  restores the workspace from the session's last committed checkpoint first (`restore.py`).
A worker without a workspace root runs `tau.execute_run` itself, as before (workers sharing one filesystem).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOCAL_ACTIVITY = "tau.execute_local"
PLACE_ACTIVITY = "tau.place"
MIN_SCHEDULE_TO_START = 5.0  # seconds a claimed run may wait for its worker's queue before it is placed again


def worker_queue(shared: str, identity: str) -> str:
    """The task queue only the worker `identity` polls (beside the shared queue `shared`)."""
    return f"{shared}@{identity}"


def session_workspace(root: Path, session_id: str) -> Path:
    """Where a locality worker keeps `session_id`'s workspace (session ids are path-safe: sessions/refs.py)."""
    return root / session_id


@dataclass
class Placement:
    """Where and as which attempt `tau.execute_local` runs: the worker's queue and the run's attempt number
    (1, 2, ... over the whole run, across workers; the workflow counts them)."""

    queue: str
    attempt: int = 1
