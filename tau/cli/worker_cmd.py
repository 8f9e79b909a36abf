"""`tau worker --engine temporal --address HOST:PORT [--namespace N] [--task-queue Q] [--workspace-root DIR]`: execute
runs that front ends (`tau run|serve --engine temporal`) submit through Temporal, until SIGINT/SIGTERM.

The worker executes each run with tau's own driver (`tau.temporal`: one activity per run) against its session store
(`--state-dir`, else the default state dir, as `tau run`): front ends and workers must share that store (one machine
today). Job credentials are re-resolved from the worker's own environment, as `tau resume` does. It prints
`tau worker: polling QUEUE on ADDRESS (namespace N)` on stderr once it polls. A stop lets runs in flight end their
attempt abruptly: the run is retried by another worker from its last committed step (see docs/decisions.md).
`--workspace-root DIR` makes the worker hold workspaces itself (tau.temporal.locality): a run it claims executes in
DIR/<session id>, and a run moved to it from a lost worker restores that directory from the session's last
checkpoint first (docs/fleet.md, "Workspace locality"). A DIR that does not exist is an operator error (exit 2).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from tau.cli.options import engine_options, examples, state_dir_option


@click.command(
    "worker",
    epilog=examples(
        "tau worker --engine temporal --address 127.0.0.1:7233",
        "tau worker --engine temporal --address temporal:7233 --task-queue tau-gpu --max-runs 4",
        "tau worker --engine temporal --address temporal:7233 --workspace-root /var/lib/tau/workspaces",
    ),
)
@engine_options
@click.option(
    "--max-runs", type=click.IntRange(1, 1024), default=16, show_default=True, help="Runs this worker executes at once."
)
@click.option(
    "--workspace-root",
    type=click.Path(file_okay=False),
    default=None,
    help="Hold workspaces on this worker: runs it claims execute in DIR/<session id>, restored from the session's "
    "last checkpoint when they moved here from a lost worker. Default: job workspaces are shared paths.",
)
@state_dir_option
def worker_command(max_runs: int, workspace_root: str | None, state_dir: str | None, **flags: Any) -> None:
    """Execute runs submitted through a durable engine (only `--engine temporal` has workers)."""
    from tau.cli.engines import pop_engine
    from tau.errors import ConfigError

    choice = pop_engine(flags)
    if not choice.temporal:
        raise ConfigError("tau worker executes runs of --engine temporal: give --engine temporal (or TAU_ENGINE)")
    root = None
    if workspace_root is not None:
        root = Path(workspace_root).resolve()
        if not root.is_dir():
            raise ConfigError(f"{workspace_root} is not a directory", field="--workspace-root")
    _serve(choice.checked_address(), choice.namespace, choice.task_queue, max_runs, state_dir, root)


def _serve(
    address: str, namespace: str, task_queue: str, max_runs: int, state_dir: str | None, root: Path | None
) -> NoReturn:
    import asyncio
    import signal

    from tau.cli.stores import open_any_store
    from tau.temporal.worker import serve_worker

    store = open_any_store(state_dir)  # the file store, or the Postgres store every worker shares (--store)

    def ready() -> None:
        where = "" if root is None else f", workspaces in {root}"
        click.echo(f"tau worker: polling {task_queue} on {address} (namespace {namespace}{where})", err=True)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve_worker(
            address,
            store,
            namespace=namespace,
            task_queue=task_queue,
            env=dict(os.environ),
            max_runs=max_runs,
            stop=stop,
            on_ready=ready,
            workspace_root=root,
        )
        return 0

    from tau.errors import TauError

    try:
        code = asyncio.run(main())  # a stop by signal is the normal end: exit 0
    except TauError as error:
        click.echo(f"tau: {error.message}", err=True)
        code = int(error.exit_code)
    # temporalio's native client threads can abort the interpreter's finalization (sdk-python #300, exit 134 seen
    # here after a failed connect): the worker has nothing left to flush but stdio, so it leaves without finalizing
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
