"""Workspace checkpoint objects: file blobs, tree objects and checkpoint objects; codecs and store access.

A snapshot's `workspace` link names a **checkpoint** object; the checkpoint names two **tree** objects; a tree names
**blob** objects (a file's bytes, verbatim). All three are ordinary content-addressed objects of the store
(objects.py), so they dedupe across steps and sessions: an unchanged file costs nothing, an unchanged tree neither.

    checkpoint  {"type": "tau.checkpoint", "version": 1, "root": "/abs/root/at/capture", "state": <tree id>,
                 "baseline": <tree id>, "tree_scanned": bool}
    tree        {"type": "tau.tree", "version": 1, "files": {"rel/path": entry, ...}}
    entry       {"blob": <id>, "size": n}        the file's bytes
                {"absent": true}                 no file at this path
                {"skipped": "reason", "size": n} the file exists but was not captured (limits); rewind leaves it

Paths are POSIX, relative to the workspace root, so a checkpoint taken in a docker container (`/workspace`) applies
to the same tree on the host and vice versa. `state` is everything known about the workspace when the checkpoint
was taken; `baseline` is each path's state when tau first saw it (what a rewind to an earlier step restores for
paths that step did not know yet). Codecs are pure; the store adapters are the only I/O. tau.sessions does not know
about environments: capturing and restoring through a workspace lives in tau.checkpoints.recorder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from tau.sessions.errors import CorruptObjectError
from tau.sessions.objects import OBJECT_ID, digest
from tau.sessions.snapshot import canonical_json

if TYPE_CHECKING:
    from tau.sessions.parts import StoreParts

__all__ = [
    "ABSENT",
    "Checkpoint",
    "FileState",
    "MemoryObjects",
    "ObjectIO",
    "StoreObjects",
    "Tree",
    "decode_checkpoint",
    "decode_tree",
    "encode_checkpoint",
    "encode_tree",
    "links_of",
    "read_checkpoint",
    "store_objects",
    "write_checkpoint",
]

CHECKPOINT_TYPE = "tau.checkpoint"
TREE_TYPE = "tau.tree"


class ObjectIO(Protocol):
    """The two object operations checkpoints need (sync; callers run them off the event loop in batches)."""

    def put_object(self, data: bytes) -> str: ...

    def get_object(self, object_id: str) -> bytes: ...


@dataclass(frozen=True)
class FileState:
    """One path's state: `blob` set = a file with those bytes; `skipped` set = exists, not captured; else absent."""

    blob: str | None = None
    size: int = 0
    skipped: str | None = None

    @property
    def absent(self) -> bool:
        return self.blob is None and self.skipped is None

    def to_json(self) -> dict[str, object]:
        if self.blob is not None:
            return {"blob": self.blob, "size": self.size}
        if self.skipped is not None:
            return {"skipped": self.skipped, "size": self.size}
        return {"absent": True}


ABSENT = FileState()
Tree = dict[str, FileState]


@dataclass(frozen=True)
class Checkpoint:
    """A decoded checkpoint object (see the module docstring)."""

    state: str
    baseline: str
    root: str = ""
    tree_scanned: bool = False
    notes: tuple[str, ...] = ()


def encode_tree(files: Mapping[str, FileState]) -> bytes:
    return canonical_json(
        {"type": TREE_TYPE, "version": 1, "files": {path: state.to_json() for path, state in files.items()}}
    )


def _entry(raw: object) -> FileState | None:
    if not isinstance(raw, dict):
        return None
    size = raw.get("size", 0)
    if not isinstance(size, int):
        return None
    blob, skipped = raw.get("blob"), raw.get("skipped")
    if isinstance(blob, str) and OBJECT_ID.fullmatch(blob):
        return FileState(blob=blob, size=size)
    if isinstance(skipped, str):
        return FileState(skipped=skipped, size=size)
    return ABSENT if raw.get("absent") is True else None


def decode_tree(data: bytes, path: Path) -> Tree:
    try:
        value = json.loads(data)
    except ValueError:
        value = None
    files = value.get("files") if isinstance(value, dict) and value.get("type") == TREE_TYPE else None
    if not isinstance(files, dict):
        raise CorruptObjectError(path, "not a workspace tree object")
    tree: Tree = {}
    for name, raw in files.items():
        entry = _entry(raw)
        if entry is None:
            raise CorruptObjectError(path, f"workspace tree entry {name!r} is malformed")
        tree[name] = entry
    return tree


