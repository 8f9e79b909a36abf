"""`tau worker --engine temporal --address HOST:PORT [--namespace N] [--task-queue Q]`: execute runs that front ends
(`tau run|serve --engine temporal`) submit through Temporal, until SIGINT/SIGTERM.

The worker executes each run with tau's own driver (`tau.temporal`: one activity per run) against its session store
(`--state-dir`, else the default state dir, as `tau run`): front ends and workers must share that store (one machine
today). Job credentials are re-resolved from the worker's own environment, as `tau resume` does. It prints
`tau worker: polling QUEUE on ADDRESS (namespace N)` on stderr once it polls. A stop lets runs in flight end their
attempt abruptly: the run is retried by another worker from its last committed step (see docs/decisions.md).
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from tau.cli.options import engine_options, examples, state_dir_option


@click.command(
    "worker",
    epilog=examples(
        "tau worker --engine temporal --address 127.0.0.1:7233",
        "tau worker --engine temporal --address temporal:7233 --task-queue tau-gpu --max-runs 4",
    ),
)
@engine_options
@click.option(
    "--max-runs", type=click.IntRange(1, 1024), default=16, show_default=True, help="Runs this worker executes at once."
)
@state_dir_option
def worker_command(max_runs: int, state_dir: str | None, **flags: Any) -> None:
    """Execute runs submitted through a durable engine (only `--engine temporal` has workers)."""
    from tau.cli.engines import pop_engine
    from tau.errors import ConfigError

    choice = pop_engine(flags)
    if not choice.temporal:
        raise ConfigError("tau worker executes runs of --engine temporal: give --engine temporal (or TAU_ENGINE)")
    _serve(choice.checked_address(), choice.namespace, choice.task_queue, max_runs, state_dir)


def _serve(address: str, namespace: str, task_queue: str, max_runs: int, state_dir: str | None) -> NoReturn:
    import asyncio
    import signal

    from tau.cli.stores import open_any_store
    from tau.temporal.worker import serve_worker

    store = open_any_store(state_dir)  # the file store, or the Postgres store every worker shares (--store)

    def ready() -> None:
        click.echo(f"tau worker: polling {task_queue} on {address} (namespace {namespace})", err=True)

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
