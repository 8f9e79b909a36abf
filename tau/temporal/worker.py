"""`serve_worker`: a Temporal worker that executes tau runs — the workflow `tau.run` and its activity
`tau.execute_run` — on one task queue, until `stop` is set (`tau worker` sets it on SIGINT/SIGTERM).

Settings that matter for failover (STACK.md, "Temporal"): the sticky queue's schedule-to-start timeout is 1 s, so a
workflow whose worker died moves to another worker in about a second instead of ~10 s; the run's heartbeat timeout
(`RunInput.heartbeat_seconds`) decides how fast a dead worker's run is retried elsewhere. `max_runs` bounds the runs
one worker executes at once. With a workspace root (`make_local_workers`, locality.py) a worker polls the shared queue
and its own queue, and runs what it claims in its own workspace root. The workflow sandbox passes `tau` through (the
workflow only uses `tau.temporal.wire` and `locality`, plain dataclasses), so the sandbox does not re-import tau for
every workflow task.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from tau.errors import PreflightError
from tau.runtime.engine import ModelFactory
from tau.sessions import SessionStore
from tau.temporal.activity import RunActivity
from tau.temporal.locality import worker_queue
from tau.temporal.wire import TASK_QUEUE
from tau.temporal.workflow import RunWorkflow

DEFAULT_MAX_RUNS = 16


def make_worker(
    client: Client,
    store: SessionStore,
    *,
    task_queue: str = TASK_QUEUE,
    env: Mapping[str, str] | None = None,
    model_factory: ModelFactory | None = None,
    max_runs: int = DEFAULT_MAX_RUNS,
) -> Worker:
    """A worker for `client` (not yet running: `async with worker:` or `await worker.run()`)."""
    runs = RunActivity(store, env=env, model_factory=model_factory)
    restrictions = SandboxRestrictions.default.with_passthrough_modules("tau")
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[RunWorkflow],
        activities=[runs.execute_run],
        workflow_runner=SandboxedWorkflowRunner(restrictions=restrictions),
        max_concurrent_activities=max_runs,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
        graceful_shutdown_timeout=timedelta(seconds=0),
    )


def make_local_workers(
    client: Client,
    store: SessionStore,
    workspace_root: Path,
    *,
    task_queue: str = TASK_QUEUE,
    env: Mapping[str, str] | None = None,
    model_factory: ModelFactory | None = None,
    max_runs: int = DEFAULT_MAX_RUNS,
) -> list[Worker]:
    """A locality worker (locality.py): the shared queue (workflows, claims) and its own queue (the runs it holds the
    workspaces of, under `workspace_root`)."""
    runs = RunActivity(store, env=env, model_factory=model_factory, workspace_root=workspace_root.resolve())
    runs.local_queue = worker_queue(task_queue, f"{runs.identity}:{uuid.uuid4().hex[:8]}")
    restrictions = SandboxRestrictions.default.with_passthrough_modules("tau")
    shared = Worker(
        client,
        task_queue=task_queue,
        workflows=[RunWorkflow],
        activities=[runs.execute_run, runs.place],
        workflow_runner=SandboxedWorkflowRunner(restrictions=restrictions),
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
        graceful_shutdown_timeout=timedelta(seconds=0),
    )
    own = Worker(
        client,
        task_queue=runs.local_queue,
        activities=[runs.execute_local],
        max_concurrent_activities=max_runs,
        graceful_shutdown_timeout=timedelta(seconds=0),
    )
    return [shared, own]


async def serve_worker(
    address: str,
    store: SessionStore,
    *,
    namespace: str = "default",
    task_queue: str = TASK_QUEUE,
    env: Mapping[str, str] | None = None,
    model_factory: ModelFactory | None = None,
    max_runs: int = DEFAULT_MAX_RUNS,
    stop: asyncio.Event | None = None,
    on_ready: Any = None,
    workspace_root: Path | None = None,
) -> None:
    """Connect to `address` and execute runs until `stop` is set. `on_ready()` is called once polling starts. A
    server that cannot be reached is a PreflightError (exit 3). `workspace_root`: this worker holds the workspaces
    of the runs it claims there (locality.py); None: job workspaces are shared paths."""
    try:
        client = await Client.connect(address, namespace=namespace)
    except Exception as error:
        detail = " ".join(str(error).split()) or type(error).__name__
        raise PreflightError(f"temporal: cannot reach {address}: {detail}") from None
    if workspace_root is None:
        workers = [
            make_worker(client, store, task_queue=task_queue, env=env, model_factory=model_factory, max_runs=max_runs)
        ]
    else:
        workers = make_local_workers(
            client,
            store,
            workspace_root,
            task_queue=task_queue,
            env=env,
            model_factory=model_factory,
            max_runs=max_runs,
        )
    async with contextlib.AsyncExitStack() as stack:
        for worker in workers:
            await stack.enter_async_context(worker)
        if on_ready is not None:
            on_ready()
        await (stop or asyncio.Event()).wait()