def encode_checkpoint(checkpoint: Checkpoint) -> bytes:
    return canonical_json(
        {
            "type": CHECKPOINT_TYPE,
            "version": 1,
            "root": checkpoint.root,
            "state": checkpoint.state,
            "baseline": checkpoint.baseline,
            "tree_scanned": checkpoint.tree_scanned,
            "notes": list(checkpoint.notes),
        }
    )


def decode_checkpoint(data: bytes, path: Path) -> Checkpoint:
    try:
        value = json.loads(data)
    except ValueError:
        value = None
    if not isinstance(value, dict) or value.get("type") != CHECKPOINT_TYPE:
        raise CorruptObjectError(path, "not a workspace checkpoint object")
    state, baseline, root = value.get("state"), value.get("baseline"), value.get("root", "")
    if not (isinstance(state, str) and OBJECT_ID.fullmatch(state)) or not (
        isinstance(baseline, str) and OBJECT_ID.fullmatch(baseline)
    ):
        raise CorruptObjectError(path, "workspace checkpoint lacks its tree links")
    notes = value.get("notes", [])
    return Checkpoint(
        state,
        baseline,
        root if isinstance(root, str) else "",
        bool(value.get("tree_scanned")),
        tuple(str(note) for note in notes) if isinstance(notes, list) else (),
    )


LinkedKind = Literal["tree", "blob"]


def links_of(kind: str, data: bytes, path: Path) -> Iterator[tuple[LinkedKind, str]]:
    """The objects a checkpoint (kind `workspace`) or a tree (kind `tree`) names, for fsck, gc and bundles; decodes
    (so verifies) the object."""
    if kind == "workspace":
        checkpoint = decode_checkpoint(data, path)
        yield "tree", checkpoint.state
        yield "tree", checkpoint.baseline
        return
    for state in decode_tree(data, path).values():
        if state.blob is not None:
            yield "blob", state.blob


class MemoryObjects:
    """`ObjectIO` over a dict (tests, stateless runs)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, data: bytes) -> str:
        object_id = digest(data)
        self.objects.setdefault(object_id, bytes(data))
        return object_id

    def get_object(self, object_id: str) -> bytes:
        try:
            return self.objects[object_id]
        except KeyError:
            raise CorruptObjectError(Path(f"<memory>/{object_id}"), "object is missing") from None


class StoreObjects:
    """`ObjectIO` over a file store's object directory (hash-verified reads, durable write-once puts)."""

    def __init__(self, store: StoreParts) -> None:
        self.store = store

    def put_object(self, data: bytes) -> str:
        self.store.ensure_dirs()
        return self.store.objects.put(data)

    def get_object(self, object_id: str) -> bytes:
        return self.store.objects.get(object_id)


def store_objects(store: StoreParts) -> StoreObjects:
    """The checkpoint object I/O of a file store."""
    return StoreObjects(store)


def read_checkpoint(objects: ObjectIO, checkpoint_id: str) -> tuple[Checkpoint, Tree, Tree]:
    """A checkpoint and its two trees (state, baseline)."""
    where = Path(f"object {checkpoint_id}")
    checkpoint = decode_checkpoint(objects.get_object(checkpoint_id), where)
    state = decode_tree(objects.get_object(checkpoint.state), Path(f"object {checkpoint.state}"))
    baseline = decode_tree(objects.get_object(checkpoint.baseline), Path(f"object {checkpoint.baseline}"))
    return checkpoint, state, baseline


def write_checkpoint(
    objects: ObjectIO,
    root: str,
    state: Mapping[str, FileState],
    baseline: Mapping[str, FileState],
    *,
    tree_scanned: bool,
    notes: Sequence[str] = (),
) -> str:
    """Write both trees and the checkpoint object; return the checkpoint id (blobs must already be stored)."""
    state_id = objects.put_object(encode_tree(state))
    baseline_id = objects.put_object(encode_tree(baseline))
    checkpoint = Checkpoint(state_id, baseline_id, root, tree_scanned, tuple(notes))
    return objects.put_object(encode_checkpoint(checkpoint))
