"""Tree scans for workspace checkpoints: list, filter and hash the workspace through the Environment.

Tree scans (`scan_tree`): one `find -printf` command through `workspace.run` lists every entry with its stat key
(size, mtime, ctime, inode, device; `.git`, `.tau/state` and the directories the last scan found ignored are pruned);
the recorder's `ScanCache` maps each regular file to the key and state it was read with, so a file is read and
hashed again only when its key changed, or when it was racily clean (mtime or ctime within 2 s of that scan's start,
where a same-size edit in the same timestamp tick would keep the key, as git's index). Symlinks are always read.
Special files (fifos, sockets, devices, and symlinks to them) are never opened: they are recorded as skipped, "not a
regular file" (opening a fifo, even non-blocking, joins its readers and can swallow what a writer sends to the
process that waits on it). The walk cannot tell their type without opening them (non-blocking, then refused).
Without commands or GNU find, on a failed or cut (`max_entries`) listing, or for a name that is not
UTF-8, the scan walks with list_dir / read_bytes and hashes every file (two failed listings in a row: the cache
stops trying). Both find the same files. Only blobs not already stored are written.

Shared with `recorder.py`: the limits and stat types, the blob sink and the per-file reader. The `find` command and
its parsing live in `find_listing.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from pydantic_ai.exceptions import UserError
from pydantic_ai.workspaces import Workspace, WorkspaceError, WorkspaceUnavailableError

from tau.checkpoints.find_listing import Key, Listed, find_command, parse_listing, settled
from tau.checkpoints.ignore_rules import IGNORE_FILES, IgnoreRules, ScopeFilter
from tau.confine import inside
from tau.sessions.checkpoints import (
    ABSENT,
    FileState,
    ObjectIO,
    Tree,
)

Scope = Literal["file", "tree", "none"]
_READ_CONCURRENCY = 16
_BATCH = 64
FS_ERRORS = (OSError, WorkspaceError, ValueError)


@dataclass(frozen=True)
class CheckpointLimits:
    """Bounds of one tree capture; files past a bound are recorded as skipped ("not captured" in a rewind)."""

    max_files: int = 20_000
    max_total_bytes: int = 256 * 1024 * 1024
    max_file_bytes: int = 8 * 1024 * 1024
    max_entries: int = 200_000  # directory entries listed before the walk stops (the rest is not even listed)


@dataclass(frozen=True)
class CaptureStat:
    """One capture, for measurements and `tau sessions log`-style reporting."""

    scope: Scope
    phase: Literal["before", "after"]
    files: int
    bytes_read: int
    blobs_written: int
    seconds: float


@dataclass
class TreeScan:
    """What a tree scan found: in-scope files (blob or skipped), whether it stopped early, and the rules it used."""

    files: Tree = field(default_factory=dict)
    truncated: bool = False
    rules: IgnoreRules = field(default_factory=IgnoreRules)
    bytes_read: int = 0
    blobs_written: int = 0
    reused: int = 0  # files whose state came from the scan cache (listing key unchanged), not read
    method: Literal["find", "walk"] = "walk"
    ignored_dirs: list[str] = field(default_factory=list[str])  # directories the rules excluded (walk only)


def rel_path(path: str, root: str) -> str | None:
    """`path` relative to `root`, or None when it is the root or outside it."""
    if path == root or not inside(path, root):
        return None
    return path[len(root.rstrip("/")) + 1 :]


def hard_skipped(rel: str) -> bool:
    """Paths never captured, even when a tool names them: inside `.git/` or the project state dir `.tau/state/`."""
    return ".git" in rel.split("/") or rel == ".tau/state" or rel.startswith(".tau/state/")


async def _list(workspace: Workspace, directory: str) -> list[Any]:
    try:
        return list(await workspace.list_dir(directory))
    except WorkspaceUnavailableError:
        raise
    except FS_ERRORS:
        return []


async def _read_ignore_files(workspace: Workspace, root: str, rel_dir: str, names: set[str], scan: TreeScan) -> None:
    for name in IGNORE_FILES:
        if name in names:
            with contextlib.suppress(*FS_ERRORS, UnicodeDecodeError):
                text = (await workspace.read_bytes(posixpath.join(root, rel_dir, name))).decode()
                scan.rules.add(text, rel_dir)


async def _walk(workspace: Workspace, root: str, limits: CheckpointLimits, scan: TreeScan) -> list[tuple[str, int]]:
    """Every in-scope file (relative path, listed size) under `root`; symlinked directories are not entered."""
    found: list[tuple[str, int]] = []
    real_root = await workspace.realpath(root)
    stack: list[tuple[str, str]] = [("", real_root)]
    seen = 0
    while stack:
        rel_dir, real_dir = stack.pop()
        entries = await _list(workspace, posixpath.join(root, rel_dir) if rel_dir else root)
        await _read_ignore_files(workspace, root, rel_dir, {e.name for e in entries if not e.is_dir}, scan)
        for entry in sorted(entries, key=lambda e: e.name):
            seen += 1
            if seen > limits.max_entries:
                scan.truncated = True
                return found
            rel = posixpath.join(rel_dir, entry.name) if rel_dir else entry.name
            if scan.rules.ignored(rel, is_dir=entry.is_dir):
                if entry.is_dir:
                    scan.ignored_dirs.append(rel)
                continue
            if not entry.is_dir:
                found.append((rel, entry.size if entry.size is not None else -1))
                continue
            expected = posixpath.join(real_dir, entry.name)
            with contextlib.suppress(*FS_ERRORS):
                if await workspace.realpath(posixpath.join(root, rel)) == expected:
                    stack.append((rel, expected))
    return found


def _budget(candidates: list[tuple[str, int]], limits: CheckpointLimits, files: Tree) -> list[tuple[str, int]]:
    """The candidates to read; the rest get a `skipped` entry in `files` naming the limit they hit."""
    chosen: list[tuple[str, int]] = []
    total = 0
    for rel, size in sorted(candidates):
        if size > limits.max_file_bytes:
            files[rel] = FileState(skipped=f"larger than max_file_bytes ({limits.max_file_bytes})", size=size)
        elif len(chosen) >= limits.max_files:
            files[rel] = FileState(skipped=f"beyond max_files ({limits.max_files})", size=max(size, 0))
        elif total + max(size, 0) > limits.max_total_bytes:
            files[rel] = FileState(skipped=f"beyond max_total_bytes ({limits.max_total_bytes})", size=size)
        else:
            chosen.append((rel, size))
            total += max(size, 0)
    return chosen


class BlobSink:
    """Hashes file bytes and stores the blobs not already known to be stored, in batches off the event loop."""

    def __init__(self, objects: ObjectIO, stored: set[str]) -> None:
        self.objects = objects
        self.stored = stored
        self.pending: dict[str, bytes] = {}
        self.written = 0

    def add(self, data: bytes) -> str:
        blob = hashlib.sha256(data).hexdigest()
        if blob not in self.stored:
            self.pending[blob] = data
        return blob

    async def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, {}

        def put_all() -> None:
            for data in batch.values():
                self.objects.put_object(data)

        await anyio.to_thread.run_sync(put_all)
        self.stored.update(batch)
        self.written += len(batch)


async def read_state(workspace: Workspace, path: str, limits: CheckpointLimits, sink: BlobSink) -> FileState:
    """One file's state through the workspace: absent, skipped (too large / a directory / unreadable) or a blob."""
    if not await workspace.exists(path):
        return ABSENT
    entry = await workspace.stat(path)
    if entry.is_dir:
        return FileState(skipped="a directory")
    if entry.size is not None and entry.size > limits.max_file_bytes:
        return FileState(skipped=f"larger than max_file_bytes ({limits.max_file_bytes})", size=entry.size)
    data = await workspace.read_bytes(path)
    if len(data) > limits.max_file_bytes:
        return FileState(skipped=f"larger than max_file_bytes ({limits.max_file_bytes})", size=len(data))
    return FileState(blob=sink.add(data), size=len(data))


