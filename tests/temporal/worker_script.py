"""A worker process for tests/temporal: tau's `serve_worker` with a stateless scripted model (temporal_kit), so that
a second worker continuing a run gets the answers the first one would have got. With WORKSPACE_ROOT it is a
locality worker (it holds the workspaces of the runs it claims: tests/temporal/test_locality*.py).

    python worker_script.py ADDRESS TASK_QUEUE STATE_DIR TURNS_JSON [WORKSPACE_ROOT]
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from temporal_kit import stateless_model, turns_of

from tau.sessions import FileSessionStore
from tau.temporal.worker import serve_worker


async def main(address: str, task_queue: str, state: str, turns: str, root: str | None = None) -> None:
    script = turns_of(turns)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)

    def ready() -> None:
        held = f" with workspaces in {root}" if root else ""
        sys.stderr.write(f"worker {os.getpid()} polling {task_queue}{held}\n")
        sys.stderr.flush()

    await serve_worker(
        address,
        FileSessionStore(Path(state)),
        task_queue=task_queue,
        env=dict(os.environ),
        model_factory=lambda job: stateless_model(script),
        stop=stop,
        on_ready=ready,
        workspace_root=Path(root) if root else None,
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
