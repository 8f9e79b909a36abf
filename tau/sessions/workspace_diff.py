"""The files that differ between two workspace checkpoints, and their text patches: what `tau sessions diff` prints
and what the session viewer shows between two snapshots (one implementation for both).

- `pin_changes(objects, left, right)`: (added|removed|changed, path, before, after) for every path whose state
  differs between the checkpoints `left` and `right` (ids of checkpoint objects, as a snapshot's `workspace` names
  them). A path one side never saw is taken as the other side's first-seen (baseline) state of it, as a rewind
  would restore it.
- `baseline_changes(objects, checkpoint)`: the same from each path's first-seen state to its state in `checkpoint`
  (what the session changed, up to it).
- `file_patch(objects, path, before, after)`: a unified diff of the two states of a text file, read from the stored
  blobs; a binary or uncaptured side gives a three-line note instead. Sorted paths; pure apart from object reads.
"""

from __future__ import annotations

import difflib

from tau.sessions.checkpoints import ABSENT, FileState, ObjectIO, Tree, read_checkpoint

__all__ = ["Change", "baseline_changes", "blob_text", "file_patch", "pin_changes", "tree_changes"]

Change = tuple[str, str, FileState, FileState]
"""(added | removed | changed, path, state before, state after)."""


def pin_changes(objects: ObjectIO, left: str, right: str) -> list[Change]:
    """The changes from checkpoint `left` to checkpoint `right` (see the module docstring)."""
    _, left_state, left_baseline = read_checkpoint(objects, left)
    _, right_state, right_baseline = read_checkpoint(objects, right)
    return tree_changes(left_state, left_baseline, right_state, right_baseline)


def baseline_changes(objects: ObjectIO, checkpoint: str) -> list[Change]:
    """The changes from each path's first-seen state (the checkpoint's baseline) to its state in `checkpoint`:
    everything the session changed in the files it touched, up to that checkpoint."""
    _, state, baseline = read_checkpoint(objects, checkpoint)
    return tree_changes(baseline, baseline, state, baseline)


def tree_changes(left: Tree, left_baseline: Tree, right: Tree, right_baseline: Tree) -> list[Change]:
    """(added|removed|changed, path, before, after) per path whose state differs. A path one side never saw is
    taken as the other side's first-seen (baseline) state of it, as a rewind would restore it."""
    changes: list[Change] = []
    for path in sorted({*left, *right}):
        before = left.get(path) or right_baseline.get(path, ABSENT)
        after = right.get(path) or left_baseline.get(path, ABSENT)
        if before == after:
            continue
        kind = "added" if before.absent else "removed" if after.absent else "changed"
        changes.append((kind, path, before, after))
    return changes


def blob_text(objects: ObjectIO, state: FileState) -> list[str] | None:
    """The lines of a captured text file ([] for an absent one); None if binary or not captured."""
    if state.absent:
        return []
    if state.blob is None:
        return None
    data = objects.get_object(state.blob)
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def file_patch(objects: ObjectIO, path: str, before: FileState, after: FileState) -> list[str]:
    """A unified diff of `path` from `before` to `after` (lines without their newline)."""
    old, new = blob_text(objects, before), blob_text(objects, after)
    source = "/dev/null" if before.absent else f"a/{path}"
    target = "/dev/null" if after.absent else f"b/{path}"
    if old is None or new is None:
        why = "not captured" if before.skipped or after.skipped else "binary"
        return [f"--- {source}", f"+++ {target}", f"({why}: no text diff)"]
    return [line.rstrip("\n") for line in difflib.unified_diff(old, new, source, target)]
