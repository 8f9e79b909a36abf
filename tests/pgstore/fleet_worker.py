"""A fleet worker for tests/pgstore: tau's `serve_worker` over the Postgres session store with a stateless scripted
model (tests/temporal/temporal_kit), so whichever worker continues a run gets the answers the first would have got.

    python fleet_worker.py ADDRESS TASK_QUEUE STORE_URL STATE_DIR TURNS_JSON [PACE]

PACE (seconds, default 0) is how long each model request takes: a run then spans a window a SIGKILL can land in.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel
from temporal_kit import StatelessScript, turns_of

from tau.sessions.postgres import PostgresSessionStore
from tau.temporal.worker import serve_worker
from tau.testing import Turn


class Paced(StatelessScript):
    def __init__(self, turns: Sequence[Turn], pace: float) -> None:
        super().__init__(list(turns))
        self.pace = pace

    async def stream(self, messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[Any]:
        await asyncio.sleep(self.pace)
        async for item in super().stream(messages, info):
            yield item


def paced_model(turns: Sequence[Turn], pace: float) -> FunctionModel:
    return Paced(turns, pace).model()


async def main(address: str, task_queue: str, url: str, state: str, turns: str, pace: str = "0") -> None:
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
            model_factory=lambda job: paced_model(script, float(pace)),
            stop=stop,
            on_ready=ready,
        )
    finally:
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
