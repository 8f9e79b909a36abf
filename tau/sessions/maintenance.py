"""Store maintenance: `check` (fsck) and `collect_garbage` (gc), both defined by reachability from the refs.

fsck reads every object file and verifies its hash (reachable or not), then walks every ref: the ref holds a snapshot
id, every snapshot decodes, and every link names an existing object of the right kind that decodes (messages through
`ModelMessagesTypeAdapter`, pending through pydantic-ai's `DeferredToolRequests` adapter). Each problem names the path
of the damaged file. fsck never modifies the store.

`interrupted` lists sessions whose head is not a final snapshot (`created`, `running`) while no process holds their
lock: a run that ended without its last commit (killed, crashed, or its store could not be written, e.g. a full
disk). That is not damage — every committed step is intact and `tau resume` continues from the head — so fsck reports
them as notes, not problems.

gc deletes only objects that no ref reaches, and only those older than a grace period (objects an in-flight commit
wrote but its ref does not name yet are young; `ObjectStore.put` freshens the mtime of an object it dedups against).
It refuses to run on a damaged store, since a damaged snapshot hides what it references. It also removes stale temp
files and history-cache entries that are no ref's head.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tau.sessions import checkpoints, locks
from tau.sessions.errors import CorruptObjectError
from tau.sessions.index import UNFINISHED
from tau.sessions.snapshot import LinkKind, decode_config, decode_messages, decode_pending, decode_snapshot

if TYPE_CHECKING:
    from tau.sessions.parts import StoreParts


_CONTAINERS = frozenset({"snapshot", "workspace", "tree"})  # kinds whose links gc must follow (read even unverified)


@dataclass(frozen=True)
class Problem:
    """One thing fsck found wrong; `str()` is the line `tau sessions fsck` prints."""

    path: Path
    problem: str
    object_id: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass
class _Walk:
    reachable: set[str]
    problems: list[Problem]


def _verify_kind(kind: LinkKind, data: bytes, path: Path) -> None:
    if kind == "messages":
        decode_messages(data, path)
    elif kind == "config":
        decode_config(data, path)
    elif kind == "pending":
        decode_pending(data, path)


def walk(store: StoreParts, heads: Iterable[tuple[Path, str]], *, verify: bool) -> _Walk:
    """Everything reachable from `heads` (ref path, snapshot id). With `verify`, every object is read and decoded;
    without, only snapshots are read and the other objects are checked for existence."""
    result = _Walk(set(), [])
    stack: list[tuple[LinkKind, str, Path]] = [("snapshot", head, ref) for ref, head in heads]
    while stack:
        kind, object_id, referrer = stack.pop()
        if object_id in result.reachable:
            continue
        result.reachable.add(object_id)
        path = store.objects.path(object_id)
        if kind not in _CONTAINERS and not verify:
            if not path.is_file():
                result.problems.append(Problem(path, f"missing {kind} object named by {referrer}", object_id))
            continue
        try:
            data = store.objects.get(object_id)
            if kind == "snapshot":
                snap = decode_snapshot(data, path)
                stack.extend((link_kind, link, path) for link_kind, link in snap.links())
            elif kind in {"workspace", "tree"}:  # checkpoint -> trees -> blobs (checkpoints.py)
                stack.extend((link_kind, link, path) for link_kind, link in checkpoints.links_of(kind, data, path))
            else:
                _verify_kind(kind, data, path)
        except CorruptObjectError as error:
            result.problems.append(
                Problem(error.path, f"{error.problem} ({kind} object named by {referrer})", object_id)
            )
    return result


def _ref_heads(store: StoreParts) -> tuple[list[tuple[Path, str]], list[Problem]]:
    heads: list[tuple[Path, str]] = []
    problems: list[Problem] = []
    for session_id in store.refs.sessions():
        path = store.refs.path(session_id)
        try:
            head = store.refs.read(session_id)
        except CorruptObjectError as error:
            problems.append(Problem(error.path, error.problem))
            continue
        if head is not None:
            heads.append((path, head))
    return heads, problems


def check(store: StoreParts) -> list[Problem]:
    """fsck: every problem in the store, sorted by path; empty when the store is sound."""
    problems: dict[Path, Problem] = {}
    for object_id in store.objects.ids():
        path = store.objects.path(object_id)
        try:
            store.objects.get(object_id)
        except CorruptObjectError as error:
            problems[path] = Problem(path, error.problem, object_id)
    for stray in store.objects.stray_files():
        problems.setdefault(stray, Problem(stray, "unexpected file in objects/ (not named by a sha256)"))
    heads, ref_problems = _ref_heads(store)
    for problem in ref_problems:
        problems.setdefault(problem.path, problem)
    for problem in walk(store, heads, verify=True).problems:
        problems.setdefault(problem.path, problem)  # a bad hash was already reported by the scan
    return sorted(problems.values(), key=lambda p: str(p.path))


@dataclass(frozen=True)
class Interrupted:
    """A session whose run ended without its last snapshot; `str()` is the note `tau sessions fsck` prints."""

    session_id: str
    snapshot_id: str
    step: int
    status: str

    def __str__(self) -> str:
        return (
            f"session {self.session_id}: interrupted at step {self.step} (head {self.snapshot_id[:12]}, status "
            f"{self.status!r}, no run holds it): the run ended without its last snapshot (killed, crashed, or the "
            f"store could not be written, e.g. a full disk); committed steps are intact — "
            f"`tau resume {self.session_id} -p TEXT` continues it"
        )


def interrupted(store: StoreParts) -> list[Interrupted]:
    """Sessions left unfinished by a run that is gone (see the module docstring), sorted by id."""
    found: list[Interrupted] = []
    heads, _ = _ref_heads(store)
    for ref, head in heads:
        session_id = ref.name
        try:
            snap = store.snapshot(head)
        except CorruptObjectError:
            continue  # `check` reports it
        if snap.status in UNFINISHED and not locks.is_held(store.locks_dir, session_id):
            found.append(Interrupted(session_id, head, snap.step, snap.status))
    return sorted(found, key=lambda item: item.session_id)


def collect_garbage(store: StoreParts, grace_seconds: float) -> list[str]:
    """gc: delete unreachable objects older than `grace_seconds`; returns their ids (sorted)."""
    with store.mutex:
        heads, ref_problems = _ref_heads(store)
        result = walk(store, heads, verify=False)
        damage = ref_problems + result.problems
        if damage:
            raise CorruptObjectError(damage[0].path, f"{damage[0].problem}; gc refuses to run on a damaged store")
        cutoff = time.time() - grace_seconds
        removed: list[str] = []
        for object_id in store.objects.ids():
            if object_id in result.reachable:
                continue
            with contextlib.suppress(FileNotFoundError):
                if store.objects.path(object_id).stat().st_mtime <= cutoff:
                    store.objects.remove(object_id)
                    removed.append(object_id)
        _sweep_tmp(store.objects.tmp_dir, cutoff)
        if store.history_cache is not None:
            live = {head for _, head in heads}
            for entry in store.history_cache.entries():
                if entry not in live:
                    store.history_cache.drop(entry)
        return removed


def _sweep_tmp(tmp_dir: Path, cutoff: float) -> None:
    if not tmp_dir.is_dir():
        return
    for entry in tmp_dir.iterdir():
        with contextlib.suppress(OSError):
            if entry.stat().st_mtime <= cutoff:
                entry.unlink()
