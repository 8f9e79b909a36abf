"""Workspace checkpoints: capture the files a mutating tool call may change, through the Environment, and rewind.

    recorder = CheckpointRecorder(store_objects(store), parent=resumed_head_pin)   # one per run
    Agent(toolsets=[CheckpointToolset(t, recorder=recorder) for t in toolsets])     # innermost: inside every
                                                                                     # capability's wrapper, it
                                                                                     # captures only calls that run
    StepRecord(..., workspace=recorder.current_checkpoint())                         # at every commit
    report = await rewind(objects, snapshot.workspace, workspace, latest=head.workspace)

Capture (all I/O through `ctx.workspace`: run / list_dir / stat / read_bytes; so the docker backend works the same):
- `write`, `edit` (scope "file"): that one file, before the call (its pre-image: content or absent) and after it;
- `bash` (scope "tree"): the whole workspace tree after every call, and before the first one (the baseline), with
  ignore rules (ignore_rules.py) and `CheckpointLimits`; files beyond a limit are recorded as skipped;
- MCP and every other tool: scope "none" by default (their effects do not go through the Environment); pass
  `scopes={"mcp__fs__write": "tree"}` or `default_scope="tree"` to capture them too.
Calls with a scope run one at a time (a lock spans capture-call-capture), so parallel tool calls cannot interleave
their captures. A capture that fails (an unreadable file, a vanished workspace) never fails the tool call: it is
recorded in `recorder.warnings` (and passed to `on_warning`).

State (sessions/checkpoints.py has the object formats): `state` = the last captured state of every path tau has
seen; `baseline` = each path's state when first seen. `current_checkpoint()` names a checkpoint object of both, so
the snapshot committed after a step pins the workspace as it was at the end of that step.

Rewind to checkpoint T, knowing the newest checkpoint L of the session: a path T knows goes back to T's state; a
path first seen after T goes back to L's baseline (its state before tau first touched it, i.e. at T); so a rewind to
a snapshot pinned before any capture (None) undoes everything tau captured. Skipped paths are reported, not touched.

Tree scans live in `tree_scan.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import posixpath
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic_ai.tools import AgentDepsT, RunContext
from pydantic_ai.toolsets import ToolsetTool, WrapperToolset
from pydantic_ai.workspaces import Workspace, WorkspaceUnavailableError

from tau.checkpoints.tree_scan import (
    FS_ERRORS,
    BlobSink,
    CaptureStat,
    CheckpointLimits,
    ScanCache,
    Scope,
    TreeScan,
    hard_skipped,
    in_tree_scope,
    read_state,
    rel_path,
    scan_tree,
)
from tau.sessions.checkpoints import (
    ABSENT,
    FileState,
    ObjectIO,
    Tree,
    read_checkpoint,
    write_checkpoint,
)
from tau.sessions.errors import CorruptObjectError

__all__ = [
    "DEFAULT_SCOPES",
    "CaptureStat",
    "CheckpointLimits",
    "CheckpointRecorder",
    "CheckpointToolset",
    "RewindReport",
    "ScanCache",
    "Scope",
    "TreeScan",
    "plan_rewind",
    "restore_for_fork",
    "rewind",
    "scan_tree",
]

DEFAULT_SCOPES: Mapping[str, Scope] = {"write": "file", "edit": "file", "multi_edit": "file", "bash": "tree"}


class CheckpointRecorder:
    """Captures workspace state around mutating tool calls and names the checkpoint a step pins.

    Args:
        objects: where blobs, trees and checkpoints go (`store_objects(FileSessionStore)` or `MemoryObjects()`).
        parent: the checkpoint the session's head pins (resume / fork); its state and baseline carry over.
        limits: bounds of a tree capture.
        scopes: tool name -> "file" | "tree" | "none" (default: write/edit file, bash tree).
        default_scope: the scope of every other tool (MCP included); "none" by default.
        on_warning: called with a one-line message when a capture fails (the call itself still runs).
    """

    def __init__(
        self,
        objects: ObjectIO,
        *,
        parent: str | None = None,
        limits: CheckpointLimits | None = None,
        scopes: Mapping[str, Scope] | None = None,
        default_scope: Scope = "none",
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.objects = objects
        self.limits = limits or CheckpointLimits()
        self.scopes = dict(DEFAULT_SCOPES if scopes is None else scopes)
        self.default_scope: Scope = default_scope
        self.on_warning = on_warning
        self.warnings: list[str] = []
        self.stats: list[CaptureStat] = []
        self._parent = parent
        self._current = parent
        self._loaded = parent is None
        self._state: Tree = {}
        self._baseline: Tree = {}
        self._notes: list[str] = []
        self._tree_scanned = False
        self._complete_scan = False
        self._stored: set[str] = set()
        self._scan_cache = ScanCache()
        self._dirty = False
        self._lock = asyncio.Lock()

    def current_checkpoint(self) -> str | None:
        """The checkpoint the next committed snapshot pins (the parent's until this run captures something)."""
        return self._current

    def scope_of(self, tool_name: str) -> Scope:
        return self.scopes.get(tool_name, self.default_scope)

    @contextlib.asynccontextmanager
    async def capturing(self, workspace: Workspace, tool_name: str, args: Mapping[str, Any]) -> AsyncIterator[None]:
        """Capture before, run the body (the tool call), capture after; one such block at a time."""
        scope = self.scope_of(tool_name)
        if scope == "none" or not workspace.attached:
            yield
            return
        async with self._lock:
            await self._guarded(self._capture(workspace, scope, args, "before"), tool_name)
            try:
                yield
            finally:
                await self._guarded(self._capture(workspace, scope, args, "after"), tool_name)

    async def _guarded(self, capture: Any, tool_name: str) -> None:
        try:
            await capture
        except (CorruptObjectError, *FS_ERRORS) as error:
            message = f"workspace checkpoint around {tool_name} failed: {error}"
            self.warnings.append(message)
            if self.on_warning is not None:
                self.on_warning(message)

    async def _capture(self, workspace: Workspace, scope: Scope, args: Mapping[str, Any], phase: str) -> None:
        await self._load()
        started = time.perf_counter()
        if scope == "file":
            stat = await self._capture_file(workspace, args, phase)
        elif phase == "after" or not self._tree_scanned:
            stat = await self._capture_tree(workspace, phase)
        else:
            return  # the tree was captured after the previous call: that is the state before this one
        if stat is not None:
            self.stats.append(
                CaptureStat(
                    scope,
                    "before" if phase == "before" else "after",
                    stat[0],
                    stat[1],
                    stat[2],
                    time.perf_counter() - started,
                )
            )
        if phase == "after":  # one checkpoint per call: the before-capture's findings ride along
            await self._write(await workspace.working_dir())

    async def _capture_file(
        self, workspace: Workspace, args: Mapping[str, Any], phase: str
    ) -> tuple[int, int, int] | None:
        target = args.get("file_path")
        if not isinstance(target, str) or not target:
            return None
        root = await workspace.working_dir()
        rel = rel_path(await workspace.resolve(target), root)
        if rel is None or hard_skipped(rel):
            return None
        sink = BlobSink(self.objects, self._stored)
        state = await read_state(workspace, posixpath.join(root, rel), self.limits, sink)
        await sink.flush()
        if phase == "before" and rel not in self._baseline:
            self._baseline[rel] = state
        self._set(rel, state)
        return 1, state.size if state.blob else 0, sink.written

    async def _capture_tree(self, workspace: Workspace, phase: str) -> tuple[int, int, int]:
        scan = await scan_tree(workspace, self.objects, limits=self.limits, stored=self._stored, cache=self._scan_cache)
        first_sight = ABSENT if self._complete_scan else FileState(skipped="not seen by an earlier capture")
        for rel, state in scan.files.items():
            if rel not in self._baseline:
                self._baseline[rel] = state if phase == "before" or not self._tree_scanned else first_sight
            self._set(rel, state)
        if not scan.truncated:
            for rel, state in list(self._state.items()):
                if rel not in scan.files and not state.absent and in_tree_scope(rel, scan.rules):
                    self._set(rel, ABSENT)
        else:
            note = f"tree capture stopped after {self.limits.max_entries} directory entries (max_entries)"
            if note not in self._notes:
                self._notes.append(note)
        self._tree_scanned = True
        self._complete_scan = self._complete_scan or not scan.truncated
        return len(scan.files), scan.bytes_read, scan.blobs_written

    def _set(self, rel: str, state: FileState) -> None:
        if self._state.get(rel) != state:
            self._state[rel] = state
            self._dirty = True
        if rel not in self._baseline:
            self._baseline[rel] = state
            self._dirty = True

    async def _write(self, root: str) -> None:
        if not self._dirty:
            return
        state, baseline, scanned, notes = dict(self._state), dict(self._baseline), self._tree_scanned, self._notes

        def put() -> str:
            return write_checkpoint(self.objects, root, state, baseline, tree_scanned=scanned, notes=notes)

        self._current = await anyio.to_thread.run_sync(put)
        self._dirty = False

    async def _load(self) -> None:
        if self._loaded or self._parent is None:
            return
        parent = self._parent
        checkpoint, state, baseline = await anyio.to_thread.run_sync(lambda: read_checkpoint(self.objects, parent))
        self._state, self._baseline = dict(state), dict(baseline)
        self._tree_scanned = self._complete_scan = checkpoint.tree_scanned
        self._notes = list(checkpoint.notes)
        self._stored.update(s.blob for s in (*state.values(), *baseline.values()) if s.blob is not None)
        self._loaded = True


@dataclass
class CheckpointToolset(WrapperToolset[AgentDepsT]):
    """Wraps every call of a toolset: calls with a scope are captured around by the recorder. The agent factory
    wraps each of the run's toolsets directly (not through a capability: pydantic-ai dispatches every hook of every
    capability on every step, and this needs none), so it sits inside the hook and permission wrappers and sees only
    calls that really run, with their final arguments."""

    recorder: CheckpointRecorder = field(kw_only=True)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[AgentDepsT], tool: ToolsetTool[AgentDepsT]
    ) -> Any:
        async with self.recorder.capturing(ctx.workspace, name, tool_args):
            return await super().call_tool(name, tool_args, ctx, tool)