# -- the listing scan: one `find` through the workspace, re-read only what changed -------------------------------

_MAX_PRUNED = 256  # ignored directories the next listing skips (`-prune`); the rest are listed and filtered
_LISTING_TIMEOUT = 120.0
_LISTING_FAILURES = 2  # consecutive failed listings before a cache stops trying (and every scan walks)


@dataclass
class ScanCache:
    """What the listing scan remembers between tree captures of one workspace into one object store: each regular
    file's listing key (size, mtime, ctime, inode, device) with the state read for it, the ignore files' texts, and
    the ignored directories to prune. An entry is kept only when the file's mtime/ctime was at least 2 s older than
    the scan's start ("racily clean" otherwise, as git: a same-size edit in the same timestamp tick would keep the
    key), so an entry whose key still matches needs no read. One cache per recorder; never share across stores."""

    root: str | None = None
    files: dict[str, tuple[Key, FileState]] = field(default_factory=dict[str, tuple[Key, FileState]])
    ignore_texts: dict[str, tuple[Key, str]] = field(default_factory=dict[str, tuple[Key, str]])
    pruned: tuple[str, ...] = ()
    failures: int = 0
    rules_source: list[tuple[str, str]] | None = None  # (directory, text) of the ignore files `scope` was built from
    scope: ScopeFilter | None = None  # kept while the ignore files are unchanged: its verdicts stay memoized

    @property
    def usable(self) -> bool:
        return self.failures < _LISTING_FAILURES

    def use_root(self, root: str) -> None:
        if root != self.root:
            self.root, self.files, self.ignore_texts, self.pruned = root, {}, {}, ()
            self.rules_source = self.scope = None


