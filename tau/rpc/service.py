"""`RuntimeServiceImpl`: the `tau.runtime.v1.RuntimeService` implementation behind `tau serve`.

Owns the mapping from RPCs to sessions and runs; the runtime (`tau.runtime.Runtime`, one per service) does the work:
each RPC that acts becomes one runtime operation (Run -> `Start` or `Continue`, Respond -> `Answer` or `ReviewPlan`,
ForkSession -> `Fork(run=False)`, InjectContext -> `Inject`, CancelRun -> `Cancel`). A run's life from start to final
event is `rpc.runs.RunSupervisor`'s; checking Respond's answers and building their operation is `rpc.respond`'s.
Contract:
- `CreateSession` resolves and validates the job once (`rpc.jobs`); nothing runs yet.
- `Run` starts the run as a server-side task (the runtime's `Start`/`Continue`, the same code as `tau run`) whose
  event sink appends mapped events to the session's bounded log; the RPC stream
  only follows that log, so a client that drops does not stop the run and can reattach with `StreamEvents` (or by
  retrying `Run` with the same idempotency key). A run's events are: Status(RUNNING), tau's events, then — if it
  failed (neither completed nor suspended) — Error, then Status(outcome) and Final, always last (also when the runtime
  could not even start). Final is appended only after the run has closed (store lock released, workspace and MCP
  servers closed, bounded by `ServiceLimits.close_timeout`), so a Run sent on seeing Final always finds the session
  free.
- Providers: every run's models come from the service's `ProviderPool` (one provider and HTTP client per model
  configuration, shared by the runs and closed by `aclose`), not one per run.
- One run per session at a time: a second `Run` while one is in progress is FAILED_PRECONDITION.
- `CancelRun` asks the runtime to stop the run (`Cancel`); the run still ends with its final event.
- `InjectContext` hands entries to the running run (`Inject`), else queues them for the next run.
- A session's first run begins it in the store (`Start`); later runs continue it (`Continue`), so they see its history.
- Suspension: a run that suspends (an `ask` under `on_ask: suspend`, the RPC default) streams one
  permission_request / clarification_request per pending call before its final event and leaves the session
  AWAITING_APPROVAL / AWAITING_INPUT (AWAITING_PLAN_APPROVAL for a plan) with the requests in `Session.pending`.
  `Respond` answers one request (request_id = the call id); once every pending request has an answer the session
  continues as a new run (`Answer`, or `ReviewPlan` for a plan) whose events go to the session's log like a
  Run's (follow them with StreamEvents). A Run on a session with pending requests is FAILED_PRECONDITION. A plan
  (plan mode) is one request (`plan-<run number>`, unique in the session): approving it continues in execution mode,
  rejecting it in plan mode with the feedback, as `tau plan approve|reject` do; the session keeps that mode for later
  runs. An answer to a request of an earlier run (answered already, or an earlier plan) is FAILED_PRECONDITION.
- `ForkSession` forks the store at a snapshot of the session's chain (default: its head) into a new session with
  the same job; the fork carries the snapshot's pending calls. It needs a persistent store (`state_dir`).
- Malformed requests fail with Connect codes and one-line messages: INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
  FAILED_PRECONDITION, RESOURCE_EXHAUSTED (oversized prompt or context, too many sessions), OUT_OF_RANGE (events
  dropped from the bounded log), UNIMPLEMENTED (ForkSession without a file store), UNAVAILABLE (draining).
`drain()` cancels every run (SIGTERM semantics), waits for their final events, and ends every follower; runs that
outlive the server (`rpc.reattach`: temporal) go on instead, and the next server follows them again (`serving`).
- Restart: with a file store, every session's state and events are journaled (`rpc.journal`); a server starting on
  the same store brings them all back (same ids, order, statuses, seq numbers, idempotency keys, pending requests and
  queued context; job credentials re-resolved from this server's environment as `tau resume` does). A run's record
  is saved before its first event and after its last; at start-up the events after the record's `last_seq` are
  applied (`registry.catch_up`), and a run a killed server left unfinished ends with Error, Status(CANCELLED) and
  Final(interrupted, 130). One server per state dir (the journal is locked); several front ends per Postgres
  database, each session run by one at a time (`rpc.ownership`).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

from tau.errors import ConfigError, TauError
from tau.models.providers import ProviderPool
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeService
from tau.rpc.agents import AgentApi
from tau.rpc.conversations import CONVERSATION_ID
from tau.rpc.events import as_stream_event, awaiting_status, pending_of
from tau.rpc.jobs import build_session_job, context_blocks, render_context
from tau.rpc.mailbox import Mailbox, MailLimits
from tau.rpc.ownership import TAKEOVER_INTERVAL, Ownership, check_after, events_of, owning, shared
from tau.rpc.pg_journal import journal_for
from tau.rpc.presets import PresetBook
from tau.rpc.reattach import Detachable, detachable
from tau.rpc.registry import RunState, SessionRegistry, SessionState
from tau.rpc.respond import answered_before, operation_of, record_answer
from tau.rpc.restore import Restorer
from tau.rpc.runs import RunSupervisor
from tau.rpc.session_api import SessionApi, session_filter
from tau.runtime import Continue, Engine, Fork, Forked, Inject, NotSupported, Runtime, Start
from tau.runtime.engine import ModelFactory
from tau.sessions import FileSessionStore, InMemorySessionStore, SessionNotFoundError, SessionStore
from tau.sessions.catalog_port import catalog_for

SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class ServiceLimits:
    """Bounds on what one client can make the server hold."""

    max_prompt_bytes: int = 256 * 1024
    max_context_bytes: int = 1024 * 1024
    max_sessions: int = 10_000
    event_log_capacity: int = 10_000
    default_page_size: int = 50
    max_page_size: int = 1000
    drain_timeout: float = 10.0
    close_timeout: float = 30.0  # the longest a finished run's clean-up (workspace, MCP servers) may hold its Final
    takeover_interval: float = TAKEOVER_INTERVAL  # between sweeps for runs of gone front ends (rpc.ownership)
    mail: MailLimits = field(default_factory=MailLimits)  # the mailbox's guard rails (rpc.mailbox)


def _status_name(status: pb.SessionStatus) -> str:
    return pb.SessionStatus.Name(status).removeprefix("SESSION_STATUS_")


class RuntimeServiceImpl(AgentApi, SessionApi, RuntimeService):
    """Sessions in memory, runs through the runtime. `env`/`cwd` stand for the server's environment and default
    workspace (config layering reads them); `model_factory` replaces models (tests); `engine` replaces the runtime's
    engine (default: `InlineEngine`); `store` is where runs commit their snapshots; without one, `state_dir` opens
    a `FileSessionStore` there, else snapshots stay in memory (and ForkSession is UNIMPLEMENTED). With a
    `FileSessionStore`, sessions are also journaled under `<store>/serve` (`rpc.journal`) and brought back when a
    server starts on that store."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        cwd: Path,
        presets_dir: Path | None = None,
        model_factory: ModelFactory | None = None,
        store: SessionStore | None = None,
        state_dir: Path | None = None,
        engine: Engine | None = None,
        limits: ServiceLimits | None = None,
        providers: ProviderPool | None = None,
    ) -> None:
        self._env = dict(env)
        self.providers = providers or ProviderPool()
        self._cwd = cwd
        self._presets_dir = presets_dir
        if store is None:
            store = FileSessionStore(state_dir) if state_dir is not None else InMemorySessionStore()
        self._store = store
        self.limits = limits or ServiceLimits()
        self.runtime = Runtime(
            store,
            engine=engine,
            env=self._env,
            cwd=cwd,
            model_factory=model_factory,
            providers=self.providers,
            close_timeout=self.limits.close_timeout,
        )
        journal = journal_for(store)  # beside the state dir, or in its database (rpc.pg_journal: Postgres)
        self.catalog = catalog_for(store)  # presets, labels, mail: the store's (Postgres: its database)
        self.presets = PresetBook(self.catalog, presets_dir)
        self._registry = SessionRegistry(
            max_sessions=self.limits.max_sessions, log_capacity=self.limits.event_log_capacity, journal=journal
        )
        self._runs = RunSupervisor(self._registry, runtime=self.runtime)
        self._draining = False
        self.mailbox = Mailbox(self._registry, self._runs, self.catalog, self.limits.mail, lambda: self._draining)
        self.mailbox.owning = lambda session: self._owning(session, "deliver its mail")  # rpc.ownership
        self._runs.spawner = self.background_spawn  # a run's task(background=true) (rpc.agents)
        restorer = Restorer(self._registry, self._runs, store.archive(), self._env, cwd,
                            runs_outlive=detachable(self.runtime.engine) is not None)  # fmt: skip
        self._shared: Ownership | None = shared(journal, restorer, self._runs, self.limits.takeover_interval)
        if self._shared is not None:  # several front ends on one database (rpc.ownership)
            self.restored, self._reattaching = self._shared.start()
        else:
            self.restored, self._reattaching = restorer.restore(journal) if journal is not None else (0, [])

    def serving(self) -> None:
        super().serving()
        if self._shared is not None:
            self._shared.serving(self._reattaching)
            return
        for session in self._reattaching:  # runs an earlier server let go on (rpc.reattach)
            self._runs.reattach(session, cast("Detachable", self.runtime.engine))

    @property
    def store(self) -> SessionStore:
        """Where the runs commit their snapshots (the session viewer reads it)."""
        return self._store

    def close(self) -> None:
        """Release the serve journal and the catalog (after `drain`)."""
        self.mailbox.close()
        self._registry.close()
        self.catalog.close()

    async def aclose(self) -> None:
        """Release everything the service holds (after `drain`): the model providers' HTTP clients, the journal."""
        await self.providers.aclose()
        self.close()

    # -- sessions ------------------------------------------------------------------------------------------------

    async def create_session(
        self,
        request: pb.CreateSessionRequest,
        ctx: RequestContext[pb.CreateSessionRequest, pb.CreateSessionResponse],
        /,
    ) -> pb.CreateSessionResponse:
        self._refuse_when_draining()
        session_id = self._new_session_id(request.session_id)
        if request.conversation_id and not CONVERSATION_ID.fullmatch(request.conversation_id):
            problem = f"invalid conversation_id {request.conversation_id!r}: use letters, digits, . _ - :"
            raise ConnectError(Code.INVALID_ARGUMENT, problem)
        expanded = self.presets.expand(request)
        request = expanded.request
        self._check_context_size(request.context, "context")
        try:
            job = build_session_job(request, env=self._env, cwd=self._cwd, presets_dir=self._presets_dir)
        except ConfigError as error:
            raise ConnectError(Code.INVALID_ARGUMENT, f"invalid job: {error}") from None
        except LookupError as error:
            raise ConnectError(Code.NOT_FOUND, str(error)) from None
        try:
            state = self._registry.add(session_id, job, labels=dict(request.labels))
        except OverflowError as error:
            raise ConnectError(Code.RESOURCE_EXHAUSTED, str(error)) from None
        state.conversation_id = request.conversation_id
        state.preset, state.preset_version = expanded.preset, expanded.version
        self._registry.save(state)
        if state.labels:
            self.catalog.set_labels(session_id, state.labels)
        return pb.CreateSessionResponse(session_id=session_id, session=state.to_message())

    async def get_session(
        self, request: pb.GetSessionRequest, ctx: RequestContext[pb.GetSessionRequest, pb.GetSessionResponse], /
    ) -> pb.GetSessionResponse:
        return pb.GetSessionResponse(session=self._session(request.session_id).to_message())

    async def list_sessions(
        self, request: pb.ListSessionsRequest, ctx: RequestContext[pb.ListSessionsRequest, pb.ListSessionsResponse], /
    ) -> pb.ListSessionsResponse:
        size = request.page_size or self.limits.default_page_size
        if size > self.limits.max_page_size:
            raise ConnectError(Code.INVALID_ARGUMENT, f"page_size must be at most {self.limits.max_page_size}")
        if self._shared is not None:
            self._shared.refresh_all()  # every front end's sessions
        try:
            page, token = self._registry.page(size, request.page_token, session_filter(request))
        except ValueError as error:
            raise ConnectError(Code.INVALID_ARGUMENT, str(error)) from None
        return pb.ListSessionsResponse(sessions=[s.to_message() for s in page], next_page_token=token)

    async def fork_session(
        self, request: pb.ForkSessionRequest, ctx: RequestContext[pb.ForkSessionRequest, pb.ForkSessionResponse], /
    ) -> pb.ForkSessionResponse:
        self._refuse_when_draining()
        source = self._session(request.session_id)
        if not self.runtime.persistent:
            problem = "ForkSession needs a persistent session store (tau serve --state-dir)"
            raise ConnectError(Code.UNIMPLEMENTED, problem)
        if not source.begun:
            raise ConnectError(
                Code.FAILED_PRECONDITION, f"session {source.session_id!r} has no snapshots yet: Run it first"
            )
        new_id = self._new_session_id(request.new_session_id)
        try:
            state = self._registry.add(new_id, source.job, labels=dict(source.labels), parent=source.session_id)
        except OverflowError as error:
            raise ConnectError(Code.RESOURCE_EXHAUSTED, str(error)) from None
        state.conversation_id = source.conversation_id
        state.preset, state.preset_version = source.preset, source.preset_version
        fork = Fork(source.session_id, new_id, at=request.snapshot_id.strip() or None, run=False)
        try:
            forked = await self.runtime.submit(fork)
        except TauError as error:
            self._registry.remove(new_id)
            raise ConnectError(*_fork_failure(error)) from None
        assert isinstance(forked, Forked)  # a fork that does not run
        state.begun, state.head_snapshot_id = True, forked.snapshot_id
        if forked.requests:
            state.pending = {event.call_id: pending_of(event) for event in forked.requests}
            state.status = awaiting_status(state.pending.values())
        self._registry.save(state)
        return pb.ForkSessionResponse(session_id=new_id, session=state.to_message())

    # -- runs ----------------------------------------------------------------------------------------------------

    async def run(
        self, request: pb.RunRequest, ctx: RequestContext[pb.RunRequest, pb.RunResponse], /
    ) -> AsyncIterator[pb.RunResponse]:
        if not request.session_id and request.conversation_id:
            session = self.conversation_head(request.conversation_id)
        else:
            session = self._session(request.session_id)
        run = session.run_by_key(request.idempotency_key)
        if run is None:
            with self._owning(session, "Run it") as session:
                run = self._start_run(session, request)

        def finished() -> bool:
            return run.final_seq is not None

        async for item in self._follow(session, run.first_seq - 1, stop_after=run.is_final, done=finished):
            yield item

    async def stream_events(
        self, request: pb.StreamEventsRequest, ctx: RequestContext[pb.StreamEventsRequest, pb.StreamEventsResponse], /
    ) -> AsyncIterator[pb.StreamEventsResponse]:
        session = self._session(request.session_id)

        def done() -> bool:
            return self._draining or (not request.follow and session.current is None)

        stream = self._follow(session, request.after_seq, stop_after=lambda _: False, done=done, follow=request.follow)
        async for item in stream:
            yield as_stream_event(item)

    async def cancel_run(
        self, request: pb.CancelRunRequest, ctx: RequestContext[pb.CancelRunRequest, pb.CancelRunResponse], /
    ) -> pb.CancelRunResponse:
        session = self._session(request.session_id)
        reason = request.reason.strip() or "no reason given"
        await self.mailbox.stop_children(session.session_id, f"parent cancelled: {reason}")  # also when idle
        if session.current is None:
            return pb.CancelRunResponse(cancelled=False, status=session.status)
        if self._shared is not None and self._shared.runs_elsewhere(session):  # to the workflow (rpc.ownership)
            sent = await self._shared.send(session, "cancel", f"run cancelled by CancelRun: {reason}")
            return pb.CancelRunResponse(cancelled=sent, status=session.status)
        await self._runs.cancel(session, f"run cancelled by CancelRun: {reason}")
        return pb.CancelRunResponse(cancelled=True, status=session.status)

    async def inject_context(
        self,
        request: pb.InjectContextRequest,
        ctx: RequestContext[pb.InjectContextRequest, pb.InjectContextResponse],
        /,
    ) -> pb.InjectContextResponse:
        session = self._session(request.session_id)
        if not request.entries:
            raise ConnectError(Code.INVALID_ARGUMENT, "entries is empty: give at least one ContextEntry")
        self._check_context_size(request.entries, "entries")
        try:
            blocks = context_blocks(request.entries)
        except ConfigError as error:
            raise ConnectError(Code.INVALID_ARGUMENT, str(error)) from None
        if self._shared is not None and self._shared.runs_elsewhere(session):  # to the workflow (rpc.ownership)
            if await self._shared.send(session, "inject", render_context(blocks)):
                return pb.InjectContextResponse(delivered=True, queued=len(session.queued_context))
        elif session.current is not None:
            injected = await self.runtime.submit(Inject(session.session_id, (render_context(blocks),)))
            if injected.delivered:
                return pb.InjectContextResponse(delivered=True, queued=len(session.queued_context))
        with self._owning(session, "InjectContext") as session:
            session.queued_context.extend(blocks)
            session.touch()
            self._registry.save(session)
            return pb.InjectContextResponse(delivered=False, queued=len(session.queued_context))

    async def respond(
        self, request: pb.RespondRequest, ctx: RequestContext[pb.RespondRequest, pb.RespondResponse], /
    ) -> pb.RespondResponse:
        session = self._session(request.session_id)
        if request.WhichOneof("response") is None:
            raise ConnectError(Code.INVALID_ARGUMENT, "set one of approval, answer or plan")
        if not request.request_id:
            raise ConnectError(Code.INVALID_ARGUMENT, "request_id is required")
        self._refuse_when_draining()
        if request.request_id not in session.pending and session.consumed.get(request.request_id) == (
            request.SerializeToString()
        ):
            return pb.RespondResponse(status=session.status)  # a repeat of an applied Respond: already done
        with self._owning(session, "Respond") as session:
            return self._respond(session, request)

    def _respond(self, session: SessionState, request: pb.RespondRequest) -> pb.RespondResponse:
        if session.current is not None or not session.pending:
            problem = f"session {session.session_id!r} has no pending request {request.request_id!r}"
            raise ConnectError(Code.FAILED_PRECONDITION, f"{problem} (status {_status_name(session.status)})")
        pending = session.pending.get(request.request_id)
        if pending is None and answered_before(session, request.request_id):
            raise ConnectError(
                Code.FAILED_PRECONDITION,
                f"request {request.request_id!r} of session {session.session_id!r} is no longer pending (it was "
                f"answered, or a later run replaced it); pending now: {', '.join(session.pending)}",
            )
        if pending is None:
            known = ", ".join(session.pending)
            raise ConnectError(
                Code.INVALID_ARGUMENT, f"no pending request {request.request_id!r} in session {session.session_id!r} "
                f"(pending: {known})",
            )  # fmt: skip
        record_answer(session, pending, request)
        session.given[request.request_id] = request.SerializeToString()
        open_requests = session.unanswered()
        session.touch()
        if open_requests:
            session.status = awaiting_status(open_requests)
            self._registry.save(session)
            return pb.RespondResponse(status=session.status)
        op = operation_of(session)
        session.consumed = dict(session.given)
        prompt = op.job.prompt if op.job is not None else ""
        self._runs.launch(session, op, prompt=prompt, key="", detail="continuing with the answers")
        return pb.RespondResponse(status=session.status)

    # -- shutdown ------------------------------------------------------------------------------------------------

    async def drain(self, timeout: float | None = None) -> None:
        """Refuse new work, cancel every run (SIGTERM), wait for their final events, end every follower."""
        self._draining = True
        self.mailbox.close()
        wait = self.limits.drain_timeout if timeout is None else timeout
        if detachable(self.runtime.engine) is not None:
            await self._runs.detach(wait)  # the runs go on on the workers; the next front end reattaches
        for session in [s for s in self._registry.all() if s.current is not None and not self._runs.detaching]:
            await self._runs.cancel(session, "server shutting down", signal="SIGTERM")
        if tasks := list(self._runs.tasks):
            await asyncio.wait(tasks, timeout=wait)
        for session in self._registry.all():
            session.log.close()
        if self._shared is not None:
            self._shared.stop()  # streams from tau_events end too

    # -- internals -----------------------------------------------------------------------------------------------

    def _refuse_when_draining(self) -> None:
        if self._draining:
            raise ConnectError(Code.UNAVAILABLE, "the server is shutting down")

    def _session(self, session_id: str) -> SessionState:
        if not session_id:
            raise ConnectError(Code.INVALID_ARGUMENT, "session_id is required")
        if self._shared is not None:
            self._shared.refresh(session_id)  # as the database has it now, unless this front end owns it
        try:
            return self._registry.get(session_id)
        except KeyError:
            raise ConnectError(Code.NOT_FOUND, f"no session {session_id!r}") from None

    def _new_session_id(self, requested: str) -> str:
        """A valid id no session has (here or in the store): `requested`, or a new UUID when empty."""
        session_id = requested or str(uuid.uuid4())
        if not SESSION_ID.fullmatch(session_id):
            raise ConnectError(Code.INVALID_ARGUMENT, f"invalid session_id {session_id!r}: use letters, digits, . _ -")
        if session_id in self._registry or (self._shared is not None and self._shared.exists(session_id)):
            raise ConnectError(Code.ALREADY_EXISTS, f"session {session_id!r} already exists")
        if self.runtime.session_exists(session_id):
            raise ConnectError(Code.ALREADY_EXISTS, f"session {session_id!r} already exists in the session store")
        return session_id

    def _check_context_size(self, entries: Sequence[pb.ContextEntry], field: str) -> None:
        size = sum(len(e.key.encode()) + len(e.content.encode()) + len(e.content_type.encode()) for e in entries)
        if size > self.limits.max_context_bytes:
            limit = self.limits.max_context_bytes
            raise ConnectError(Code.RESOURCE_EXHAUSTED, f"{field} is {size} bytes; the limit is {limit} bytes")

    def _follow(
        self,
        session: SessionState,
        after_seq: int,
        *,
        stop_after: Callable[[pb.RunResponse], bool],
        done: Callable[[], bool],
        follow: bool = True,
    ) -> AsyncIterator[pb.RunResponse]:
        return events_of(self._shared, session, after_seq, stop_after=stop_after, done=done, follow=follow)

    def _check_after(self, session: SessionState, after_seq: int) -> None:
        check_after(self._shared, session, after_seq)

    def _owning(self, session: SessionState, doing: str) -> AbstractContextManager[SessionState]:
        return owning(self._shared, session, doing)

    def _start_run(self, session: SessionState, request: pb.RunRequest) -> RunState:
        self._refuse_when_draining()
        size = len(request.prompt.encode())
        if size > self.limits.max_prompt_bytes:
            limit = self.limits.max_prompt_bytes
            raise ConnectError(Code.RESOURCE_EXHAUSTED, f"prompt is {size} bytes; the limit is {limit} bytes")
        if session.current is not None:
            raise ConnectError(
                Code.FAILED_PRECONDITION,
                f"session {session.session_id!r} is already running run {session.current.number}: wait for its "
                "final event, CancelRun it, or reattach with StreamEvents",
            )
        if session.pending:
            ids = ", ".join(request.request_id for request in session.unanswered()) or "none left"
            raise ConnectError(
                Code.FAILED_PRECONDITION,
                f"session {session.session_id!r} is waiting on pending requests (unanswered: {ids}): answer them with "
                "Respond, or ForkSession from an earlier snapshot",
            )
        if not request.prompt.strip() and not session.job.default_prompt:
            raise ConnectError(Code.INVALID_ARGUMENT, "prompt is empty and the session's job has no prompt")
        session.consumed = {}  # a new prompt: earlier answers can no longer be repeated
        job = session.job.for_run(request.prompt, session_id=session.session_id, queued=session.take_queued())
        op = Continue(session.session_id, job.prompt, job=job) if session.begun else Start(job, session.session_id)
        return self._runs.launch(session, op, prompt=job.prompt, key=request.idempotency_key, detail="")


def _fork_failure(error: TauError) -> tuple[Code, str]:
    """The Connect error of a fork the runtime refused: no such snapshot, an id in use, or a store failure."""
    if isinstance(error, SessionNotFoundError):
        return Code.NOT_FOUND, error.message
    if isinstance(error, NotSupported):
        return Code.UNIMPLEMENTED, error.message
    if isinstance(error, ConfigError):
        return Code.ALREADY_EXISTS, f"cannot fork: {error.message}"
    return Code.UNAVAILABLE, f"cannot fork: {error.message}"
