"""`Runtime`: the one place operations become runs. Typed operations in (`runtime.operations`), events out.

Constructed once per process (`tau run`, `tau serve`, `tau watch`) with the session store, the engine (default:
`InlineEngine`, today's in-process execution), the provider pool and the environment and working directory that
stored jobs are re-resolved against. `await runtime.submit(op, sinks=...)`:

- `Start`, `Continue`, `Answer`, `ReviewPlan`, `Fork(run=True)` -> the terminal `RunCompleted` (emitted to `sinks`
  after every other event of the run). Raises before any event — ConfigError (exit 2), PreflightError (exit 3), or
  the cancel error of a run cancelled before it started — when the run cannot start; a front end that needs a
  terminal event anyway makes it with `failure_event` (`runtime.run_events`, where every `RunCompleted` is built).
- `Fork(run=False)` -> `Forked` (the new session, its root, the events for the calls it waits on).
- `Inject`, `Cancel` -> `Delivered`: whether a run of the session in this process took it.
`submit` is `prepare(op)` (preconditions, the job, forks; nothing runs) then `execute(prepared, ...)`; a front end that
must see the run's job before its first event calls them itself (the CLI picks its renderer from the job's format).

Owned here, once: every precondition of an operation (a new session's id is free; a continued session exists, is a
session and not a snapshot, and its answers match its pending calls — `pending.check_continuation`, checked again by
the driver under the session's lock; a plan review needs a session awaiting one), the job a continuation runs with
(the front end's, or the stored one re-resolved with overrides: `tau.config.resume_job`), forks (and `--with-files`
restores), and the registry of runs in this process that `Inject` and `Cancel` reach (`RunControl`). A front end
that starts runs as background tasks reserves the control first (`control(session_id)`), so a cancel or an
injection sent before the task ran still reaches the run.

Stores: reading a session before a run (preconditions, stored jobs, forks) needs a store with an archive
(`SessionStore.archive()`, the port's capability: the file store has one); with a store without, a continuation must
bring its job, the driver alone checks it, and forks are refused (`NotSupported`). Steering inboxes live in the
store's `state_dir()`; a fork's `--with-files` restore reads its `checkpoint_objects()`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from tau.config.spec import JobSpec
from tau.errors import ConfigError, Interrupted
from tau.protocol import RunCompleted
from tau.runtime.engine import Engine, InlineEngine, ModelFactory, PreparedRun, RunControl, Sink
from tau.runtime.features.plan import PlanReview
from tau.runtime.forking import restore_files
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
from tau.runtime.pending import Continuation, check_continuation, request_events
from tau.runtime.run_events import failure_event
from tau.sessions import SessionStore, SessionView

if TYPE_CHECKING:
    from tau.models.providers import ProviderPool

__all__ = ["NotSupported", "Report", "Runtime", "failure_event"]

Report = Callable[[str], None]


class NotSupported(ConfigError):
    """The session store cannot do what the operation needs (fork without a persistent store)."""


class Runtime:
    """See the module docstring. `env`/`cwd` are what stored jobs are re-resolved against (default: this
    process's); `model_factory`, `providers` and `close_timeout` configure the default `InlineEngine`."""

    def __init__(
        self,
        store: SessionStore,
        *,
        engine: Engine | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        model_factory: ModelFactory | None = None,
        providers: ProviderPool | None = None,
        close_timeout: float | None = None,
    ) -> None:
        self.store = store
        self.engine: Engine = engine or InlineEngine(
            store, model_factory=model_factory, providers=providers, close_timeout=close_timeout
        )
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd if cwd is not None else Path.cwd()
        self._controls: dict[str, RunControl] = {}
        self._archive = store.archive()  # the port's capability: None for a store that keeps no readable sessions

    # -- runs in this process ------------------------------------------------------------------------------------

    def control(self, session_id: str, *, origin: float | None = None) -> RunControl:
        """The control of `session_id`'s run in this process, registered now if there is none (see the module
        docstring). The next run of the session submitted here uses it."""
        current = self._controls.get(session_id)
        if current is None or current.finished:
            current = RunControl(origin=origin)
            self._controls[session_id] = current
        return current

    def running(self, session_id: str) -> bool:
        control = self._controls.get(session_id)
        return control is not None and control.running

    @property
    def persistent(self) -> bool:
        """The store keeps sessions this runtime can show, continue from their stored jobs, and fork."""
        return self._archive is not None

    def session_exists(self, session_id: str) -> bool:
        """`session_id` names a session of a persistent store (False for stores that cannot tell)."""
        return self._archive is not None and self._archive.head(session_id) is not None

    def _claim(self, session_id: str, control: RunControl | None) -> RunControl:
        current = self._controls.get(session_id)
        if control is None:
            control = self.control(session_id)
        elif current is not None and current is not control and not current.finished:
            raise ConfigError(f"session {session_id} is already running in this process", source="session")
        self._controls[session_id] = control
        return control

    def _unreserve(self, session_id: str | None) -> None:
        control = self._controls.get(session_id or "")
        if control is not None and not control.running:
            self._release(session_id or "", control)

    def _release(self, session_id: str, control: RunControl) -> None:
        control.finish()
        if self._controls.get(session_id) is control:
            del self._controls[session_id]

    # -- submit ------------------------------------------------------------------------------------------------

    @overload
    async def submit(
        self,
        op: Start | Continue | Answer | ReviewPlan,
        *,
        sinks: Sequence[Sink] = (),
        control: RunControl | None = None,
        interactive: bool = False,
        report: Report | None = None,
    ) -> RunCompleted: ...

    @overload
    async def submit(
        self,
        op: Fork,
        *,
        sinks: Sequence[Sink] = (),
        control: RunControl | None = None,
        interactive: bool = False,
        report: Report | None = None,
    ) -> RunCompleted | Forked: ...

    @overload
    async def submit(
        self,
        op: Inject | Cancel,
        *,
        sinks: Sequence[Sink] = (),
        control: RunControl | None = None,
        interactive: bool = False,
        report: Report | None = None,
    ) -> Delivered: ...

    async def submit(
        self,
        op: Operation,
        *,
        sinks: Sequence[Sink] = (),
        control: RunControl | None = None,
        interactive: bool = False,
        report: Report | None = None,
    ) -> RunCompleted | Forked | Delivered:
        """Act on `op` (see the module docstring): `prepare` then `execute` for the operations that run."""
        if isinstance(op, Inject):
            target = self._controls.get(op.session)
            return Delivered(op.session, target is not None and target.inject("\n".join(op.entries)))
        if isinstance(op, Cancel):
            target = self._controls.get(op.session)
            if target is None or target.finished:
                return Delivered(op.session, False)
            target.cancel(Interrupted(op.reason or "run cancelled", signal_name=op.signal))
            return Delivered(op.session, True)
        try:
            prepared = await self.prepare(op, report=report)
        except BaseException:
            self._unreserve(_session_of(op))  # a cancel kept for a run that never started must not stop the next
            raise
        if isinstance(prepared, Forked):
            return prepared
        return await self.execute(prepared, sinks=sinks, control=control, interactive=interactive)

    async def prepare(self, op: RunOperation, *, report: Report | None = None) -> PreparedRun | Forked:
        """Check `op`'s preconditions and settle what its run needs (the job, the session id; a fork is made
        here), without running anything yet; `Fork(run=False)` is done here. `report` receives the lines of a
        `Fork(with_files=True)` restore."""
        if isinstance(op, Start):
            return self._start(op)
        if isinstance(op, Fork):
            return await self._fork(op, report)
        if isinstance(op, ReviewPlan):
            review = PlanReview(op.decision, op.feedback)
            verb = f"tau plan {op.decision}"
            return await self._continue(op.session, Continuation(None, plan_review=review), op.job, op.overrides, verb)
        if isinstance(op, Answer):
            continuation = Continuation(op.prompt, op.answers)
            return await self._continue(op.session, continuation, op.job, op.overrides, "tau resume")
        return await self._continue(op.session, Continuation(op.prompt), op.job, op.overrides, "tau resume")

    async def execute(
        self,
        run: PreparedRun,
        *,
        sinks: Sequence[Sink] = (),
        control: RunControl | None = None,
        interactive: bool = False,
        steering: bool = False,
    ) -> RunCompleted:
        """Execute a prepared run through the engine: its terminal event (see the module docstring). `control` is
        the front end's handle on the run (default: the one `control(session)` reserved, else a new one);
        `interactive` says a human is at this terminal (`--on-ask tty`); `steering` makes the run watch its
        session's inbox (`tau inject` / `tau stop`; file stores only)."""
        control = self._claim(run.session_id, control)
        inbox = self._inbox(run.session_id) if steering else None
        run = replace(run, interactive=interactive or run.interactive, inbox=inbox or run.inbox)
        try:
            return await self.engine.execute(run, (control.observe, *sinks), control)
        finally:
            self._release(run.session_id, control)

    # -- preconditions and jobs ----------------------------------------------------------------------------------

    def _start(self, op: Start) -> PreparedRun:
        session_id = op.session_id or op.job.session_id or str(uuid.uuid4())
        if self.session_exists(session_id):
            where = self.store.state_dir() or "the session store"
            raise ConfigError(f"session {session_id!r} already exists in {where}", source="--session-id")
        return PreparedRun(op.job, session_id)

    async def _continue(
        self,
        name: str,
        continuation: Continuation,
        job: JobSpec | None,
        overrides: Mapping[str, Any],
        verb: str,
    ) -> PreparedRun:
        view = await self._view(name)
        if view is None:
            if job is None:
                raise NotSupported(f"session {name}: this session store keeps no jobs to continue with", source=verb)
            return PreparedRun(job, name, continuation)
        if view.kind != "session" or view.session_id is None:
            hint = f": use `tau fork {name}`" if continuation.plan_review is None else ""
            raise ConfigError(f"{name!r} names a snapshot, not a session{hint}", source=verb)
        check_continuation(continuation, label=view.label, status=view.status, pending=view.pending, source=verb)
        if job is None:
            job = self._stored_job(view, continuation, overrides)
        return PreparedRun(job, view.session_id, continuation)

    def _stored_job(self, view: SessionView, continuation: Continuation, overrides: Mapping[str, Any]) -> JobSpec:
        """The job stored with `view`, re-resolved here with `overrides` on top (`resume_job`); a plan review runs
        in the mode its verdict asks for (`PlanReview.mode`)."""
        from tau.config import resume_job

        flags = dict(overrides)
        review = continuation.plan_review
        if review is not None:
            stored_mode = view.config.get("permissions", {}).get("mode", "default")
            flags["permission_mode"] = review.mode(stored_mode, flags.get("permission_mode"))
        return resume_job(view.config, prompt=continuation.prompt, flags=flags, env=self.env, cwd=self.cwd)

    async def _fork(self, op: Fork, report: Report | None) -> PreparedRun | Forked:
        archive = self._archive
        if archive is None:
            raise NotSupported("fork needs a persistent session store (a state directory)")
        new_id = op.new_session_id or str(uuid.uuid4())
        view = await archive.view(op.source, at=op.at)
        if not op.run:
            root = await archive.fork(view.snapshot_id, new_id)
            pending = await archive.pending(new_id)
            return Forked(new_id, root, tuple(request_events(pending)) if pending is not None else ())
        continuation = Continuation(op.prompt, op.answers)
        check_continuation(continuation, label=view.label, status=view.status, pending=view.pending, source="tau fork")
        job = self._stored_job(view, continuation, op.overrides)
        await archive.fork(view.snapshot_id, new_id, job.model_dump(mode="json"))
        if op.with_files:
            objects = self.store.checkpoint_objects()
            if objects is None:
                raise NotSupported("--with-files needs a session store that keeps workspace checkpoints")
            await restore_files(objects, view, job.environment.workspace, report or (lambda line: None))
        return PreparedRun(job, new_id, continuation)

    async def _view(self, name: str) -> SessionView | None:
        """`name` (a session, a snapshot, or a unique prefix) as the store's archive shows it; None for a store
        without one."""
        return None if self._archive is None else await self._archive.view(name)

    def _inbox(self, session_id: str) -> str | None:
        from tau.runtime.features.steering import inbox_dir

        state = self.store.state_dir()
        return str(inbox_dir(state, session_id)) if state is not None else None


def _session_of(op: RunOperation) -> str | None:
    """The session a run operation's run will have, when the operation names it."""
    if isinstance(op, Start):
        return op.session_id or op.job.session_id
    if isinstance(op, Fork):
        return op.new_session_id
    return op.session
