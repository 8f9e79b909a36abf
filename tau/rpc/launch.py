"""The seam between the RPC service and the runtime: how one Run is launched, and what the service needs of it.

`launch_with_runtime` is the production launcher: `tau.runtime.prepare_run(job, sinks=[sink], model=..., store=...,
continuation=...)`, the same code path as `tau run` / `tau resume`. The service only needs `RunHandle` (run / cancel
/ close — what `RunDriver` has) and `SupportsInject.inject(text)` to hand InjectContext entries to a running run at
its next step (pydantic-ai `AgentRun.enqueue`).

One RPC session is one snapshot chain across its runs: its first run begins the session in the store
(`continuation` None); every later run — a new prompt, or the answers to a suspended run's pending calls from
`Respond` — continues it with a `tau.runtime.Continuation`, which loads the history and pending calls from the store.

`pending_requests(requests)` turns the pending deferred calls a store holds (a forked suspended session) into the
events a suspended run emits for them, so GetSession lists them the same way.

Model factories: tests and embedders pass `model_factory(job) -> Model | None` to replace the job's model
(scripted models); None keeps the model the job names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic_ai.tools import DeferredToolRequests

from tau.config import JobSpec
from tau.errors import RunError
from tau.protocol import ApprovalRequested, ClarificationRequested, Event, RunCompleted
from tau.sessions import SessionStore

if TYPE_CHECKING:
    from pydantic_ai.models import Model

    from tau.runtime import Continuation

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


Launcher = Callable[[JobSpec, Sink, "Model | None", SessionStore, "Continuation | None"], Awaitable[RunHandle]]


async def launch_with_runtime(
    job: JobSpec, sink: Sink, model: Model | None, store: SessionStore, continuation: Continuation | None
) -> RunHandle:
    """Build the run through `tau.runtime.prepare_run`, exactly as `tau run` does (without a TTY asker)."""
    from tau.runtime import prepare_run

    return await prepare_run(job, sinks=[sink], model=model, store=store, continuation=continuation)


def pending_requests(requests: DeferredToolRequests) -> list[ApprovalRequested | ClarificationRequested]:
    """The request events for a store's pending calls: permission asks, then questions (as the driver emits them)."""
    from tau.runtime.pending import PERMISSION_METADATA

    events: list[ApprovalRequested | ClarificationRequested] = []
    for call in requests.approvals:
        info = (requests.metadata.get(call.tool_call_id) or {}).get(PERMISSION_METADATA)
        reason = str(info.get("reason", "")) if isinstance(info, dict) else ""
        events.append(
            ApprovalRequested(call_id=call.tool_call_id, tool=call.tool_name, input=call.args_as_dict(), reason=reason)
        )
    for call in requests.calls:
        meta = requests.metadata.get(call.tool_call_id) or {}
        choices = meta.get("choices")
        events.append(
            ClarificationRequested(
                call_id=call.tool_call_id,
                question=str(meta.get("question", "")),
                choices=[str(c) for c in choices] if isinstance(choices, list) else None,
            )
        )
    return events
