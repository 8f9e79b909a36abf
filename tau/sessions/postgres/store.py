"""`PostgresSessionStore`: the `SessionStore` port and the file store's session operations, kept in Postgres.

The same objects as `FileSessionStore` (tau.sessions.snapshot codecs: snapshot, messages, config, pending, and the
workspace checkpoint objects), with the same ids, in `tau_objects`; the ref and index row of a session in one
`tau_sessions` row (schema.py). So `tau sessions export` from either backend and `import` into the other moves a
session unchanged (bundles: maintenance.py).

Commit = one transaction on the connection that holds the session's advisory lock (locks.py): the step's objects,
then the ref moved by compare-and-set from the head this store last wrote, with the index row. A crash (of tau or
its connection) loses at most the step in flight; another process sees the old head or the new one. Reads go through
one shared connection (guarded by a mutex; blocking calls run in a worker thread, as the file store's do).

Status: a row keeps its head's status; `created`/`running` heads read `running` while a connection holds the
session's lock and `interrupted` when none does, computed at query time (nothing to settle afterwards).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic_ai.messages import ModelMessage
from pydantic_ai.tools import DeferredToolRequests

from tau.errors import ConfigError
from tau.sessions import bundle as file_bundle
from tau.sessions.errors import CorruptObjectError, SessionNotFoundError
from tau.sessions.index import UNFINISHED, SessionFilter, SessionInfo, model_of, session_info, title_of
from tau.sessions.maintenance import Interrupted, Problem
from tau.sessions.objects import digest
from tau.sessions.port import Resumed, StepRecord
from tau.sessions.postgres import events, maintenance, naming, tables
from tau.sessions.postgres.archive import PgArchive
from tau.sessions.postgres.journal import PgJournalTables
from tau.sessions.postgres.listing import list_rows, unsettled_rows
from tau.sessions.postgres.locks import PgSessionLock, is_held
from tau.sessions.postgres.objects import PgLocation, PgObjects, PgRefs
from tau.sessions.postgres.schema import SCHEMA, connect, shown, write_errors
from tau.sessions.refs import check_session_id
from tau.sessions.snapshot import (
    Snapshot,
    add_totals,
    decode_config,
    decode_messages,
    decode_pending,
    decode_snapshot,
    encode_config,
    encode_messages,
    encode_pending,
    encode_snapshot,
    join_message_arrays,
    numeric_usage,
)
from tau.sessions.views import Resolved, SnapshotSummary, Transcript

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresSessionStore"]

_SNAPSHOT_CACHE_MAX = 50_000


@dataclass
class _Open:
    lock: PgSessionLock
    head_id: str
    head: Snapshot
    root_id: str
    root: Snapshot
    config_id: str
    title: str
    model: str | None
    base: tuple[str, Snapshot] | None = None  # the head is provisional: the next commit's parent (StepRecord)


class PostgresSessionStore:
    """The snapshot store in one Postgres database (`url`: `postgres://…`). Shared by every process and machine
    that opens the same URL; one writer per session."""

    def __init__(self, url: str, *, state_dir: Path | None = None) -> None:
        self.url = url
        self._state_dir = state_dir
        self.shown_url = shown(url)
        self.mutex = threading.RLock()
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._open: dict[str, _Open] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self.objects = PgObjects(self)
        self.refs = PgRefs(self)
        self.root = PgLocation(self)

    def __repr__(self) -> str:
        return f"PostgresSessionStore({self.shown_url!r})"

    # -- connection ----------------------------------------------------------------------------------------------

    def conn(self) -> psycopg.Connection[tuple[Any, ...]]:
        """The shared connection (made, and the schema created, on first use). Hold `mutex` while using it."""
        with self.mutex:
            if self._conn is None or self._conn.closed:
                conn = connect(self.url)
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(7246543)")  # one schema creator at a time
                    conn.execute(SCHEMA)
                self._conn = conn
            return self._conn

    def query(self, func: Any, *args: Any) -> Any:
        """`func(shared connection, *args)` under the mutex."""
        with self.mutex:
            return func(self.conn(), *args)

    # -- the port ------------------------------------------------------------------------------------------------

    async def begin(self, session_id: str, config: Mapping[str, Any]) -> str:
        return (await asyncio.to_thread(self._begin_sync, session_id, config)).head_id

    async def resume(self, session_id: str, config: Mapping[str, Any] | None = None) -> Resumed:
        opened = await asyncio.to_thread(self._resume_sync, session_id, config)
        try:
            messages = await asyncio.to_thread(self.messages_at, opened.head_id)
            pending = await asyncio.to_thread(self.pending_of, opened.head)
        except BaseException:
            await self.close(session_id)
            raise
        return Resumed(session_id, opened.head_id, opened.head.status, messages, pending)

    async def reopen(self, session_id: str, config: Mapping[str, Any] | None = None) -> str:
        """Open an existing session for writing without loading its history; its head."""
        return (await asyncio.to_thread(self._resume_sync, session_id, config)).head_id

    async def commit(self, session_id: str, record: StepRecord) -> str:
        return await asyncio.to_thread(self._commit_sync, session_id, record)

    async def history(self, session_id: str) -> list[ModelMessage]:
        opened = self._open.get(session_id)
        head = opened.head_id if opened is not None else await asyncio.to_thread(self.head, session_id)
        return await asyncio.to_thread(self.messages_at, head)

    async def close(self, session_id: str) -> None:
        opened = self._open.pop(session_id, None)
        if opened is not None:
            opened.lock.release()

    async def aclose(self) -> None:
        """Close every session this store has open, and its shared connection."""
        for session_id in list(self._open):
            await self.close(session_id)
        with self.mutex:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def __aenter__(self) -> PostgresSessionStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- capabilities (`SessionStore` port) ------------------------------------------------------------------------

    def archive(self) -> PgArchive:
        return PgArchive(self)

    def checkpoint_objects(self) -> PgObjects:
        """Workspace checkpoints go into `tau_objects` beside the snapshots that pin them."""
        return self.objects

    def journal_tables(self) -> PgJournalTables:
        """Where `tau serve` keeps its journal in this database (tau.rpc.pg_journal)."""
        return PgJournalTables(self)

    def state_dir(self) -> Path | None:
        """The local directory given for files kept beside sessions (hook transcripts, steering inboxes, the serve
        journal), or None: they are machine-local, unlike the sessions."""
        return self._state_dir

    # -- reading (blocking: run in a worker thread) --------------------------------------------------------------

    def head(self, session_id: str) -> str:
        head = self.query(tables.read_ref, session_id)
        if head is None:
            raise SessionNotFoundError(f"no session {session_id!r} in {self.shown_url}")
        return str(head)

    def session_exists(self, session_id: str) -> bool:
        return self.query(tables.read_ref, session_id) is not None

    def snapshot(self, snapshot_id: str) -> Snapshot:
        cached = self._snapshots.get(snapshot_id)
        if cached is not None:
            return cached
        snap = decode_snapshot(self.objects.get(snapshot_id), tables.object_path(snapshot_id))
        self._remember(snapshot_id, snap)
        return snap

    def _remember(self, snapshot_id: str, snap: Snapshot) -> None:
        if len(self._snapshots) >= _SNAPSHOT_CACHE_MAX:
            self._snapshots.clear()
        self._snapshots[snapshot_id] = snap

    def config(self, config_id: str) -> dict[str, Any]:
        return decode_config(self.objects.get(config_id), tables.object_path(config_id))

    def chain(self, snapshot_id: str) -> list[tuple[str, Snapshot]]:
        """The first-parent chain ending at `snapshot_id`, oldest first (crossing fork points)."""
        ids = self.query(tables.snapshot_chain_ids, snapshot_id)
        missing = [snapshot_id for snapshot_id in ids if snapshot_id not in self._snapshots]
        for found, data in self.query(tables.get_many, missing).items():
            self._remember(found, decode_snapshot(data, tables.object_path(found)))
        return [(snapshot_id, self.snapshot(snapshot_id)) for snapshot_id in ids]

    def messages_at(self, snapshot_id: str) -> list[ModelMessage]:
        """Every message of the history at `snapshot_id`, in order (two queries whatever the length)."""
        links = [snap.messages for _, snap in self.chain(snapshot_id) if snap.messages]
        chunks = self.query(tables.get_many, links)
        joined = join_message_arrays([chunks[link] for link in links])
        try:
            return decode_messages(joined, tables.object_path(snapshot_id))
        except CorruptObjectError:
            for link in links:  # name the object that does not decode
                decode_messages(chunks[link], tables.object_path(link))
            raise

    def pending_of(self, snap: Snapshot) -> DeferredToolRequests | None:
        if snap.pending is None:
            return None
        return decode_pending(self.objects.get(snap.pending), tables.object_path(snap.pending))

    async def pending(self, session_id: str) -> DeferredToolRequests | None:
        """The deferred tool calls the session's head waits on (a suspended run), if any."""
        return await asyncio.to_thread(lambda: self.pending_of(self.snapshot(self.head(session_id))))

    async def log(self, session_id: str) -> list[SnapshotSummary]:
        chain = await asyncio.to_thread(lambda: self.chain(self.head(session_id)))
        return [SnapshotSummary.of(snapshot_id, snap) for snapshot_id, snap in chain]

    async def show(self, name: str) -> Transcript:
        return await asyncio.to_thread(self._show_sync, name)

    def _show_sync(self, name: str) -> Transcript:
        resolved = self.resolve(name)
        snap = self.snapshot(resolved.snapshot_id)
        return Transcript(
            resolved=resolved,
            snapshot=SnapshotSummary.of(resolved.snapshot_id, snap),
            messages=self.messages_at(resolved.snapshot_id),
            pending=self.pending_of(snap),
            config=self.config(snap.config),
        )

    def snapshot_ids_with_prefix(self, prefix: str) -> list[str]:
        return naming.snapshot_ids_with_prefix(self, prefix)

    def resolve(self, name: str) -> Resolved:
        """A session id, a unique session-id prefix, or a unique snapshot-id prefix (≥ 4 hex digits), like git."""
        return naming.resolve(self, name)

    def snapshot_in(self, session_id: str, name: str) -> str:
        """The snapshot of `session_id`'s first-parent chain that `name` (an id or a unique prefix) names."""
        return naming.snapshot_in(self, session_id, name)

    def describe(self, session_id: str) -> SessionInfo:
        """The index row of `session_id`, computed from its ref and objects."""
        head_id = self.head(session_id)
        head = self.snapshot(head_id)
        root_id = head.root or head_id
        root = self.snapshot(root_id)
        title, model = title_of(self.config(root.config)), model_of(self.config(head.config))
        gone = head.status in UNFINISHED and not self.query(is_held, session_id)
        return session_info(session_id, head_id, head, root, title=title, model=model, writer_gone=gone)

    # -- writing (blocking) --------------------------------------------------------------------------------------

    def _now(self) -> str:
        return datetime.now(UTC).isoformat(timespec="microseconds")

    def lock_session(self, session_id: str) -> PgSessionLock:
        """`session_id`'s write lock, acquired now (SessionLockedError when another connection holds it)."""
        if session_id in self._open:
            raise ConfigError(f"session {session_id!r} is open for writing in this process", field="session")
        self.conn()  # the schema exists before any writer uses it
        return PgSessionLock.acquire(self.url, check_session_id(session_id))

    def _info(self, session_id: str, opened: _Open) -> SessionInfo:
        return session_info(
            session_id, opened.head_id, opened.head, opened.root, title=opened.title, model=opened.model
        )

    def _create(self, lock: PgSessionLock, session_id: str, root: Snapshot, blobs: list[bytes]) -> _Open:
        """Write `root` (and `blobs`) as the new session `session_id`'s head, on the lock's connection."""
        data = encode_snapshot(root)
        with write_errors(self.shown_url), lock.conn.transaction():
            root_id = tables.put_objects(lock.conn, [*blobs, data])[-1]
            config = decode_config(tables.get_object(lock.conn, root.config), tables.object_path(root.config))
            opened = _Open(lock, root_id, root, root_id, root, root.config, title_of(config), model_of(config))
            if not tables.insert_ref(lock.conn, self._info(session_id, opened), root.status):
                raise ConfigError(f"session {session_id!r} already exists", field="--session-id")
        self._remember(root_id, root)
        return opened

    def _begin_sync(self, session_id: str, config: Mapping[str, Any]) -> _Open:
        if session_id in self._open:
            raise ConfigError(f"session {session_id!r} already exists", field="--session-id")
        lock = self.lock_session(session_id)
        try:
            encoded = encode_config(config)
            config_id = digest(encoded)
            root = Snapshot(session=session_id, step=0, config=config_id, status="created", created=self._now())
            opened = self._create(lock, session_id, root, [encoded])
        except BaseException:
            lock.release()
            raise
        self._open[session_id] = opened
        return opened

    def _resume_sync(self, session_id: str, config: Mapping[str, Any] | None) -> _Open:
        if session_id in self._open:
            raise ConfigError(f"session {session_id!r} is already open in this process", field="session")
        lock = self.lock_session(session_id)
        try:
            head_id = self.head(session_id)
            head = self.snapshot(head_id)
            root_id = head.root or head_id
            root = self.snapshot(root_id)
            config_id = head.config
            if config is not None:
                config_id = tables.put_objects(lock.conn, [encode_config(config)])[0]
            model = model_of(config if config is not None else self.config(head.config))
            title = title_of(self.config(root.config))
            opened = _Open(lock, head_id, head, root_id, root, config_id, title, model)
        except BaseException:
            lock.release()
            raise
        self._open[session_id] = opened
        return opened

    def _commit_sync(self, session_id: str, record: StepRecord) -> str:
        opened = self._open.get(session_id)
        if opened is None or not opened.lock.held:
            raise ConfigError(f"session {session_id!r} is not open for writing", field="session")
        messages = list(record.messages)
        usage = numeric_usage(record.usage)
        parent_id, parent = opened.base or (opened.head_id, opened.head)
        blobs = [encode_messages(messages)] if messages else []
        pending = encode_pending(record.pending) if record.pending is not None else None
        snap = Snapshot(
            session=session_id,
            step=parent.step + 1,
            root=opened.root_id,
            parents=(parent_id,),
            messages=digest(blobs[0]) if blobs else None,
            message_count=len(messages),
            config=opened.config_id,
            status=record.status,
            created=self._now(),
            usage=usage,
            totals=add_totals(parent.totals, usage, messages),
            workspace=record.workspace,
            pending=digest(pending) if pending is not None else None,
        )
        data = encode_snapshot(snap)
        snap_id = digest(data)
        info = session_info(session_id, snap_id, snap, opened.root, title=opened.title, model=opened.model)
        conn = opened.lock.conn
        with write_errors(self.shown_url), conn.transaction():
            tables.put_objects(conn, [*blobs, *([pending] if pending else []), data])
            if not tables.move_ref(conn, info, snap.status, opened.head_id):
                raise ConfigError(f"session {session_id!r} moved or was removed behind this writer", field="session")
        opened.head_id, opened.head = snap_id, snap  # only once the transaction committed
        opened.base = (parent_id, parent) if record.provisional else None
        self._remember(snap_id, snap)
        return snap_id

    # -- sessions as a whole -------------------------------------------------------------------------------------

    async def fork(self, snapshot: str, new_session_id: str, config: Mapping[str, Any] | None = None) -> str:
        """A new session whose first parent is `snapshot` (an id, prefix, or session = its head); returns its root.
        The new session carries the snapshot's pending calls and workspace pin; it is not left open."""
        return await asyncio.to_thread(self._fork_sync, snapshot, new_session_id, config)

    def _fork_sync(self, name: str, new_session_id: str, config: Mapping[str, Any] | None) -> str:
        source_id = self.resolve(name).snapshot_id
        source = self.snapshot(source_id)
        lock = self.lock_session(new_session_id)
        try:
            blobs = [encode_config(config)] if config is not None else []
            root = Snapshot(
                session=new_session_id,
                step=source.step + 1,
                parents=(source_id,),
                config=digest(blobs[0]) if blobs else source.config,
                status="forked",
                created=self._now(),
                workspace=source.workspace,
                pending=source.pending,
            )
            return self._create(lock, new_session_id, root, blobs).head_id
        finally:
            lock.release()

    async def rm(self, session_id: str) -> str:
        """Delete the session's ref (and its events; objects stay until `gc`); returns the head it pointed at."""
        return await asyncio.to_thread(self._rm_sync, session_id)

    def _rm_sync(self, session_id: str) -> str:
        if session_id in self._open:
            raise ConfigError(f"session {session_id!r} is open in this process", field="session")
        lock = self.lock_session(session_id)
        try:
            with lock.conn.transaction():
                head = tables.delete_ref(lock.conn, session_id)
        finally:
            lock.release()
        if head is None:
            raise SessionNotFoundError(f"no session {session_id!r} in {self.shown_url}")
        return head

    async def list_sessions(self, where: SessionFilter | None = None) -> list[SessionInfo]:
        """Sessions, most recently updated first (the index is kept with the refs: never stale)."""
        return await asyncio.to_thread(lambda: self.query(list_rows, where))

    async def settle_interrupted(self) -> list[str]:
        """The ids of sessions whose run is gone without its last snapshot (nothing to rewrite here: statuses are
        computed at query time)."""
        rows = await asyncio.to_thread(lambda: self.query(unsettled_rows))
        return [info.id for info in rows if info.status == "interrupted"]

    def interrupted(self) -> list[Interrupted]:
        """Sessions left unfinished by a run that is gone, sorted by id (`tau sessions fsck` notes)."""
        infos = [info for info in self.query(unsettled_rows) if info.status == "interrupted"]
        found = []
        for info in infos:
            snap = self.snapshot(info.head)
            found.append(Interrupted(info.id, info.head, snap.step, snap.status))
        return found

    async def reindex(self) -> list[SessionInfo]:
        """Recompute every row's derived columns from the objects."""
        return await asyncio.to_thread(maintenance.reindex, self)

    async def gc(self, *, grace_seconds: float = 3600.0) -> list[str]:
        """Remove objects no ref reaches (older than `grace_seconds`)."""
        return await asyncio.to_thread(maintenance.collect_garbage, self, grace_seconds)

    async def fsck(self) -> list[Problem]:
        """Every problem found: objects whose bytes fail their hash, broken refs and links."""
        return await asyncio.to_thread(maintenance.check, self)

    async def export(self, session_id: str, path: Path | str) -> Path:
        """Write the session's bundle (the file store's format, byte for byte)."""
        return await asyncio.to_thread(maintenance.export_bundle, self, session_id, Path(path))

    async def import_bundle(self, path: Path | str) -> file_bundle.ImportResult:
        """Verify and add a bundle's objects, then create or fast-forward its session ref. Idempotent."""
        return await asyncio.to_thread(maintenance.import_bundle, self, Path(path))

    # -- events --------------------------------------------------------------------------------------------------

    async def append_event(self, session_id: str, seq: int, data: bytes) -> None:
        """Record event `seq` of `session_id` (seqs come from the writer's event log; a repeated seq is refused)."""
        await asyncio.to_thread(lambda: self.query(events.append, session_id, seq, data))

    async def events_since(self, session_id: str, after_seq: int = 0) -> list[tuple[int, bytes]]:
        return await asyncio.to_thread(lambda: self.query(events.since, session_id, after_seq))

    def follow(self, session_id: str, after_seq: int = 0) -> AsyncIterator[tuple[int, bytes]]:
        """Every event of `session_id` after `after_seq`, then each new one as it is committed (LISTEN/NOTIFY, no
        polling), in seq order, without gaps; ends when the consumer stops iterating."""
        return events.follow(self.url, session_id, after_seq)
