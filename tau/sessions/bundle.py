"""Session bundles: one `.tar.gz` holding a session's ref, every object its head reaches, and a manifest.

Members, in this order: `manifest.json` (`{"format": "tau-bundle", "version": 1, "session", "head", "objects"}`),
`refs/sessions/<id>`, then `objects/ab/cdef…` with each object's canonical (uncompressed) bytes, sorted. Tar and gzip
timestamps are zeroed, so exporting the same session twice gives the same bytes.

Import never extracts to disk: it reads members in memory, accepts only those three name shapes (no links, no paths
outside), verifies every object against its name, writes objects before the ref, checks the imported head's closure
is complete, and then creates the ref, fast-forwards it, or leaves a local session that is already ahead. A session
whose local history diverged from the bundle is refused. Importing the same bundle twice changes nothing.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tau.sessions.errors import BundleError, CorruptObjectError, StoreWriteError
from tau.sessions.maintenance import walk
from tau.sessions.objects import OBJECT_ID, write_durably
from tau.sessions.refs import SESSION_ID

if TYPE_CHECKING:
    from tau.sessions.parts import StoreParts

FORMAT = "tau-bundle"
VERSION = 1
_OBJECT_MEMBER = re.compile(r"objects/([0-9a-f]{2})/([0-9a-f]{62})")
_REF_MEMBER = re.compile(r"refs/sessions/(.+)")
_MAX_MEMBER = 1 << 30


@dataclass(frozen=True)
class ImportResult:
    session_id: str
    head: str
    objects_added: int
    objects_present: int
    ref: Literal["created", "fast-forward", "unchanged", "kept-local"]


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0
    archive.addfile(info, io.BytesIO(data))


def export_bundle(store: StoreParts, session_id: str, path: Path) -> Path:
    head = store.head(session_id)
    result = walk(store, [(store.refs.path(session_id), head)], verify=True)
    if result.problems:
        first = result.problems[0]
        raise CorruptObjectError(first.path, first.problem)
    object_ids = sorted(result.reachable)
    manifest = {"format": FORMAT, "version": VERSION, "session": session_id, "head": head, "objects": object_ids}
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        _add(archive, "manifest.json", json.dumps(manifest, indent=1).encode())
        _add(archive, f"refs/sessions/{session_id}", f"{head}\n".encode())
        for object_id in object_ids:
            _add(archive, f"objects/{object_id[:2]}/{object_id[2:]}", store.objects.get(object_id))
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_durably(path, buffer.getvalue(), path.parent)
    return path


@dataclass
class _Contents:
    manifest: dict[str, Any] | None = None
    ref: tuple[str, str] | None = None
    added: int = 0
    present: int = 0


def _read_members(store: StoreParts, path: Path) -> _Contents:
    contents = _Contents()
    store.ensure_dirs()
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for member in archive:
                _read_member(store, path, archive, member, contents)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        if isinstance(error, StoreWriteError):
            raise
        raise BundleError(path, f"not a readable tau bundle: {error}") from error
    return contents


def _read_member(
    store: StoreParts, path: Path, archive: tarfile.TarFile, member: tarfile.TarInfo, contents: _Contents
) -> None:
    if not member.isfile() or member.size > _MAX_MEMBER:
        raise BundleError(path, f"unexpected bundle member {member.name!r}")
    handle = archive.extractfile(member)
    data = handle.read() if handle is not None else b""
    object_match = _OBJECT_MEMBER.fullmatch(member.name)
    ref_match = _REF_MEMBER.fullmatch(member.name)
    if object_match:
        object_id = object_match.group(1) + object_match.group(2)
        if store.objects.exists(object_id):
            contents.present += 1
            return
        try:
            store.objects.put_verified(object_id, data)
        except CorruptObjectError:
            raise BundleError(path, f"object {member.name} does not match its hash") from None
        contents.added += 1
    elif ref_match and SESSION_ID.fullmatch(ref_match.group(1)):
        contents.ref = (ref_match.group(1), data.decode("ascii", "replace").strip())
    elif member.name == "manifest.json":
        try:
            contents.manifest = json.loads(data)
        except ValueError:
            raise BundleError(path, "manifest.json is not JSON") from None
    else:
        raise BundleError(path, f"unexpected bundle member {member.name!r}")


def _check_manifest(path: Path, contents: _Contents) -> tuple[str, str, list[str]]:
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
    return session_id, head, objects


def _ancestors(store: StoreParts, snapshot_id: str) -> set[str]:
    seen: set[str] = set()
    stack = [snapshot_id]
    while stack:
        cursor = stack.pop()
        if cursor not in seen:
            seen.add(cursor)
            stack.extend(store.snapshot(cursor).parents)
    return seen


def import_bundle(store: StoreParts, path: Path) -> ImportResult:
    contents = _read_members(store, path)
    session_id, head, objects = _check_manifest(path, contents)
    missing = [object_id for object_id in objects if not store.objects.exists(object_id)]
    problems = walk(store, [(path, head)], verify=True).problems
    if missing or problems:
        detail = f"object {missing[0]} missing" if missing else str(problems[0])
        raise BundleError(path, f"bundle is incomplete or damaged: {detail}")
    with store.mutex:
        lock, acquired = store.lock(session_id)
        try:
            local = store.refs.read(session_id)
            outcome: Literal["created", "fast-forward", "unchanged", "kept-local"]
            if local is None:
                outcome = "created"
            elif local == head:
                outcome = "unchanged"
            elif local in _ancestors(store, head):
                outcome = "fast-forward"
            elif head in _ancestors(store, local):
                outcome = "kept-local"
            else:
                raise BundleError(path, f"session {session_id} exists here with a different history; rm it first")
            if outcome in ("created", "fast-forward"):
                if not acquired:
                    raise BundleError(path, f"session {session_id} is open for writing in this process")
                store.refs.write(session_id, head)
        finally:
            if acquired:
                lock.release()
    return ImportResult(session_id, head, contents.added, contents.present, outcome)
