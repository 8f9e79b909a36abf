"""Maintenance of the Postgres store, defined by reachability from the refs as the file store's is: fsck (`check`),
gc (`collect_garbage`), `reindex`, and bundles (`export_bundle`, `import_bundle`) in the file store's bundle format.

Bundles: the members and their order, the manifest, the zeroed tar and gzip timestamps are bundle.py's, so a session
exported from either backend gives the same bytes, and either backend imports the other's bundle. Import reads the
archive in memory, verifies every object against its name and the head's closure (every link decodes as its kind),
then in ONE transaction on the connection holding the session's lock: adds the objects, and creates the ref,
fast-forwards it, or keeps a local session that is ahead; a diverged local history is refused (BundleError).

gc deletes objects no ref reaches whose `created` is older than the grace period; a put that dedups freshens
`created` in the same row, and DELETE re-checks the age on the row it deletes, so a concurrent commit reusing an old
object keeps it. fsck never modifies the store.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tau.sessions import checkpoints
from tau.sessions.bundle import FORMAT, VERSION, ImportResult
from tau.sessions.errors import BundleError, CorruptObjectError
from tau.sessions.index import SessionInfo, model_of, session_info, title_of
from tau.sessions.maintenance import Problem
from tau.sessions.objects import OBJECT_ID, digest, write_durably
from tau.sessions.postgres import tables
from tau.sessions.refs import SESSION_ID
from tau.sessions.snapshot import LinkKind, decode_config, decode_messages, decode_pending, decode_snapshot

if TYPE_CHECKING:
    from tau.sessions.postgres.store import PostgresSessionStore

__all__ = ["check", "collect_garbage", "export_bundle", "import_bundle", "reindex", "walk"]

_OBJECT_MEMBER = re.compile(r"objects/([0-9a-f]{2})/([0-9a-f]{62})")
_REF_MEMBER = re.compile(r"refs/sessions/(.+)")
_MAX_MEMBER = 1 << 30


@dataclass
class Walk:
    reachable: dict[str, LinkKind]
    problems: list[Problem]


def _links(kind: LinkKind, data: bytes, path: Path) -> list[tuple[LinkKind, str]]:
    """What an object of `kind` names (decoding it, so verifying its kind)."""
    if kind == "snapshot":
        return decode_snapshot(data, path).links()
    if kind in ("workspace", "tree"):
        return list(checkpoints.links_of(kind, data, path))
    if kind == "messages":
        decode_messages(data, path)
    elif kind == "config":
        decode_config(data, path)
    elif kind == "pending":
        decode_pending(data, path)
    return []


def walk(get: Callable[[str], bytes], heads: Iterable[tuple[str, str]]) -> Walk:
    """Every object reachable from `heads` (referrer, snapshot id), each read, verified and decoded as its kind."""
    result = Walk({}, [])
    stack: list[tuple[LinkKind, str, str]] = [("snapshot", head, referrer) for referrer, head in heads]
    while stack:
        kind, object_id, referrer = stack.pop()
        if object_id in result.reachable:
            continue
        result.reachable[object_id] = kind
        path = tables.object_path(object_id)
        try:
            stack.extend((link_kind, link, str(path)) for link_kind, link in _links(kind, get(object_id), path))
        except CorruptObjectError as error:
            result.problems.append(
                Problem(error.path, f"{error.problem} ({kind} object named by {referrer})", object_id)
            )
    return result


def _getter(store: PostgresSessionStore) -> Callable[[str], bytes]:
    return store.objects.get


def _heads(store: PostgresSessionStore) -> list[tuple[str, str]]:
    with store.mutex:
        heads = tables.ref_heads(store.conn())
    return [(f"tau_sessions/{session_id}", head) for session_id, head in heads.items()]


def check(store: PostgresSessionStore) -> list[Problem]:
    """fsck: every object's hash, then every ref's closure; problems sorted by path, empty when sound."""
    problems: dict[Path, Problem] = {}
    with store.mutex, store.conn().cursor(name="tau_fsck") as cursor, store.conn().transaction():
        cursor.execute("SELECT id, data FROM tau_objects ORDER BY id")
        for object_id, data in cursor:
            path = tables.object_path(str(object_id))
            if not OBJECT_ID.fullmatch(str(object_id)):
                problems[path] = Problem(path, "row not named by a sha256", str(object_id))
            elif digest(bytes(data)) != object_id:
                problems[path] = Problem(path, f"hash mismatch ({len(data)} bytes stored)", str(object_id))
    for problem in walk(_getter(store), _heads(store)).problems:
        problems.setdefault(problem.path, problem)
    return sorted(problems.values(), key=lambda p: str(p.path))


def collect_garbage(store: PostgresSessionStore, grace_seconds: float) -> list[str]:
    """gc: delete unreachable objects older than `grace_seconds`; their ids (sorted). Refuses a damaged store."""
    result = walk(_getter(store), _heads(store))
    if result.problems:
        first = result.problems[0]
        raise CorruptObjectError(first.path, f"{first.problem}; gc refuses to run on a damaged store")
    with store.mutex:
        rows = (
            store.conn()
            .execute(
                "DELETE FROM tau_objects WHERE NOT (id = ANY(%s)) AND created <= now() - make_interval(secs => %s)"
                " RETURNING id",
                (list(result.reachable), grace_seconds),
            )
            .fetchall()
        )
    return sorted(str(row[0]) for row in rows)


def reindex(store: PostgresSessionStore) -> list[SessionInfo]:
    """Recompute every session row's derived columns from the objects (damaged sessions are left as they are)."""
    infos: list[tuple[SessionInfo, str]] = []
    with store.mutex:
        session_ids = list(tables.ref_heads(store.conn()))
    for session_id in session_ids:
        try:
            info = store.describe(session_id)
        except CorruptObjectError:
            continue
        infos.append((info, store.snapshot(info.head).status))
    with store.mutex, store.conn().transaction():
        tables.upsert_rows(store.conn(), infos)
    return [info for info, _ in infos]


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0
    archive.addfile(info, io.BytesIO(data))