# -- rewind ------------------------------------------------------------------------------------------------------


@dataclass
class RewindReport:
    """What a rewind changed (or, with `dry_run`, would change). Paths are relative to the workspace root."""

    target: str | None
    dry_run: bool = False
    restored: list[str] = field(default_factory=list[str])
    deleted: list[str] = field(default_factory=list[str])
    unchanged: list[str] = field(default_factory=list[str])
    not_captured: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    errors: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    notes: list[str] = field(default_factory=list[str])

    @property
    def changed(self) -> int:
        return len(self.restored) + len(self.deleted)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "dry_run": self.dry_run,
            "restored": self.restored,
            "deleted": self.deleted,
            "unchanged": len(self.unchanged),
            "not_captured": [{"path": p, "reason": r} for p, r in self.not_captured],
            "errors": [{"path": p, "error": e} for p, e in self.errors],
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        """The human report `tau rewind` prints."""
        verb = ("would restore", "would delete") if self.dry_run else ("restored", "deleted")
        out = [f"{verb[0]} {p}" for p in self.restored] + [f"{verb[1]} {p}" for p in self.deleted]
        out += [f"not captured {p} ({reason}); left as it is" for p, reason in self.not_captured]
        out += [f"error {p}: {error}" for p, error in self.errors]
        out += [f"note: {note}" for note in self.notes]
        summary = f"{len(self.restored)} restored, {len(self.deleted)} deleted, {len(self.unchanged)} unchanged"
        summary += f", {len(self.not_captured)} not captured"
        out.append(
            ("dry run: " if self.dry_run else "") + summary + (f", {len(self.errors)} errors" if self.errors else "")
        )
        return out


