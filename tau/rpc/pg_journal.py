"""`PgServeJournal`: the serve journal (rpc.journal's contract) kept in the Postgres session store, so a `tau serve`
restarted on any machine that opens the same database brings its sessions back, and the events it appends reach
`tau_events` (LISTEN/NOTIFY: `PostgresSessionStore.follow`).

Same interface and semantics as `ServeJournal` (a subclass, so the registry and the service take either): `open`
locks the database's serve journal for this process (one server per database: PreflightError otherwise), `save`
replaces a session's record, `append_raw` adds one serialized `RunResponse` under its own seq (parsed from it),
`trim` drops what the bounded log no longer holds, `remove` forgets a session, `load` yields every session with
its events in seq order. A write that fails is reported once on stderr and the session goes on in memory.
`journal_for(store)` picks it for a store that offers journal tables, else the file journal beside the state dir.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from google.protobuf.message import DecodeError

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.journal import RECORD_VERSION, ServeJournal, Stored, report
from tau.rpc.journal import _current as current_event  # the v2 event vocabulary for old journals
from tau.sessions import SessionStore

__all__ = ["PgServeJournal", "journal_for"]


class JournalTables(Protocol):
    """What `PgJournalTables` (tau.sessions.postgres.journal) offers."""

    @property
    def where(self) -> str: ...

    def lock(self) -> None: ...

    def unlock(self) -> None: ...

    def save(self, session_id: str, record: bytes) -> None: ...

    def append(self, session_id: str, seq: int, raw: bytes) -> None: ...

    def trim(self, session_id: str, first_kept: int) -> None: ...

    def remove(self, session_id: str) -> None: ...

    def load(self) -> list[tuple[str, bytes, list[tuple[int, bytes]]]]: ...


@runtime_checkable
class _HasJournalTables(Protocol):
    def journal_tables(self) -> JournalTables: ...


def journal_for(store: SessionStore) -> ServeJournal | None:
    """The journal `tau serve` keeps for `store`: in its database when it has journal tables (Postgres), else the
    file journal under its state directory, else none."""
    if isinstance(store, _HasJournalTables):
        return PgServeJournal(store.journal_tables())
    state = store.state_dir()
    return ServeJournal(state / "serve") if state is not None else None


class PgServeJournal(ServeJournal):
    def __init__(self, tables: JournalTables) -> None:
        super().__init__(Path(tables.where))
        self.tables = tables

    def open(self) -> None:
        self.tables.lock()

    def close(self) -> None:
        self.tables.unlock()

    def save(self, session_id: str, record: Mapping[str, Any]) -> None:
        data = json.dumps({"version": RECORD_VERSION, **record}, separators=(",", ":")).encode()
        self._guard(lambda: self.tables.save(session_id, data))

    def append_raw(self, session_id: str, raw: bytes) -> None:
        seq = pb.RunResponse.FromString(raw).seq
        self._guard(lambda: self.tables.append(session_id, seq, raw))

    def trim(self, session_id: str, keep: Sequence[pb.RunResponse]) -> None:
        if keep:
            self._guard(lambda: self.tables.trim(session_id, keep[0].seq))

    def remove(self, session_id: str) -> None:
        self._guard(lambda: self.tables.remove(session_id))

    def load(self) -> Iterator[Stored]:
        for session_id, data, rows in self.tables.load():
            try:
                record = json.loads(data)
                if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
                    raise ValueError(f"not a version-{RECORD_VERSION} session record")
                if record.get("session_id") != session_id:
                    raise ValueError("its session_id does not match its row")
                events = [current_event(pb.RunResponse.FromString(raw)) for _, raw in rows]
            except (ValueError, DecodeError) as error:
                report(f"skipping journal of session {session_id} in {self.tables.where}: {error}")
                continue
            yield Stored(session_id, record, events)

    def _warn(self, error: BaseException) -> None:
        if not self._warned:
            self._warned = True
            report(f"cannot write the session journal in {self.tables.where}: {error} (sessions go on in memory)")

    def _guard(self, write: Callable[[], None]) -> None:
        try:
            write()
        except Exception as error:  # a journal never takes the server down (rpc.journal)
            self._warn(error)
