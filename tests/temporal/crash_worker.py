"""A worker process for tests/temporal/test_exactly_once.py: tau's `serve_worker` over a file store that SIGKILLs its
own process right after a chosen commit, with a stateless scripted model that fails when asked for a step twice.

    python crash_worker.py ADDRESS TASK_QUEUE STATE_DIR TURNS_JSON LEDGER_DIR [KILL_AFTER]

KILL_AFTER (an argument of this test script, not a tau setting; tau has no such hook): `STATUS:N` — the worker kills
itself with SIGKILL right after its N-th commit of a step with that status (`running:2`, `completed:1`), before
anything else of the run happens: the step's events are not sent and the activity never returns. `provisional:N`
counts the provisional commits (a finished tool call's result, `StepRecord.provisional`), which the other statuses
do not count. `delivered` — it
kills itself when the run closes its session (after its terminal event) as soon as the workflow reports the
terminal event delivered (`Progress.finished`), before the activity returns.
LEDGER_DIR: a request for step N (N = responses already in the conversation + 1) creates the file `LEDGER_DIR/N`
exclusively; a request for a step some worker already asked for fails (AssertionError): the run then ends failed
and the test sees it. So a recorded model response requested again cannot pass unnoticed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo
from temporal_kit import StatelessScript, turns_of

from tau.sessions import FileSessionStore, StepRecord
from tau.temporal.worker import serve_worker
from tau.testing import Turn


class OnceScript(StatelessScript):
    """A stateless script whose every step may be asked for once, across processes (the ledger directory)."""

    def __init__(self, turns: list[Turn], ledger: Path) -> None:
        super().__init__(turns)
        self.ledger = ledger

    def _next(self, messages: list[ModelMessage], info: AgentInfo) -> Turn:
        turn = super()._next(messages, info)
        try:
            (self.ledger / str(self.index + 1)).open("x").close()
        except FileExistsError:
            raise AssertionError(f"the model was asked for step {self.index + 1} twice") from None
        return turn


class CrashingStore(FileSessionStore):
    """A file store whose process dies (SIGKILL) right after the commit `kill_after` names (see the docstring)."""

    def __init__(self, state: Path, kill_after: str | None, address: str) -> None:
        super().__init__(state)
        status, _, count = (kill_after or "").partition(":")
        self.status, self.left = status, int(count or 0)
        self.address = address

    async def close(self, session_id: str) -> None:
        await super().close(session_id)
        if self.status == "delivered":
            from temporalio.client import Client

            from tau.temporal.engine import workflow_id
            from tau.temporal.wire import Progress

            handle = (await Client.connect(self.address)).get_workflow_handle(workflow_id(session_id))
            while not (await handle.query("progress", result_type=Progress)).finished:
                await asyncio.sleep(0.02)
            os.kill(os.getpid(), signal.SIGKILL)

    async def commit(self, session_id: str, record: StepRecord) -> str:
        snapshot = await super().commit(session_id, record)
        if self.status and ("provisional" if record.provisional else record.status) == self.status:
            self.left -= 1
            if self.left == 0:
                os.kill(os.getpid(), signal.SIGKILL)
        return snapshot


async def main(address: str, task_queue: str, state: str, turns: str, ledger: str, kill_after: str = "") -> None:
    script = turns_of(turns)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)

    def ready() -> None:
        sys.stderr.write(f"worker {os.getpid()} polling {task_queue}\n")
        sys.stderr.flush()

    await serve_worker(
        address,
        CrashingStore(Path(state), kill_after or None, address),
        task_queue=task_queue,
        env=dict(os.environ),
        model_factory=lambda job: OnceScript(script, Path(ledger)).model(),
        stop=stop,
        on_ready=ready,
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
