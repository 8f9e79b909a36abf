"""The seam between the RPC service and the runtime: how one Run is launched, and what the service needs of it.

`launch_with_runtime` is the production launcher: `tau.runtime.prepare_run(job, sinks=[sink], model=..., store=...)`,
the same code path as `tau run`. The service only needs `RunHandle` (run / cancel / close — what `RunDriver` has)
and, when the runtime grows it, `SupportsInject.inject(text)` to hand InjectContext entries to a running run at its
next step (pydantic-ai `AgentRun.enqueue`); until the driver has `inject`, entries are queued for the next run.

`ContinuingStore` adapts a `SessionStore` so that one RPC session is one snapshot chain across its runs: the first
run `begin`s the session, later runs `resume` it (the driver always calls `begin`).

Model factories: tests and embedders pass `model_factory(job) -> Model | None` to replace the job's model
(scripted models); None keeps the model the job names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tau.config import JobSpec
from tau.errors import RunError
from tau.protocol import Event, RunCompleted
from tau.sessions import SessionStore, StepRecord

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage
    from pydantic_ai.models import Model

    from tau.sessions.port import Resumed

Sink = Callable[[Event], None]
ModelFactory = Callable[[JobSpec], "Model | None"]


class RunHandle(Protocol):
    """What the service drives: `tau.runtime.RunDriver` satisfies it."""

    async def run(self) -> RunCompleted: ...

    def cancel(self, error: RunError) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class SupportsInject(Protocol):
    """A run that accepts context mid-run (delivered before its next model request)."""

    def inject(self, text: str) -> None: ...


Launcher = Callable[[JobSpec, Sink, "Model | None", SessionStore], Awaitable[RunHandle]]


async def launch_with_runtime(job: JobSpec, sink: Sink, model: Model | None, store: SessionStore) -> RunHandle:
    """Build the run through `tau.runtime.prepare_run`, exactly as `tau run` does (without a TTY asker)."""
    from tau.runtime import prepare_run

    return await prepare_run(job, sinks=[sink], model=model, store=store)


class ContinuingStore:
    """`SessionStore` adapter: a session begun once through this adapter is resumed by later `begin` calls."""

    def __init__(self, inner: SessionStore) -> None:
        self._inner = inner
        self._begun: set[str] = set()

    async def begin(self, session_id: str, config: Mapping[str, Any]) -> str:
        if session_id in self._begun:
            return (await self._inner.resume(session_id, config)).snapshot_id
        snapshot_id = await self._inner.begin(session_id, config)
        self._begun.add(session_id)
        return snapshot_id

    async def resume(self, session_id: str, config: Mapping[str, Any] | None = None) -> Resumed:
        return await self._inner.resume(session_id, config)

    async def commit(self, session_id: str, record: StepRecord) -> str:
        return await self._inner.commit(session_id, record)

    async def history(self, session_id: str) -> list[ModelMessage]:
        return await self._inner.history(session_id)

    async def close(self, session_id: str) -> None:
        await self._inner.close(session_id)