def export_bundle(store: PostgresSessionStore, session_id: str, path: Path) -> Path:
    head = store.head(session_id)
    result = walk(_getter(store), [(f"tau_sessions/{session_id}", head)])
    if result.problems:
        first = result.problems[0]
        raise CorruptObjectError(first.path, first.problem)
    object_ids = sorted(result.reachable)
    with store.mutex:
        blobs = tables.get_many(store.conn(), object_ids)
    manifest = {"format": FORMAT, "version": VERSION, "session": session_id, "head": head, "objects": object_ids}
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        _add(archive, "manifest.json", json.dumps(manifest, indent=1).encode())
        _add(archive, f"refs/sessions/{session_id}", f"{head}\n".encode())
        for object_id in object_ids:
            _add(archive, f"objects/{object_id[:2]}/{object_id[2:]}", blobs[object_id])
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_durably(path, buffer.getvalue(), path.parent)
    return path


@dataclass
class _Contents:
    objects: dict[str, bytes]
    manifest: object = None
    ref: tuple[str, str] | None = None


def _read(path: Path) -> _Contents:
    contents = _Contents({})
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for member in archive:
                if not member.isfile() or member.size > _MAX_MEMBER:
                    raise BundleError(path, f"unexpected bundle member {member.name!r}")
                handle = archive.extractfile(member)
                _take(path, member.name, handle.read() if handle is not None else b"", contents)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise BundleError(path, f"not a readable tau bundle: {error}") from error
    return contents


