"""The engine port: how a prepared run is executed, and `InlineEngine`, which executes it in this process.

`Engine.execute(run, sinks, control) -> RunCompleted` executes one `PreparedRun` to its end: it emits the run's
events to `sinks` (the terminal `RunCompleted` last) and returns that event. It raises (before any event) only when
the run cannot start: ConfigError (exit 2: a bad MCP or hook config, a session that cannot be opened), PreflightError
(exit 3: a required MCP server, the sandbox, the session store), or the cancel error of a run cancelled before it
started. What a run opened is closed before `execute` returns, so the session is free again when the caller sees it.
`--timeout` bounds the start-up too (`InlineEngine`: MCP servers, the sandbox, counted from `control.origin`): when
it runs out before the run exists, `execute` raises `RunTimeout` (exit 124, one line, no event), as a preflight would.

What crosses the port is data: `PreparedRun` holds the resolved `JobSpec` (its dumps exclude credentials, which an
engine in another process re-resolves from its own environment, as `tau resume` does), the session id, the
`Continuation` (prompt, `Answers`, plan review), whether a human is at a terminal and the steering inbox to watch. No
store, model, agent or callback is in it: a durable engine (Temporal workers in other processes) takes the same input.
`sinks` and `control` stay with the caller: such an adapter forwards its workers' events to the sinks and turns
`control`'s cancel and inject into signals to the workflow, so `RunControl` is the whole live surface of a run.

`RunControl` is this process's handle on one run: `cancel(error)` and `inject(text)` may come at any time — before
the run exists (kept and applied when the engine attaches the run), while it runs, or after it ended (ignored). The
engine attaches its run with `attach` (then `on_attach` runs) and calls `finish` when the run's terminal event has
been emitted.

`InlineEngine` is today's in-process execution: `tau.runtime.prepare_run` + `RunDriver.run` on the caller's event
loop, with the test seam `model_factory(job) -> Model | None` (scripted models), the RPC service's `ProviderPool`
(every run's models share its providers) and a bound on the clean-up after a run (`close_timeout`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import anyio

from tau.config.spec import JobSpec
from tau.errors import PreflightError, RunError, RunTimeout
from tau.protocol import Event, RunCompleted
from tau.runtime.pending import Continuation
from tau.sessions import SessionStore

if TYPE_CHECKING:
    from pydantic_ai.models import Model

    from tau.models.providers import ProviderPool
    from tau.runtime.driver import RunDriver

Sink = Callable[[Event], None]
ModelFactory = Callable[[JobSpec], "Model | None"]

# An opaque name a front end gives the run it submits from this context (`tau serve`: `<session id>#<run number>`).
# An engine whose runs outlive the front end keeps it with the run (temporal: the workflow's memo), so that a later
# front end following the session's latest run can tell that run from an earlier one (`rpc.reattach`).
RUN_TAG: ContextVar[str] = ContextVar("tau_run_tag", default="")


@dataclass(frozen=True)
class PreparedRun:
    """One run, as data: begin `session_id` (no continuation) or continue it; see the module docstring."""

    job: JobSpec
    session_id: str
    continuation: Continuation | None = None
    interactive: bool = False
    inbox: str | None = None  # the steering inbox this run watches (`tau inject` / `tau stop`), if any


class RunHandle(Protocol):
    """The live run an engine attaches to a `RunControl` (`RunDriver` is one)."""

    def cancel(self, error: RunError) -> None: ...

    def inject(self, text: str) -> None: ...


class RunControl:
    """This process's handle on one run (see the module docstring). `origin` is the `time.monotonic()` instant
    `--timeout` counts from (None: when the run starts)."""

    def __init__(self, *, origin: float | None = None, on_attach: Callable[[], None] | None = None) -> None:
        self.origin = origin
        self.on_attach = on_attach  # called once the run exists (`tau run` installs its signal handlers then)
        self.cancel_error: RunError | None = None
        self.finished = False
        self._handle: RunHandle | None = None
        self._queued: list[str] = []

    @property
    def running(self) -> bool:
        """A run is attached and has not ended."""
        return self._handle is not None and not self.finished

    def cancel(self, error: RunError) -> None:
        """End the run with `error`'s terminal reason as soon as possible. The first cancel wins."""
        if self.finished:
            return
        if self.cancel_error is None:
            self.cancel_error = error
        if self._handle is not None:
            self._handle.cancel(error)

    def inject(self, text: str) -> bool:
        """Deliver `text` to the model before its next request; False once the run has ended."""
        if self.finished:
            return False
        if self._handle is None:
            self._queued.append(text)
        else:
            self._handle.inject(text)
        return True

    def attach(self, handle: RunHandle) -> None:
        self._handle = handle
        while self._queued:
            handle.inject(self._queued.pop(0))
        if self.cancel_error is not None:
            handle.cancel(self.cancel_error)
        if self.on_attach is not None:
            self.on_attach()

    def finish(self) -> None:
        """The run has ended: later cancels and injections are ignored (an injection reports False)."""
        self.finished = True
        self._handle = None
        self._queued.clear()

    def observe(self, event: Event) -> None:
        """A sink: the terminal event ends the run for its control."""
        if isinstance(event, RunCompleted):
            self.finish()