@dataclass
class _Listing:
    """What a listing scan found: in-scope candidates (relative path, size) and every record, by path."""

    candidates: list[tuple[str, int]]
    records: dict[str, Listed]
    start_ns: int | None
    special: frozenset[str] = frozenset()  # candidates that are fifos, sockets or devices: never opened


async def _run_listing(
    workspace: Workspace, pruned: Sequence[str], max_entries: int
) -> tuple[int | None, dict[str, Listed]] | None:
    try:
        result = await workspace.run(find_command(pruned, max_entries), shell=True, timeout=_LISTING_TIMEOUT)
    except WorkspaceUnavailableError:
        raise
    except (UserError, NotImplementedError, TypeError, *FS_ERRORS):
        return None  # no commands on this backend, output cap, timeout, ...
    return parse_listing(result.stdout) if result.exit_code == 0 else None


async def _ignore_text(
    workspace: Workspace, root: str, rel: str, entry: Listed, cache: ScanCache, start_ns: int | None
) -> str | None:
    cached = cache.ignore_texts.get(rel)
    if cached is not None and cached[0] == entry.key and entry.kind == "f":
        return cached[1]
    try:
        text = (await workspace.read_bytes(posixpath.join(root, rel))).decode()
    except WorkspaceUnavailableError:
        raise
    except (*FS_ERRORS, UnicodeDecodeError):
        return None
    if settled(entry, start_ns):
        cache.ignore_texts[rel] = (entry.key, text)
    return text