def plan_rewind(target_state: Tree, latest_state: Tree, latest_baseline: Tree) -> dict[str, FileState]:
    """The state each path must get back: the target's where it knows the path, else the path's first-seen state."""
    desired: dict[str, FileState] = {}
    for rel in sorted({*target_state, *latest_state, *latest_baseline}):
        if rel in target_state:
            desired[rel] = target_state[rel]
        elif rel in latest_baseline:
            desired[rel] = latest_baseline[rel]
        else:
            desired[rel] = FileState(skipped="no state recorded for this path")
    return desired


async def _current_blob(workspace: Workspace, path: str) -> str | None:
    if not await workspace.exists(path):
        return None
    if (await workspace.stat(path)).is_dir:
        return "<directory>"
    return hashlib.sha256(await workspace.read_bytes(path)).hexdigest()


async def _apply_one(
    workspace: Workspace, objects: ObjectIO, root: str, rel: str, want: FileState, report: RewindReport
) -> None:
    if want.skipped is not None:
        report.not_captured.append((rel, want.skipped))
        return
    path = posixpath.join(root, rel)
    current = await _current_blob(workspace, path)
    if current == want.blob:
        report.unchanged.append(rel)
        return
    if want.blob is None:
        if current == "<directory>":
            report.not_captured.append((rel, "now a directory; left as it is"))
            return
        if not report.dry_run:
            await workspace.remove(path)
        report.deleted.append(rel)
        return
    data = await anyio.to_thread.run_sync(objects.get_object, want.blob)
    if not report.dry_run:
        await workspace.write_bytes(path, data)
    report.restored.append(rel)


