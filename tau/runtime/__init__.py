"""Runtime: the only owner of a pydantic-ai Agent. Builds a run from a JobSpec and drives it.

`prepare_run(job, sinks=...)` returns a `RunDriver`; `await driver.run()` returns the terminal `RunCompleted`
event (also emitted to the sinks); `await driver.close()` releases what the run opened.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_ai.models import Model

from tau.config.spec import JobSpec
from tau.runtime.driver import RunDriver
from tau.runtime.emitter import Emitter, Sink
from tau.sessions import InMemorySessionStore, SessionStore


async def prepare_run(
    job: JobSpec,
    *,
    sinks: Sequence[Sink] = (),
    interactive: bool = False,
    store: SessionStore | None = None,
    model: Model | None = None,
) -> RunDriver:
    """Build the run `job` describes. `model` replaces the spec's model (scripted models in tests)."""
    from tau.environment import HostBackend
    from tau.runtime.agent import build_setup, headless_asker, prompt_on_tty
    from tau.runtime.context import gather_context, load_working_memory

    emitter = Emitter(*sinks)
    asker = prompt_on_tty if (job.permissions.on_ask == "tty" and interactive) else headless_asker
    workspace = HostBackend(job.environment.workspace, env=job.env)
    context = gather_context(job, memory_index=await load_working_memory(job, workspace))
    setup = build_setup(job, emitter, asker=asker, workspace=workspace, context=context, model=model)
    return RunDriver(job, setup, store=store or InMemorySessionStore(), emitter=emitter)


__all__ = ["RunDriver", "prepare_run"]
