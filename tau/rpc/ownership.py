"""Several `tau serve` front ends on one Postgres database: which front end runs a session (`Ownership`), and what the
others see of it (used by `rpc.service` when its journal is shared: `rpc.pg_journal`).

Ownership. A front end owns a session while it holds the session's serve lock (`PgServeJournal.claim`, a Postgres
advisory lock on the front end's own connection). It claims the session for a command that changes it (Run,
Respond, InjectContext between runs) and keeps it while the run it started is in progress; when the run has ended
(`RunSupervisor.on_settled`), or the command started none, it lets go. So any front end can run the session next,
answer its questions or continue it, and at most one follows and journals a run at a time. A front end that dies
(SIGKILL included) loses its locks with its connection; one that stops lets its runs go on (`rpc.reattach`) and
closes the connection. Another live front end takes such a session over: at once when a command claims it, and by
a sweep every `interval` seconds of the sessions whose record shows a run in progress and whose lock is free (a
liveness check of owners, not a poll of events). Taking over is the restart path of one session: its record and
events are read back (`Restorer.one`), and its run is followed again from the workflow (`RunSupervisor.reattach`).

Views. The registry's copy of a session this front end does not own is a cache: `refresh(id)` replaces it with the
database's record plus the events after the record's `last_seq` (`registry.catch_up` applies them) before every
read, and `refresh_all()` does so for every session before a listing; a session gone from the database is dropped.
The copy of an owned session is the truth (this front end writes it).

Events. StreamEvents, SSE and a Run's stream read `tau_events` (`follow`: LISTEN/NOTIFY, no polling) on every front
end, for every session, owned or not: the owner appends each event before it is shown, so a client moving between
front ends resumes with its `after_seq` with no gap and no duplicate. A stream ends when the server drains.
Commands to a session another front end runs: CancelRun and InjectContext go to the run's workflow (`send`: a
Temporal signal, any client may send one); Run and Respond are FAILED_PRECONDITION naming the other front end's run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import cast

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.eventlog import LogGap
from tau.rpc.journal import ServeJournal, Stored, report
from tau.rpc.pg_journal import PgServeJournal
from tau.rpc.reattach import Detachable, detachable
from tau.rpc.registry import SessionRegistry, SessionState, catch_up
from tau.rpc.restore import Restorer
from tau.rpc.runs import RunSupervisor

__all__ = ["TAKEOVER_INTERVAL", "Ownership", "check_after", "events_of", "owning", "shared"]

TAKEOVER_INTERVAL = 2.0  # seconds between sweeps for runs whose front end is gone


def shared(journal: ServeJournal | None, restorer: Restorer, runs: RunSupervisor, interval: float) -> Ownership | None:
    """The ownership of sessions over `journal` when several front ends share it (Postgres), else None."""
    if not isinstance(journal, PgServeJournal):
        return None
    return Ownership(journal, restorer, runs, detachable(runs.runtime.engine), interval)


class Ownership:
    """See the module docstring. `engine` is the run engine when its runs outlive a front end (temporal), else None
    (a dead owner's run then ends `interrupted`, as after a restart)."""

    def __init__(
        self,
        journal: PgServeJournal,
        restorer: Restorer,
        runs: RunSupervisor,
        engine: Detachable | None,
        interval: float = TAKEOVER_INTERVAL,
    ) -> None:
        self._journal = journal
        self._restorer = restorer
        self._registry: SessionRegistry = restorer.registry
        self._runs = runs
        self._engine = engine
        self._interval = interval
        self.owned: set[str] = set()
        self._shown: dict[str, tuple[bytes, int]] = {}  # what each view was made from (record, last event seq)
        self._claiming = False
        self._stopping = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None
        runs.on_settled = self.release_if_idle

    # -- life ----------------------------------------------------------------------------------------------------

    def start(self) -> tuple[int, list[SessionState]]:
        """Open the journal, show every session, take over the runs whose front end is gone: (sessions, runs to
        follow again once serving)."""
        self._journal.open()
        self.refresh_all()
        return len(self._registry), self._adopt_orphans()

    def serving(self, orphans: list[SessionState]) -> None:
        for session in orphans:
            self._follow_again(session)
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="tau-serve-takeover")

    def stop(self) -> None:
        """End every stream and the sweep (the server drains)."""
        self._stopping.set()
        if self._sweeper is not None:
            self._sweeper.cancel()

    async def _sweep(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            if self._stopping.is_set():
                return
            try:
                for session in self._adopt_orphans():
                    self._follow_again(session)
            except Exception as error:  # a database hiccup must not end the sweep
                report(f"taking over runs of stopped front ends failed: {type(error).__name__}: {error}")

    # -- ownership -----------------------------------------------------------------------------------------------

    def own(self, session_id: str, doing: str) -> SessionState:
        """The session, owned by this front end from now on (a run an earlier owner left is followed again);
        NOT_FOUND, or FAILED_PRECONDITION while another front end runs it."""
        try:
            claimed = self._claim(session_id)
        except KeyError:
            raise ConnectError(Code.NOT_FOUND, f"no session {session_id!r}") from None
        if claimed is None:
            pid = self._journal.holder(session_id)
            who = f"another tau serve front end (pid {pid})" if pid is not None else "another tau serve front end"
            raise ConnectError(
                Code.FAILED_PRECONDITION,
                f"session {session_id!r} is in use by {who}, a run in progress there: {doing} once its final event "
                "is out, or CancelRun it",
            )
        session, orphaned = claimed
        if orphaned:
            self._follow_again(session)
        return session

    @contextlib.contextmanager
    def holding(self, session_id: str, doing: str) -> Iterator[SessionState]:
        """`own` for one command: let go at its end unless it started a run."""
        session = self.own(session_id, doing)
        try:
            yield session
        finally:
            self.release_if_idle(session)

    def release_if_idle(self, session: SessionState) -> None:
        """Let go of the session unless a run of it is in progress here (or a claim is under way)."""
        if self._claiming or session.current is not None or session.session_id not in self.owned:
            return
        self.owned.discard(session.session_id)
        self._journal.release(session.session_id)

    def runs_elsewhere(self, session: SessionState) -> bool:
        """Whether the session's run in progress is another front end's (or a gone one's, not yet taken over)."""
        return session.current is not None and session.session_id not in self.owned

    async def send(self, session: SessionState, kind: str, text: str) -> bool:
        """A cancel or an injection for a run another front end follows: straight to its workflow."""
        if self._engine is None:
            raise ConnectError(
                Code.FAILED_PRECONDITION,
                f"session {session.session_id!r} runs on another tau serve front end; send this there",
            )
        return await self._engine.send(session.session_id, kind, text)

    def exists(self, session_id: str) -> bool:
        return self._journal.exists(session_id)

    def _claim(self, session_id: str) -> tuple[SessionState, bool] | None:
        if session_id in self.owned:
            return self._registry.get(session_id), False
        if not self._journal.claim(session_id):
            return None
        self.owned.add(session_id)
        self._shown.pop(session_id, None)  # the registry's copy becomes this front end's own
        self._claiming = True
        unfinished: list[SessionState] = []
        try:
            stored = self._journal.load_one(session_id)
            kept = stored is not None and self._restorer.one(self._journal, stored, unfinished)
        except Exception as error:  # a damaged record: not ours to run
            report(f"cannot take session {session_id!r}: {type(error).__name__}: {error}")
            kept = False
        finally:
            self._claiming = False
        if not kept:
            self.owned.discard(session_id)
            self._journal.release(session_id)
            self._registry.discard(session_id)
            raise KeyError(session_id)
        return self._registry.get(session_id), bool(unfinished)

    def _adopt_orphans(self) -> list[SessionState]:
        orphans: list[SessionState] = []
        for session_id in self._journal.running():
            if session_id in self.owned:
                continue
            try:
                claimed = self._claim(session_id)
            except KeyError:
                continue
            if claimed is None:
                continue  # its front end is alive
            session, orphaned = claimed
            if orphaned:
                orphans.append(session)
            else:
                self.release_if_idle(session)  # ended as interrupted (an inline engine's run): nothing to follow
        return orphans

    def _follow_again(self, session: SessionState) -> None:
        if self._engine is not None and session.current is not None:
            report(f"taking over session {session.session_id} (run {session.current.number}): its front end is gone")
            self._runs.reattach(session, self._engine)

    # -- views ---------------------------------------------------------------------------------------------------

    def refresh(self, session_id: str) -> None:
        """Bring the registry's copy of a session this front end does not own up to date (or drop it)."""
        if session_id not in self.owned:
            self._refresh(session_id)

    def refresh_all(self) -> None:
        """Every session in the database, as it is now (for a listing)."""
        self._refresh(None)

    def _refresh(self, session_id: str | None) -> None:
        """Show the sessions (or the one) whose record or events changed since this front end last showed them;
        drop those gone from the database."""
        keys: dict[str, tuple[bytes, int]] = {}

        def unchanged(sid: str, record: bytes, last: int) -> bool:
            keys[sid] = (record, last)
            return sid in self.owned or (self._shown.get(sid) == keys[sid] and sid in self._registry)

        changed, seen = self._journal.views(session_id, unchanged)
        for stored in changed:
            if self._show(stored):
                self._shown[stored.session_id] = keys[stored.session_id]
        if session_id is None:
            gone = [s.session_id for s in self._registry.all() if s.session_id not in seen]
        else:
            gone = [] if session_id in seen else [session_id]
        for sid in gone:
            if sid not in self.owned:
                self._registry.discard(sid)
                self._shown.pop(sid, None)

    def _show(self, stored: Stored) -> bool:
        try:
            session = self._registry.restore(stored, self._restorer.job(stored.record["job"]))
            catch_up(session, int(stored.record["last_seq"]))
        except Exception as error:  # a damaged record is not listed (as at a restart)
            self._registry.discard(stored.session_id)
            report(f"skipping journal of session {stored.session_id!r}: {type(error).__name__}: {error}")
            return False
        return True

    # -- events --------------------------------------------------------------------------------------------------

    def check_after(self, session_id: str, after_seq: int) -> None:
        """LogGap when events after `after_seq` were dropped from the session's retained events."""
        first, last = self._journal.bounds(session_id)
        if first and after_seq < first - 1 and last > after_seq:
            raise LogGap(f"events {after_seq + 1}..{first - 1} were dropped from the bounded event log; "
                         f"the oldest retained is {first} (resume with after_seq={first - 1})")  # fmt: skip

    async def follow(
        self, session_id: str, after_seq: int, *, stop_after: Callable[[pb.RunResponse], bool], follow: bool
    ) -> AsyncIterator[pb.RunResponse]:
        """The session's events after `after_seq` from `tau_events`, then live ones; ends after an event for which
        `stop_after` is true, when caught up without `follow` and no run is in progress, or when the server
        drains. LogGap as `check_after`."""
        self.check_after(session_id, after_seq)

        def idle() -> bool:
            if follow:
                return False
            self.refresh(session_id)
            return session_id not in self._registry or self._registry.get(session_id).current is None

        stream = cast("AsyncGenerator[pb.RunResponse, None]", self._journal.follow(session_id, after_seq, idle))
        stopping = asyncio.ensure_future(self._stopping.wait())
        step: asyncio.Future[pb.RunResponse] | None = None
        try:
            while True:
                step = asyncio.ensure_future(anext(stream))
                await asyncio.wait({step, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    return  # the server drains
                try:
                    item = step.result()
                except StopAsyncIteration:
                    return
                step = None
                yield item
                if stop_after(item):
                    return
        finally:
            stopping.cancel()
            if step is not None and not step.done():  # the client went away, or the server drains
                step.cancel()
                with contextlib.suppress(BaseException):
                    await step
            with contextlib.suppress(RuntimeError):
                await stream.aclose()


# -- the service's side: the same calls with or without shared front ends -------------------------------------------


async def events_of(
    shared: Ownership | None,
    session: SessionState,
    after_seq: int,
    *,
    stop_after: Callable[[pb.RunResponse], bool],
    done: Callable[[], bool],
    follow: bool,
) -> AsyncIterator[pb.RunResponse]:
    """A session's events for a stream: its log here, or `tau_events` when front ends share the database (`follow`,
    not `done`, then says whether the stream outlives the runs). OUT_OF_RANGE for dropped events."""
    try:
        if shared is not None:
            items = shared.follow(session.session_id, after_seq, stop_after=stop_after, follow=follow)
        else:
            items = session.log.follow(after_seq, stop_after=stop_after, done=done)
        async for item in items:
            yield item
    except LogGap as gap:
        raise ConnectError(Code.OUT_OF_RANGE, str(gap)) from None


def check_after(shared: Ownership | None, session: SessionState, after_seq: int) -> None:
    """OUT_OF_RANGE now (not at the first event) when events after `after_seq` were dropped."""
    try:
        if shared is not None:
            shared.check_after(session.session_id, after_seq)
        elif after_seq < session.log.first_seq - 1:
            session.log.since(after_seq)
    except LogGap as gap:
        raise ConnectError(Code.OUT_OF_RANGE, str(gap)) from None


def owning(shared: Ownership | None, session: SessionState, doing: str) -> AbstractContextManager[SessionState]:
    """The session to change, owned by this front end while the change (and a run it starts) lasts."""
    return nullcontext(session) if shared is None else shared.holding(session.session_id, doing)