async def rewind(
    objects: ObjectIO,
    checkpoint: str | None,
    workspace: Workspace,
    *,
    latest: str | None = None,
    dry_run: bool = False,
) -> RewindReport:
    """Restore the workspace files to checkpoint `checkpoint` (a snapshot's `workspace` pin; None = before any
    capture), through the workspace. `latest` is the session's newest pin (its head's): paths first seen after
    `checkpoint` go back to their first-seen state from it. Returns what changed; `dry_run` changes nothing."""
    report = RewindReport(target=checkpoint, dry_run=dry_run)
    empty: Tree = {}
    target_state, latest_state, latest_baseline = empty, empty, empty
    if checkpoint is not None:
        target, target_state, target_baseline = await anyio.to_thread.run_sync(read_checkpoint, objects, checkpoint)
        report.notes.extend(target.notes)
        latest_state, latest_baseline = target_state, target_baseline
    if latest is not None and latest != checkpoint:
        newest, latest_state, latest_baseline = await anyio.to_thread.run_sync(read_checkpoint, objects, latest)
        report.notes.extend(note for note in newest.notes if note not in report.notes)
    if checkpoint is None and latest is None:
        report.notes.append("no workspace checkpoint recorded: nothing to rewind")
        return report
    root = await workspace.working_dir()
    for rel, want in plan_rewind(target_state, latest_state, latest_baseline).items():
        try:
            await _apply_one(workspace, objects, root, rel, want, report)
        except WorkspaceUnavailableError:
            raise
        except (CorruptObjectError, *FS_ERRORS) as error:
            report.errors.append((rel, str(error)))
    return report


async def restore_for_fork(
    objects: ObjectIO,
    source_pin: str | None,
    workspace: Workspace,
    *,
    latest: str | None = None,
    dry_run: bool = False,
) -> RewindReport:
    """`tau fork SNAPSHOT --with-files`: after `store.fork(...)`, put the fork's workspace in the source snapshot's
    state. `source_pin` is the forked snapshot's `workspace`; `latest` the source session's head pin. Same as
    `rewind` (the fork's root snapshot already pins `source_pin`, so the fork's recorder continues from it)."""
    return await rewind(objects, source_pin, workspace, latest=latest, dry_run=dry_run)