def _take(path: Path, name: str, data: bytes, contents: _Contents) -> None:
    object_match, ref_match = _OBJECT_MEMBER.fullmatch(name), _REF_MEMBER.fullmatch(name)
    if object_match:
        object_id = object_match.group(1) + object_match.group(2)
        if digest(data) != object_id:
            raise BundleError(path, f"object {name} does not match its hash")
        contents.objects[object_id] = data
    elif ref_match and SESSION_ID.fullmatch(ref_match.group(1)):
        contents.ref = (ref_match.group(1), data.decode("ascii", "replace").strip())
    elif name == "manifest.json":
        try:
            contents.manifest = json.loads(data)
        except ValueError:
            raise BundleError(path, "manifest.json is not JSON") from None
    else:
        raise BundleError(path, f"unexpected bundle member {name!r}")


def _checked(path: Path, contents: _Contents) -> tuple[str, str]:
    manifest = contents.manifest
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise BundleError(path, f"missing or unsupported manifest (want {FORMAT} version {VERSION})")
    session_id, head, objects = manifest.get("session"), manifest.get("head"), manifest.get("objects")
    if not isinstance(session_id, str) or not isinstance(head, str) or not OBJECT_ID.fullmatch(head):
        raise BundleError(path, "manifest lacks a session id and head snapshot")
    if contents.ref != (session_id, head):
        raise BundleError(path, "the bundle's ref does not match its manifest")
    if not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
        raise BundleError(path, "manifest lacks its object list")
    return session_id, head


def _ancestors(get: Callable[[str], bytes], snapshot_id: str) -> set[str]:
    seen: set[str] = set()
    stack = [snapshot_id]
    while stack:
        cursor = stack.pop()
        if cursor not in seen:
            seen.add(cursor)
            stack.extend(decode_snapshot(get(cursor), tables.object_path(cursor)).parents)
    return seen


def import_bundle(store: PostgresSessionStore, path: Path) -> ImportResult:
    contents = _read(path)
    session_id, head = _checked(path, contents)
    local_objects = _getter(store)

    def get(object_id: str) -> bytes:
        found = contents.objects.get(object_id)
        return found if found is not None else local_objects(object_id)

    problems = walk(get, [(str(path), head)]).problems
    if problems:
        raise BundleError(path, f"bundle is incomplete or damaged: {problems[0]}")
    with store.mutex:
        present = tables.existing(store.conn(), list(contents.objects))
    lock = store.lock_session(session_id)
    try:
        conn = lock.conn
        with conn.transaction():
            tables.put_objects(conn, [data for object_id, data in contents.objects.items() if object_id not in present])
            local = tables.read_ref(conn, session_id)
            outcome = _outcome(path, session_id, local, head, get)
            if outcome == "created":
                tables.insert_ref(conn, _row_of(session_id, head, get), _status(get, head))
            elif outcome == "fast-forward":
                assert local is not None
                tables.move_ref(conn, _row_of(session_id, head, get), _status(get, head), local)
    finally:
        lock.release()
    added = len(contents.objects) - len(present)
    return ImportResult(session_id, head, added, len(present), outcome)


_Outcome = Literal["created", "fast-forward", "unchanged", "kept-local"]


def _outcome(path: Path, session_id: str, local: str | None, head: str, get: Callable[[str], bytes]) -> _Outcome:
    if local is None:
        return "created"
    if local == head:
        return "unchanged"
    if local in _ancestors(get, head):
        return "fast-forward"
    if head in _ancestors(get, local):
        return "kept-local"
    raise BundleError(path, f"session {session_id} exists here with a different history; rm it first")


def _status(get: Callable[[str], bytes], snapshot_id: str) -> str:
    return decode_snapshot(get(snapshot_id), tables.object_path(snapshot_id)).status


def _row_of(session_id: str, head_id: str, get: Callable[[str], bytes]) -> SessionInfo:
    head = decode_snapshot(get(head_id), tables.object_path(head_id))
    root_id = head.root or head_id
    root = decode_snapshot(get(root_id), tables.object_path(root_id))
    title = title_of(decode_config(get(root.config), tables.object_path(root.config)))
    model = model_of(decode_config(get(head.config), tables.object_path(head.config)))
    return session_info(session_id, head_id, head, root, title=title, model=model, writer_gone=True)
