"""Runtime: the only owner of a pydantic-ai Agent. Typed operations in, events out.

Front ends (`tau.cli`, `tau.rpc`, `tau.watch`) build one `Runtime` per process and `submit` operations to it (`Start`,
`Continue`, `Answer`, `ReviewPlan`, `Fork`, `Inject`, `Cancel`: `runtime.operations`); the runtime owns every
precondition, the job a continuation runs with, forks, and the runs in this process (`runtime.service`), and executes
runs through its `Engine` (`runtime.engine`: `InlineEngine`, in this process, is the default).

Below the engine: `prepare_run(job, sinks=...)` returns a `RunDriver`; `await driver.run()` returns the terminal
`RunCompleted` event (also emitted to the sinks); `await driver.close()` releases what the run opened. Front ends
never call them; tests and benchmarks that drive one run directly may.

Where a run is persisted: `store=` (any `SessionStore`) wins; else `state_dir=` opens a `FileSessionStore` there;
else the run keeps its snapshots in memory (`InMemorySessionStore`) — embedding and tests stay free of disk state
unless they ask for it. `tau run`/`resume`/`fork` always pass the file store of `default_state_dir(...)`.
`entry=` (a `RunEntry`) says which session the run enters: its id, a `Continuation` that resumes it instead of
beginning a new one, the history of a new one, and whether a human is at the terminal (`--on-ask tty` asks there only
then, permission asks and `ask_user` questions alike, and answers as `deny` otherwise).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import anyio
from pydantic_ai.models import Model

from tau.config.spec import JobSpec
from tau.hooks import HookRegistry
from tau.permissions import Asker
from tau.redact import Redactor
from tau.runtime.answers import Answers
from tau.runtime.driver import RunDriver
from tau.runtime.emitter import Emitter, Sink
from tau.runtime.engine import Engine, InlineEngine, PreparedRun, RunControl
from tau.runtime.features.clarify import OnAsk
from tau.runtime.operations import (
    Answer,
    Cancel,
    Continue,
    Delivered,
    Fork,
    Forked,
    Inject,
    Operation,
    ReviewPlan,
    RunOperation,
    Start,
)
from tau.runtime.pending import Continuation
from tau.runtime.run_events import failure_event
from tau.runtime.service import NotSupported, Runtime
from tau.runtime.setup import RunEntry, RunServices
from tau.sessions import FileSessionStore, InMemorySessionStore, SessionStore


async def prepare_run(
    job: JobSpec,
    *,
    sinks: Sequence[Sink] = (),
    store: SessionStore | None = None,
    model: Model | None = None,
    environ: Mapping[str, str] | None = None,
    hook_registry: HookRegistry | None = None,
    state_dir: Path | str | None = None,
    entry: RunEntry | None = None,
) -> RunDriver:
    """Build the run `job` describes, opening what it needs (MCP servers) before any model call.

    `model` replaces the spec's model (scripted models in tests); `environ` is the host environment MCP `${VAR}`
    expansion and hook commands see (default: this process's); `hook_registry` adds Python hooks when embedding;
    `state_dir` selects a file store when no `store` is given; `entry` says which session the run enters and how
    (`RunEntry`, default: a new session; its id, a continuation, the history of a new session, whether a human is at
    the terminal).
    Raises ConfigError (exit 2) for bad MCP or hook config and PreflightError (exit 3) for a required MCP server
    that fails to start or a docker sandbox that cannot be created. What was opened is closed again on failure.
    """
    from tau.runtime.agent import build_setup
    from tau.runtime.context import gather_context, load_working_memory, open_hooks, open_servers
    from tau.runtime.features.subagents import ParentSession
    from tau.runtime.workspace import open_workspace

    entry = entry or RunEntry()
    host_env = dict(os.environ if environ is None else environ)
    session_id = entry.session_id or job.session_id or str(uuid.uuid4())
    redactor = Redactor.from_env({**host_env, **job.env}).with_values([job.model.api_key or ""])  # any variable's key
    emitter = Emitter(*sinks, redactor=redactor)
    asker, ask_policy = _askers(job, entry.interactive)
    opened = await open_workspace(job, session_id)
    closers = list(opened.closers)
    try:
        context = gather_context(job, memory_index=await load_working_memory(job, opened.backend))
        if store is None:
            store = FileSessionStore(state_dir) if state_dir is not None else InMemorySessionStore()
        runs_in = store
        hooks = open_hooks(
            job, session_id, emitter, host_env, hook_registry, context, state_dir=lambda: _hook_dir(runs_in, closers)
        )
        if hooks is not None:
            asker = hooks.permission_asker(asker)  # PermissionRequest hooks answer an ask before the asker does
        mcp = await open_servers(job, host_env, Path(job.environment.workspace), context, sandbox=opened)
        closers.append(mcp.aclose)
        drivers: list[RunDriver] = []  # the driver exists only after the agent; subagents ask it for the head lazily
        parent = ParentSession(
            session_id,
            head=lambda: drivers[0].snapshot_id if drivers else None,
            budget=lambda: drivers[0].budget if drivers else None,
        )
        pin = await _workspace_pin(store, session_id) if entry.continuation is not None else None
        services = RunServices(
            job,
            emitter,
            asker,
            store,
            workspace=opened.backend,
            environment=opened.info,
            context=context,
            parent=parent,
            host_env=host_env,
            hooks=hooks,
            model=model,
            checkpoint_parent=pin,
            ask_policy=ask_policy,
        )
        setup = build_setup(services, history=entry.history, closers=closers)
    except BaseException:
        with anyio.CancelScope(shield=True):  # also when start-up was cancelled (`--timeout`): close it all
            for close in reversed(closers):
                await close()
        raise
    mcp.on_warning = emitter.emit_notice
    driver = RunDriver(job, setup, store=store, emitter=emitter, session_id=session_id, continuation=entry.continuation)
    drivers.append(driver)
    return driver


def _askers(job: JobSpec, interactive: bool) -> tuple[Asker, OnAsk]:
    """Who answers permission asks, and how `ask_user` reaches a human (`tty` without a terminal: `deny`)."""
    from tau.runtime.agent import headless_asker, prompt_on_tty, suspending_asker

    on_ask = job.permissions.on_ask
    asker: Asker = headless_asker
    if on_ask == "tty" and interactive:
        asker = prompt_on_tty
    elif on_ask == "suspend":
        asker = suspending_asker
    return asker, on_ask if on_ask != "tty" or interactive else "deny"


def _hook_dir(store: SessionStore, closers: list[Callable[[], Awaitable[None]]]) -> Path:
    """Where the session's hook transcript lives: the store's state directory; for a store without one (in memory),
    a private temp directory removed when the run closes."""
    state = store.state_dir()
    if state is not None:
        return state
    temp = Path(tempfile.mkdtemp(prefix="tau-hooks-"))

    async def remove() -> None:
        shutil.rmtree(temp, ignore_errors=True)

    closers.append(remove)
    return temp


async def _workspace_pin(store: SessionStore, session_id: str) -> str | None:
    """The workspace checkpoint a continued session's head pins (stores with an archive)."""
    archive = store.archive()
    if archive is None:
        return None
    try:
        return (await archive.view(session_id)).workspace
    except (KeyError, OSError, ValueError):
        return None


__all__ = [
    "Answer",
    "Answers",
    "Cancel",
    "Continuation",
    "Continue",
    "Delivered",
    "Engine",
    "Fork",
    "Forked",
    "Inject",
    "InlineEngine",
    "NotSupported",
    "Operation",
    "PreparedRun",
    "ReviewPlan",
    "RunControl",
    "RunDriver",
    "RunEntry",
    "RunOperation",
    "Runtime",
    "Start",
    "failure_event",
    "prepare_run",
]