class Engine(Protocol):
    """Executes prepared runs (see the module docstring)."""

    async def execute(self, run: PreparedRun, sinks: Sequence[Sink], control: RunControl) -> RunCompleted: ...


class InlineEngine:
    """Runs in this process, on the caller's event loop (see the module docstring)."""

    def __init__(
        self,
        store: SessionStore,
        *,
        model_factory: ModelFactory | None = None,
        providers: ProviderPool | None = None,
        close_timeout: float | None = None,
    ) -> None:
        self.store = store
        self.model_factory = model_factory
        self.providers = providers
        self.close_timeout = close_timeout

    async def execute(self, run: PreparedRun, sinks: Sequence[Sink], control: RunControl) -> RunCompleted:
        if control.cancel_error is not None:
            raise control.cancel_error
        async with self._lease():
            return await self._execute(run, sinks, control)

    async def _execute(self, run: PreparedRun, sinks: Sequence[Sink], control: RunControl) -> RunCompleted:
        from tau.runtime import RunEntry, prepare_run

        model = self.model_factory(run.job) if self.model_factory is not None else None
        entry = RunEntry(run.session_id, run.continuation, interactive=run.interactive)
        opening = prepare_run(run.job, sinks=sinks, store=self.store, model=model, entry=entry)
        driver = await _within_timeout(run.job, control.origin, opening)
        try:
            if control.origin is not None:
                driver.origin = control.origin
            control.attach(driver)
            async with _steering(run.inbox, driver, control):
                return await driver.run()
        finally:
            control.finish()
            await self._close(driver)

    def _lease(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self.providers.lease() if self.providers is not None else contextlib.nullcontext()

    async def _close(self, driver: RunDriver) -> None:
        """Release what the run opened; a failing or slow clean-up must not turn a finished run into a failed one."""
        try:
            await asyncio.wait_for(driver.close(), self.close_timeout)
        except Exception:
            return


async def _within_timeout(job: JobSpec, origin: float | None, opening: Awaitable[RunDriver]) -> RunDriver:
    """`opening` (`prepare_run`) within what `--timeout` leaves, counted from `origin` (`time.monotonic()`; default:
    now). Start-up that outlasts the limit is cut off — `prepare_run` closes what it opened — and is a `RunTimeout`."""
    limit = job.limits.timeout
    if limit is None:
        return await opening
    left = limit - (time.monotonic() - origin) if origin is not None else limit
    with anyio.move_on_after(left):
        return await opening
    raise RunTimeout(f"run exceeded --timeout {limit:g}s (while starting)")


@contextlib.asynccontextmanager
async def _steering(inbox: str | None, driver: RunDriver, control: RunControl) -> AsyncIterator[None]:
    """Watch the run's steering inbox while it runs: messages are injected, a stop request cancels it. A store that
    takes no new directory (a full disk) is a preflight failure (exit 3, one line)."""
    if inbox is None:
        yield
        return
    from tau.runtime.features.steering import steered

    path = Path(inbox)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PreflightError(f"session store: cannot create {path}: {error.strerror or error}") from None
    async with steered(path, inject=driver.inject, cancel=control.cancel):
        yield