async def _listing_rules(
    workspace: Workspace, root: str, records: Mapping[str, Listed], cache: ScanCache, start_ns: int | None
) -> ScopeFilter:
    """The rules of every ignore file outside ignored directories, shallow first (as the walk reads them); the
    cached filter (with its memoized verdicts) when they are the same as last time."""
    rules = IgnoreRules()
    scope = ScopeFilter(rules)
    source: list[tuple[str, str]] = []
    found = [
        (rel.count("/"), IGNORE_FILES.index(rel.rpartition("/")[2]), rel)
        for rel, entry in records.items()
        if rel.rpartition("/")[2] in IGNORE_FILES and entry.target != "d"
    ]
    for _, _, rel in sorted(found):
        rel_dir = rel.rpartition("/")[0]
        if scope.dir_excluded(rel_dir):
            continue
        text = await _ignore_text(workspace, root, rel, records[rel], cache, start_ns)
        if text is not None:
            rules.add(text, rel_dir)
            source.append((rel_dir, text))
    if cache.scope is None or cache.rules_source != source:
        cache.scope, cache.rules_source = scope, source
    return cache.scope


NOT_REGULAR = "not a regular file"  # the skip reason of fifos, sockets and devices (and symlinks to them)
_SPECIAL_KINDS = frozenset("psbcD")  # `find %y`: fifo, socket, block and character device, door


def _split_records(
    records: Mapping[str, Listed], scope: ScopeFilter
) -> tuple[list[tuple[str, int]], list[str], list[str], list[str]]:
    """In-scope regular files (path, size), in-scope symlinks to files or to nothing (sized by a stat), in-scope
    special files (never opened: opening a fifo, even non-blocking, makes tau a reader of someone else's pipe), and
    the topmost ignored directories."""
    files: list[tuple[str, int]] = []
    links: list[str] = []
    special: list[str] = []
    ignored_dirs: list[str] = []
    for rel, entry in records.items():
        if entry.kind == "d":
            if scope.dir_excluded(rel) and not scope.dir_excluded(rel.rpartition("/")[0]):
                ignored_dirs.append(rel)
        elif entry.target == "d":
            continue  # a symlinked directory: never entered, as in the walk
        elif scope.file_in_scope(rel):
            if entry.kind in _SPECIAL_KINDS or entry.target in _SPECIAL_KINDS:
                special.append(rel)
            elif entry.kind == "f":
                files.append((rel, entry.size))
            else:
                links.append(rel)
    return files, links, special, ignored_dirs


async def _stat_size(workspace: Workspace, path: str) -> int | None:
    """A symlink's or special file's size as the walk lists it (following the link; -1 when unknown); None for a
    directory."""
    try:
        entry = await workspace.stat(path)
    except WorkspaceUnavailableError:
        raise
    except FS_ERRORS:
        return -1
    if entry.is_dir:
        return None
    return entry.size if entry.size is not None else -1


async def _list_scan(
    workspace: Workspace, root: str, limits: CheckpointLimits, scan: TreeScan, cache: ScanCache
) -> _Listing | None:
    """Every in-scope file from one `find` through the workspace (None: not available, failed or over
    `max_entries`; the caller walks instead). Directories ignored by the last scan are pruned; if the ignore files
    now let one back in, the listing runs again without pruning."""
    for pruned in (cache.pruned, ()) if cache.pruned else ((),):
        listing = await _run_listing(workspace, pruned, limits.max_entries)
        if listing is None:
            return None
        start_ns, records = listing
        scope = await _listing_rules(workspace, root, records, cache, start_ns)
        if all(scope.dir_excluded(rel) for rel in pruned):
            break
    files, links, special, ignored_dirs = _split_records(records, scope)
    for rel in (*links, *special):  # sized by a stat, as the walk lists them, so the budgets pick the same files
        size = await _stat_size(workspace, posixpath.join(root, rel))
        if size is not None:
            files.append((rel, size))
    scan.rules = scope.rules
    cache.pruned = tuple(sorted(ignored_dirs)[:_MAX_PRUNED])
    return _Listing(files, records, start_ns, frozenset(special))


