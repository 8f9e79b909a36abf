"""Runtime: the only owner of a pydantic-ai Agent. Builds a run from a JobSpec and drives it.

`prepare_run(job, sinks=...)` returns a `RunDriver`; `await driver.run()` returns the terminal `RunCompleted`
event (also emitted to the sinks); `await driver.close()` releases what the run opened.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model

from tau.config.spec import JobSpec
from tau.hooks import HookRegistry
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
    environ: Mapping[str, str] | None = None,
    hook_registry: HookRegistry | None = None,
    history: Sequence[ModelMessage] = (),
) -> RunDriver:
    """Build the run `job` describes, opening what it needs (MCP servers) before any model call.

    `model` replaces the spec's model (scripted models in tests); `environ` is the host environment MCP `${VAR}`
    expansion and hook commands see (default: this process's); `hook_registry` adds Python hooks when embedding;
    `history` is the conversation so far (a resumed session's messages).
    Raises ConfigError (exit 2) for bad MCP or hook config and PreflightError (exit 3) for a required MCP server
    that fails to start or a docker sandbox that cannot be created. What was opened is closed again on failure.
    """
    from tau.runtime.agent import build_setup, headless_asker, prompt_on_tty
    from tau.runtime.context import gather_context, load_working_memory, open_hooks, open_servers
    from tau.runtime.workspace import open_workspace

    host_env = dict(os.environ if environ is None else environ)
    session_id = job.session_id or str(uuid.uuid4())
    emitter = Emitter(*sinks)
    asker = prompt_on_tty if (job.permissions.on_ask == "tty" and interactive) else headless_asker
    opened = await open_workspace(job, session_id)
    closers = list(opened.closers)
    try:
        context = gather_context(job, memory_index=await load_working_memory(job, opened.backend))
        hooks = open_hooks(job, session_id, emitter, host_env, hook_registry, context)
        mcp = await open_servers(job, host_env, Path(job.environment.workspace), context)
        closers.append(mcp.aclose)
        setup = build_setup(
            job, emitter, asker=asker, workspace=opened.backend, context=context, model=model, hooks=hooks
        )
    except BaseException:
        for close in reversed(closers):
            await close()
        raise
    setup.environment = opened.info
    setup.history = list(history)
    setup.closers.extend(closers)
    mcp.on_warning = emitter.emit_notice
    return RunDriver(job, setup, store=store or InMemorySessionStore(), emitter=emitter, session_id=session_id)


__all__ = ["RunDriver", "prepare_run"]
