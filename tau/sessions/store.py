"""`FileSessionStore`: the on-disk, immutable, content-addressed snapshot store (the `SessionStore` port and the
library operations behind `tau sessions …`, `tau resume` and `tau fork`).

On-disk layout of a state dir (see location.py for where it is):

    objects/ab/cdef…        write-once objects named by sha256 (objects.py; snapshot/messages/config/pending kinds)
    refs/sessions/<id>      the session's head snapshot id (refs.py); moved by atomic rename under the lock
    locks/<id>.lock         flock held by the one process writing the session (locks.py)
    index.sqlite            derived session index (index.py); `reindex` rebuilds it
    cache/history/<head>    optional packed history per head (history_cache.py); derived, verified, disposable
    tmp/                    temp files of in-flight writes; stale ones are removed by `gc`

Commit order is objects (fsynced) → ref (fsynced rename); the index row follows at begin, fork and close. A crash at any
point leaves the previous head or the new one reachable, never a snapshot with a missing object. Appending a step writes
its messages object, its snapshot object and the ref: O(what the step added). Blocking file I/O runs in a worker thread;
one mutex serializes this store object's writes. The maintenance operations (gc, fsck) live in maintenance.py and
bundles in bundle.py; the methods here delegate to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage
from pydantic_ai.tools import DeferredToolRequests

from tau.errors import ConfigError
from tau.sessions import bundle, maintenance
from tau.sessions.archive import FileArchive
from tau.sessions.checkpoints import StoreObjects, store_objects
from tau.sessions.errors import CorruptObjectError, SessionNotFoundError
from tau.sessions.history_cache import HistoryCache
from tau.sessions.index import (
    INTERRUPTED,
    UNSETTLED,
    SessionFilter,
    SessionIndex,
    SessionInfo,
    filter_infos,
    model_of,
    session_info,
    title_of,
)
from tau.sessions.locks import SessionLock
from tau.sessions.objects import ObjectStore
from tau.sessions.port import Resumed, StepRecord
from tau.sessions.reading import chain_of, messages_at, packed_history, resolve_name, snapshot_in_chain
from tau.sessions.refs import RefStore, check_session_id
from tau.sessions.rows import describe, describe_many, ref_heads
from tau.sessions.snapshot import (
    Snapshot,
    add_totals,
    decode_config,
    decode_pending,
    decode_snapshot,
    encode_config,
    encode_messages,
    encode_pending,
    encode_snapshot,
    numeric_usage,
)
from tau.sessions.views import Resolved, SnapshotSummary, Transcript
from tau.telemetry import tracer

_SNAPSHOT_CACHE_MAX = 50_000


@dataclass
class _OpenSession:
    lock: SessionLock
    head_id: str
    head: Snapshot
    root_id: str
    root: Snapshot
    config_id: str
    title: str
    model: str | None
    base: tuple[str, Snapshot] | None = None  # the head is provisional: the next commit's parent (StepRecord)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FileSessionStore:
    """The snapshot store in one state directory. Safe to share between processes; one writer per session."""

    def __init__(
        self,
        root: Path | str,
        *,
        compress: bool = False,
        durable: bool = True,
        history_cache: bool = True,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.root = Path(root)
        self.objects = ObjectStore(self.root, compress=compress, durable=durable)
        self.refs = RefStore(self.root, durable=durable)
        self.locks_dir = self.root / "locks"
        self.index = SessionIndex(self.root / "index.sqlite")
        self.history_cache = HistoryCache(self.root, self.objects) if history_cache else None
        self._clock = clock
        self._open: dict[str, _OpenSession] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self.mutex = threading.RLock()
        self._dirs_ready = False

    # -- the port ------------------------------------------------------------------------------------------

    async def begin(self, session_id: str, config: Mapping[str, Any]) -> str:
        opened = await asyncio.to_thread(self._begin_sync, session_id, config)
        await self._index_upsert(self._info_of(session_id, opened))
        return opened.head_id

    async def resume(self, session_id: str, config: Mapping[str, Any] | None = None) -> Resumed:
        opened = await asyncio.to_thread(self._resume_sync, session_id, config)
        try:
            messages = await asyncio.to_thread(self._messages_at, opened.head_id)
            pending = await asyncio.to_thread(self.pending_of, opened.head)
        except BaseException:
            await self.close(session_id)
            raise
        return Resumed(session_id, opened.head_id, opened.head.status, messages, pending)

    async def reopen(self, session_id: str, config: Mapping[str, Any] | None = None) -> str:
        """Open an existing session for writing without loading its history (`resume` minus the load); its head."""
        return (await asyncio.to_thread(self._resume_sync, session_id, config)).head_id

    async def commit(self, session_id: str, record: StepRecord) -> str:
        # no index upsert per step (a sqlite connection each: 2.4 ms of a step); `close` writes the row, and
        # `list_sessions` refreshes the row of a session whose head moved meanwhile
        with tracer().span("tau.snapshot.commit", {"tau.session.id": session_id, "tau.snapshot.step": record.step}):
            return (await asyncio.to_thread(self._commit_sync, session_id, record)).head_id

    async def history(self, session_id: str) -> list[ModelMessage]:
        return await asyncio.to_thread(self._history_sync, session_id)

    async def close(self, session_id: str) -> None:
        with self.mutex:
            opened = self._open.pop(session_id, None)
        if opened is not None:
            try:
                await self._index_upsert(self._info_of(session_id, opened))
            finally:
                opened.lock.release()
            if self.history_cache is not None:
                await asyncio.to_thread(self._pack_quietly, opened.head_id)

    async def aclose(self) -> None:
        """Close every session this store has open."""
        for session_id in list(self._open):
            await self.close(session_id)

    async def __aenter__(self) -> FileSessionStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- reading -------------------------------------------------------------------------------------------

    def head(self, session_id: str) -> str:
        head = self.refs.read(session_id)
        if head is None:
            raise SessionNotFoundError(f"no session {session_id!r} in {self.root}")
        return head

    def snapshot(self, snapshot_id: str) -> Snapshot:
        cached = self._snapshots.get(snapshot_id)
        if cached is not None:
            return cached
        snap = decode_snapshot(self.objects.get(snapshot_id), self.objects.path(snapshot_id))
        if len(self._snapshots) >= _SNAPSHOT_CACHE_MAX:
            self._snapshots.clear()
        self._snapshots[snapshot_id] = snap
        return snap

    def config(self, config_id: str) -> dict[str, Any]:
        return decode_config(self.objects.get(config_id), self.objects.path(config_id))

    def chain(self, snapshot_id: str) -> list[tuple[str, Snapshot]]:
        """The first-parent chain ending at `snapshot_id`, oldest first (crossing fork points)."""
        return chain_of(self, snapshot_id)

    async def pending(self, session_id: str) -> DeferredToolRequests | None:
        """The deferred tool calls the session's head waits on (a suspended run), if any."""
        return await asyncio.to_thread(lambda: self.pending_of(self.snapshot(self.head(session_id))))

    async def log(self, session_id: str) -> list[SnapshotSummary]:
        """The snapshots in the session's history, oldest first (forked sessions include their ancestry)."""
        chain = await asyncio.to_thread(lambda: self.chain(self.head(session_id)))
        return [SnapshotSummary.of(snapshot_id, snap) for snapshot_id, snap in chain]

    async def show(self, name: str) -> Transcript:
        """The transcript at a session's head or at a snapshot (`name` is an id or a unique prefix)."""
        return await asyncio.to_thread(self._show_sync, name)

    def resolve(self, name: str) -> Resolved:
        """A session id, a unique session-id prefix, or a unique snapshot-id prefix (≥ 4 hex digits), like git."""
        return resolve_name(self, name, where=str(self.root))

    def snapshot_in(self, session_id: str, name: str) -> str:
        """The snapshot of `session_id`'s first-parent chain that `name` (an id or a unique prefix, as `resolve`
        takes it) names; SessionNotFoundError when none or several do."""
        return snapshot_in_chain(self, session_id, name)

    # -- capabilities (`SessionStore` port): this store has all three --------------------------------------

    def archive(self) -> FileArchive:
        return FileArchive(self)

    def checkpoint_objects(self) -> StoreObjects:
        return store_objects(self)

    def state_dir(self) -> Path:
        return self.root

    # -- sessions as a whole -------------------------------------------------------------------------------

    async def fork(self, snapshot: str, new_session_id: str, config: Mapping[str, Any] | None = None) -> str:
        """A new session whose first parent is `snapshot` (an id, prefix, or session = its head); returns its root.

        The new session carries the snapshot's pending calls and workspace pin; it is not left open (call `resume`).
        """
        opened = await asyncio.to_thread(self._fork_sync, snapshot, new_session_id, config)
        await self._index_upsert(self._info_of(new_session_id, opened))
        await self.close(new_session_id)
        return opened.head_id

    async def rm(self, session_id: str) -> str:
        """Delete the session's ref (objects stay until `gc`); returns the head it pointed at."""
        head = await asyncio.to_thread(self._rm_sync, session_id)
        with contextlib.suppress(sqlite3.Error, OSError):  # the index is derived; ls drops rows without refs
            await self.index.delete([session_id])
        return head

    async def list_sessions(self, where: SessionFilter | None = None) -> list[SessionInfo]:
        """Sessions from the index, after refreshing rows whose head moved behind the index's back (crashes).

        A damaged index database is deleted and rebuilt from the store; when it cannot be written at all (a full
        disk, a read-only state dir) the rows are computed from refs and objects and filtered in memory."""
        try:
            return await self._list_sessions(where)
        except (sqlite3.Error, OSError):
            with contextlib.suppress(OSError):
                self.index.reset()
        try:
            await self.reindex()
            return await self.index.query(where)
        except (sqlite3.Error, OSError):
            infos = await asyncio.to_thread(lambda: describe_many(self, list(self.refs.sessions())))
            return filter_infos(infos, where)

    async def _list_sessions(self, where: SessionFilter | None) -> list[SessionInfo]:
        heads = await asyncio.to_thread(ref_heads, self)
        indexed = await self.index.states()
        stale = [
            session_id
            for session_id, head in heads.items()
            if session_id not in indexed or indexed[session_id][0] != head or indexed[session_id][1] in UNSETTLED
        ]
        fresh = await asyncio.to_thread(describe_many, self, stale)
        await self.index.upsert_many(fresh)
        await self.index.delete([session_id for session_id in indexed if session_id not in heads])
        return await self.index.query(where)

    async def settle_interrupted(self) -> list[str]:
        """Recompute the index rows a writer's start or death changes without a commit (`index.UNSETTLED`), so a
        session whose writer is gone reads `interrupted` (see index.py); returns the ids now interrupted. Cheap (the
        unsettled rows only) and quiet: an index that cannot be read or written is left to `list_sessions`."""
        with contextlib.suppress(sqlite3.Error, OSError):
            unsettled = await self.index.unsettled()
            fresh = await asyncio.to_thread(describe_many, self, unsettled)
            await self.index.upsert_many(fresh)
            return [info.id for info in fresh if info.status == INTERRUPTED]
        return []

    async def reindex(self) -> list[SessionInfo]:
        """Rebuild the index from refs and objects alone."""
        infos = await asyncio.to_thread(lambda: describe_many(self, list(self.refs.sessions())))
        await self.index.replace_all(infos)
        return infos

    async def gc(self, *, grace_seconds: float = 3600.0) -> list[str]:
        """Remove objects no ref reaches (older than `grace_seconds`, so in-flight commits are safe)."""
        return await asyncio.to_thread(maintenance.collect_garbage, self, grace_seconds)

    async def fsck(self) -> list[maintenance.Problem]:
        """Every problem found: objects whose bytes fail their hash, broken refs and links."""
        return await asyncio.to_thread(maintenance.check, self)

    def interrupted(self) -> list[maintenance.Interrupted]:
        """Sessions left unfinished by a run that is gone, sorted by id (`tau sessions fsck` notes)."""
        return maintenance.interrupted(self)

    async def export(self, session_id: str, path: Path | str) -> Path:
        """Write a self-contained `.tar.gz` bundle of the session (its ref, every object it reaches, a manifest)."""
        return await asyncio.to_thread(bundle.export_bundle, self, session_id, Path(path))

    async def import_bundle(self, path: Path | str) -> bundle.ImportResult:
        """Verify and add a bundle's objects, then create or fast-forward its session ref. Idempotent."""
        result = await asyncio.to_thread(bundle.import_bundle, self, Path(path))
        infos = await asyncio.to_thread(describe_many, self, [result.session_id])
        await self._index_upsert(*infos)
        return result

    # -- internals (worker thread) -------------------------------------------------------------------------

    def ensure_dirs(self) -> None:
        if not self._dirs_ready:
            self.objects.ensure_dirs()
            self.refs.ensure_dirs()
            self.locks_dir.mkdir(parents=True, exist_ok=True)
            self._dirs_ready = True

    def lock(self, session_id: str) -> tuple[SessionLock, bool]:
        """This store's lock on `session_id` (acquired now unless already held); the flag says "acquired now"."""
        opened = self._open.get(session_id)
        if opened is not None:
            return opened.lock, False
        self.ensure_dirs()
        return SessionLock.acquire(self.locks_dir, check_session_id(session_id)), True

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="microseconds")

    def _begin_sync(self, session_id: str, config: Mapping[str, Any]) -> _OpenSession:
        with self.mutex:
            lock, _ = self.lock(session_id)
            try:
                if self.refs.read(session_id) is not None:
                    raise ConfigError(f"session {session_id!r} already exists", field="--session-id")
                config_id = self.objects.put(encode_config(config))
                root = Snapshot(session=session_id, step=0, config=config_id, status="created", created=self._now())
                root_id = self._write_snapshot(root)
                self.refs.write(session_id, root_id)
            except BaseException:
                lock.release()
                raise
            opened = _OpenSession(lock, root_id, root, root_id, root, config_id, title_of(config), model_of(config))
            self._open[session_id] = opened
            return opened

    def _resume_sync(self, session_id: str, config: Mapping[str, Any] | None) -> _OpenSession:
        with self.mutex:
            if session_id in self._open:
                raise ConfigError(f"session {session_id!r} is already open in this process", field="session")
            lock, _ = self.lock(session_id)
            try:
                head_id = self.head(session_id)
                head = self.snapshot(head_id)
                root_id = head.root or head_id
                root = self.snapshot(root_id)
                config_id = head.config if config is None else self.objects.put(encode_config(config))
                model = model_of(config if config is not None else self.config(head.config))
                opened = _OpenSession(
                    lock, head_id, head, root_id, root, config_id, title_of(self.config(root.config)), model
                )
            except BaseException:
                lock.release()
                raise
            self._open[session_id] = opened
            return opened

    def _commit_sync(self, session_id: str, record: StepRecord) -> _OpenSession:
        with self.mutex:
            opened = self._open.get(session_id)
            if opened is None or not opened.lock.held:
                raise ConfigError(f"session {session_id!r} is not open for writing", field="session")
            messages = list(record.messages)
            usage = numeric_usage(record.usage)
            parent_id, parent = opened.base or (opened.head_id, opened.head)
            snap = Snapshot(
                session=session_id,
                step=parent.step + 1,
                root=opened.root_id,
                parents=(parent_id,),
                messages=self.objects.put(encode_messages(messages)) if messages else None,
                message_count=len(messages),
                config=opened.config_id,
                status=record.status,
                created=self._now(),
                usage=usage,
                totals=add_totals(parent.totals, usage, messages),
                workspace=record.workspace,
                pending=None if record.pending is None else self.objects.put(encode_pending(record.pending)),
            )
            snap_id = self._write_snapshot(snap)
            self.refs.write(session_id, snap_id)
            opened.head_id, opened.head = snap_id, snap
            opened.base = (parent_id, parent) if record.provisional else None
            return opened

    def _fork_sync(self, name: str, new_session_id: str, config: Mapping[str, Any] | None) -> _OpenSession:
        source_id = self.resolve(name).snapshot_id
        source = self.snapshot(source_id)
        with self.mutex:
            lock, _ = self.lock(new_session_id)
            try:
                if self.refs.read(new_session_id) is not None:
                    raise ConfigError(f"session {new_session_id!r} already exists", field="--session-id")
                config_id = source.config if config is None else self.objects.put(encode_config(config))
                root = Snapshot(
                    session=new_session_id,
                    step=source.step + 1,
                    parents=(source_id,),
                    config=config_id,
                    status="forked",
                    created=self._now(),
                    workspace=source.workspace,
                    pending=source.pending,
                )
                root_id = self._write_snapshot(root)
                self.refs.write(new_session_id, root_id)
                source_config = self.config(config_id)
            except BaseException:
                lock.release()
                raise
            title, model = title_of(source_config), model_of(source_config)
            opened = _OpenSession(lock, root_id, root, root_id, root, config_id, title, model)
            self._open[new_session_id] = opened
            return opened

    def _rm_sync(self, session_id: str) -> str:
        with self.mutex:
            if session_id in self._open:
                raise ConfigError(f"session {session_id!r} is open in this process", field="session")
            lock, _ = self.lock(session_id)
            try:
                head = self.head(session_id)
                self.refs.delete(session_id)
            finally:
                lock.release()
            if self.history_cache is not None:
                self.history_cache.drop(head)
            return head

    def _write_snapshot(self, snap: Snapshot) -> str:
        snapshot_id = self.objects.put(encode_snapshot(snap))
        self._snapshots[snapshot_id] = snap
        return snapshot_id

    def _history_sync(self, session_id: str) -> list[ModelMessage]:
        opened = self._open.get(session_id)
        return self._messages_at(opened.head_id if opened is not None else self.head(session_id))

    def _messages_at(self, snapshot_id: str) -> list[ModelMessage]:
        return messages_at(self, snapshot_id)

    def packed_history(self, snapshot_id: str) -> bytes:
        """The whole history at `snapshot_id` as one JSON array (for the history cache)."""
        return packed_history(self, snapshot_id)

    def _pack_quietly(self, head_id: str) -> None:
        if self.history_cache is None:
            return
        with contextlib.suppress(CorruptObjectError, OSError):  # an accelerator; loading reports damage
            self.history_cache.store(head_id, self.packed_history(head_id))

    def pending_of(self, snap: Snapshot) -> DeferredToolRequests | None:
        """The deferred tool calls `snap` waits on, if any."""
        if snap.pending is None:
            return None
        return decode_pending(self.objects.get(snap.pending), self.objects.path(snap.pending))

    def _show_sync(self, name: str) -> Transcript:
        resolved = self.resolve(name)
        snap = self.snapshot(resolved.snapshot_id)
        return Transcript(
            resolved=resolved,
            snapshot=SnapshotSummary.of(resolved.snapshot_id, snap),
            messages=self._messages_at(resolved.snapshot_id),
            pending=self.pending_of(snap),
            config=self.config(snap.config),
        )

    def describe(self, session_id: str) -> SessionInfo:
        """The index row of `session_id`, computed from its ref and objects."""
        return describe(self, session_id)

    def _info_of(self, session_id: str, opened: _OpenSession) -> SessionInfo:
        return session_info(
            session_id, opened.head_id, opened.head, opened.root, title=opened.title, model=opened.model
        )

    async def _index_upsert(self, *infos: SessionInfo) -> None:
        with contextlib.suppress(sqlite3.Error, OSError):  # derived: ls refreshes stale rows, reindex rebuilds
            await self.index.upsert_many(infos)