async def scan_tree(
    workspace: Workspace,
    objects: ObjectIO,
    *,
    limits: CheckpointLimits | None = None,
    stored: set[str] | None = None,
    cache: ScanCache | None = None,
    listing: bool = True,
) -> TreeScan:
    """Capture every in-scope file of the workspace: blobs go to `objects` (unless in `stored`), states returned.

    With `listing` (default) the files come from one `find` command through the workspace and, given a `cache`
    from earlier scans, only files whose listing key changed (or was racily clean) are read; without commands or
    GNU `find -printf`, or when the listing fails, the tree is walked with list_dir / read_bytes (every file read).
    """
    limits = limits or CheckpointLimits()
    root = await workspace.working_dir()
    cache = cache if cache is not None else ScanCache()
    cache.use_root(root)
    scan, found = await _find_files(workspace, root, limits, cache, listing=listing)
    to_read: list[str] = []
    for rel, _ in _budget(found.candidates, limits, scan.files):
        entry, hit = found.records.get(rel), cache.files.get(rel)
        if rel in found.special:
            scan.files[rel] = FileState(skipped=NOT_REGULAR)
        elif entry is not None and hit is not None and hit[0] == entry.key:
            scan.files[rel] = hit[1]
            scan.reused += 1
        else:
            to_read.append(rel)
            cache.files.pop(rel, None)
    sink = BlobSink(objects, stored if stored is not None else set())
    await _read_files(workspace, root, to_read, sink, scan, found, cache)
    if scan.method == "find":
        cache.files = {rel: hit for rel, hit in cache.files.items() if rel in scan.files}
    return scan


async def _find_files(
    workspace: Workspace, root: str, limits: CheckpointLimits, cache: ScanCache, *, listing: bool
) -> tuple[TreeScan, _Listing]:
    """The listing scan when it can be used and succeeds, else the walk."""
    if listing and cache.usable:
        scan = TreeScan(method="find")
        found = await _list_scan(workspace, root, limits, scan, cache)
        cache.failures = 0 if found is not None else cache.failures + 1
        if found is not None:
            return scan, found
    scan = TreeScan(method="walk")
    found = _Listing(await _walk(workspace, root, limits, scan), {}, None)
    cache.pruned = tuple(sorted(scan.ignored_dirs)[:_MAX_PRUNED])
    return scan, found


async def _read_files(
    workspace: Workspace,
    root: str,
    to_read: Sequence[str],
    sink: BlobSink,
    scan: TreeScan,
    found: _Listing,
    cache: ScanCache,
) -> None:
    """Read and hash `to_read` in batches; files the listing vouches for (not racily clean) enter the cache once
    their blobs are stored."""
    gate = asyncio.Semaphore(_READ_CONCURRENCY)
    learned: dict[str, tuple[Key, FileState]] = {}

    async def capture(rel: str) -> None:
        async with gate:
            try:
                data = await workspace.read_bytes(posixpath.join(root, rel))
            except WorkspaceUnavailableError:
                raise
            except FS_ERRORS as error:
                special = NOT_REGULAR in str(error) or getattr(error, "errno", None) == errno.ENXIO  # fifo, socket
                reason = NOT_REGULAR if special else f"unreadable: {error}"
                scan.files[rel] = FileState(skipped=reason)
                return
        scan.bytes_read += len(data)
        state = scan.files[rel] = FileState(blob=sink.add(data), size=len(data))
        entry = found.records.get(rel)
        if entry is not None and settled(entry, found.start_ns):
            learned[rel] = (entry.key, state)

    for start in range(0, len(to_read), _BATCH):
        await asyncio.gather(*(capture(rel) for rel in to_read[start : start + _BATCH]))
        await sink.flush()
        cache.files.update(learned)
        learned.clear()
    scan.blobs_written = sink.written


def in_tree_scope(rel: str, rules: IgnoreRules) -> bool:
    parts = rel.split("/")
    if any(rules.ignored("/".join(parts[: i + 1]), is_dir=True) for i in range(len(parts) - 1)):
        return False
    return not rules.ignored(rel, is_dir=False)
