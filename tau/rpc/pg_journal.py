"""`PgServeJournal`: the serve journal (rpc.journal's contract) kept in the Postgres session store, so a `tau serve`
restarted on any machine that opens the same database brings its sessions back, and the events it appends reach
`tau_events` (LISTEN/NOTIFY: `PostgresSessionStore.follow`).

Same interface and semantics as `ServeJournal` (a subclass, so the registry and the service take either), but
`shared`: several front ends use one database at once (`rpc.ownership` decides which one runs a session). `open`
makes this front end's ownership connection (no lock on the whole journal), `claim`/`release` take and give back
a session's serve lock, `views` reads sessions as they are now (the record and the events after its `last_seq`),
`follow` streams a session's events from `tau_events` (LISTEN/NOTIFY), `save` replaces a session's record,
`append_raw` adds one serialized `RunResponse` under its own seq (parsed from it), `trim` drops what the bounded log
no longer holds, `remove` forgets a session, `load` yields every session with its events in seq order. A write
that fails is reported once on stderr and the session goes on in memory.
`journal_for(store)` picks it for a store that offers journal tables, else the file journal beside the state dir.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from google.protobuf.message import DecodeError

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.journal import RECORD_VERSION, ServeJournal, Stored, report
from tau.rpc.journal import _current as current_event  # the v2 event vocabulary for old journals
from tau.sessions import SessionStore

__all__ = ["PgServeJournal", "journal_for"]


Row = tuple[str, bytes, list[tuple[int, bytes]]]


def _last(rows: list[tuple[int, bytes]]) -> int:
    return rows[-1][0] if rows else 0


class JournalTables(Protocol):
    """What `PgJournalTables` (tau.sessions.postgres.journal) offers."""

    @property
    def where(self) -> str: ...

    def open(self) -> None: ...

    def close(self) -> None: ...

    def claim(self, session_id: str) -> bool: ...

    def release(self, session_id: str) -> None: ...

    def holder(self, session_id: str) -> int | None: ...

    def next_ordinal(self) -> int: ...

    def exists(self, session_id: str) -> bool: ...

    def views(self, session_id: str | None = None) -> list[Row]: ...

    def running(self) -> list[str]: ...

    def bounds(self, session_id: str) -> tuple[int, int]: ...

    def follow(
        self, session_id: str, after_seq: int, idle: Callable[[], bool] | None = None
    ) -> AsyncIterator[tuple[int, bytes]]: ...

    def save(self, session_id: str, record: bytes) -> None: ...

    def append(self, session_id: str, seq: int, raw: bytes) -> None: ...

    def trim(self, session_id: str, first_kept: int) -> None: ...

    def remove(self, session_id: str) -> None: ...

    def load(self, session_id: str | None = None) -> list[Row]: ...


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
    shared = True

    def __init__(self, tables: JournalTables) -> None:
        super().__init__(Path(tables.where))
        self.tables = tables

    def open(self) -> None:
        self.tables.open()

    def close(self) -> None:
        self.tables.close()

    def claim(self, session_id: str) -> bool:
        return self.tables.claim(session_id)

    def release(self, session_id: str) -> None:
        self.tables.release(session_id)

    def holder(self, session_id: str) -> int | None:
        return self.tables.holder(session_id)

    def next_ordinal(self, last: int) -> int:
        return self.tables.next_ordinal()  # a database sequence: unique across front ends

    def exists(self, session_id: str) -> bool:
        return self.tables.exists(session_id)

    def running(self) -> list[str]:
        return self.tables.running()

    def bounds(self, session_id: str) -> tuple[int, int]:
        return self.tables.bounds(session_id)

    def load_one(self, session_id: str) -> Stored | None:
        """The session as `load` reads it (every retained event), or None (no such record, or unreadable)."""
        return next(iter(self._parse(self.tables.load(session_id))), None)

    def views(
        self, session_id: str | None = None, unchanged: Callable[[str, bytes, int], bool] | None = None
    ) -> tuple[list[Stored], set[str]]:
        """Sessions (or the one) with only their events after their record's `last_seq`: enough to show them; those
        for which `unchanged(id, record bytes, last seq after the record)` holds are not parsed. Also every id seen."""
        rows = self.tables.views(session_id)
        changed = [row for row in rows if unchanged is None or not unchanged(row[0], row[1], _last(row[2]))]
        return list(self._parse(changed)), {row[0] for row in rows}

    async def follow(
        self, session_id: str, after_seq: int, idle: Callable[[], bool] | None = None
    ) -> AsyncIterator[pb.RunResponse]:
        """The session's events after `after_seq` as they are committed, by any front end (see `tables.follow`)."""
        async for _, raw in self.tables.follow(session_id, after_seq, idle):
            yield current_event(pb.RunResponse.FromString(raw))

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
        return self._parse(self.tables.load())

    def _parse(self, found: list[Row]) -> Iterator[Stored]:
        for session_id, data, rows in found:
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
