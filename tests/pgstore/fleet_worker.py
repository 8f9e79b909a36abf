"""A fleet worker for tests/pgstore: tau's `serve_worker` over the Postgres session store with a stateless scripted
model (tests/temporal/temporal_kit), so whichever worker continues a run gets the answers the first would have got.

    python fleet_worker.py ADDRESS TASK_QUEUE STORE_URL STATE_DIR TURNS_JSON
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from temporal_kit import stateless_model, turns_of

from tau.sessions.postgres import PostgresSessionStore
from tau.temporal.worker import serve_worker


async def main(address: str, task_queue: str, url: str, state: str, turns: str) -> None:
    script = turns_of(turns)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)

    def ready() -> None:
        sys.stderr.write(f"worker {os.getpid()} polling {task_queue}\n")
        sys.stderr.flush()

    store = PostgresSessionStore(url, state_dir=Path(state))
    try:
        await serve_worker(
            address,
            store,
            task_queue=task_queue,
            env=dict(os.environ),
            model_factory=lambda job: stateless_model(script),
            stop=stop,
            on_ready=ready,
        )
    finally:
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
