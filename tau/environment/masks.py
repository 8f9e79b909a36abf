"""Which existing paths a command must not read or write, found by walking directories: deny masks and hard links.

Owns two finders, both bounded and cached for the life of a backend:

- `DenyWalk`: walks `mask_roots` and returns the real paths `deny_read` covers (to be hidden behind an empty,
  mode-000 file or directory) and those `deny_write` covers (to be bound read-only). A directory is taken whole
  when the predicate covers two arbitrary names inside it (a rule such as `Read(./secrets/**)`), so a command cannot
  create a new readable file there either; otherwise its entries are judged one by one. Symlinks are not followed
  by the walk, but a symlink whose target a rule covers gets its *target* masked (the mount sits on the real path,
  so every name that leads there reads nothing).
  Cache: one record per directory, keyed by (device, inode, ctime): ctime changes whenever an entry is added,
  removed or renamed, and unlike mtime no command can set it back. Re-checking an unchanged tree costs one `lstat`
  per directory.
- `LinkScan`: regular files in the workspace with more than one hard link, some of whose names lie outside the
  workspace walk (a pre-existing hard link to an outside file stays writable through a writable bind mount, so these
  are bound read-only). Scanned once per backend: a sandboxed command cannot make new such links (`link` across
  mounts is EXDEV); the found paths are re-checked (same inode) before each command and a change scans again.
  Many of them (a virtualenv that uv filled with hard links to its cache) are collapsed to their directories, level
  by level, until at most `MAX_LINK_MOUNTS` binds remain (`collapse`): more stays read-only than strictly needed,
  never less; the workspace root itself is never taken.

Bounds: a walk visits at most `max_entries` entries and returns at most `max_paths` paths; beyond either it raises
`TooManyPaths`, and the command is refused (fail closed: never a sandbox that silently skipped part of a rule).
Each returned path costs one bind mount per command: bwrap re-reads the mount table after each, so 256 cost ~0.1 s.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["DenyResult", "DenyWalk", "LinkScan", "TooManyPaths", "collapse"]

Predicate = Callable[[str], bool]
_PROBES = (".tau-mask-probe-7f3a", "tau-mask-probe-0c91.q")
MAX_ENTRIES = 200_000
MAX_PATHS = 256  # each path is one bind mount; bwrap's cost per mount grows with their number (~100 ms at 256)
MAX_LINK_MOUNTS = 64


class TooManyPaths(RuntimeError):
    """A walk went past its bound; the sandbox refuses rather than run with part of the rules unenforced."""


@dataclass(frozen=True)
class DenyResult:
    """Real paths to hide (`read_files`, `read_dirs`) and to keep read-only (`write`)."""

    read_files: tuple[str, ...] = ()
    read_dirs: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


@dataclass
class _Dir:
    key: tuple[int, int, int]
    read_files: list[str] = field(default_factory=list)
    read_dirs: list[str] = field(default_factory=list)
    write: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)  # subdirectories to descend into
    entries: int = 0
    whole_write: bool = False  # the directory itself is write-denied: its entries need no judging for writes


def _key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_dev, st.st_ino, st.st_ctime_ns)


def _covers_all(predicate: Predicate | None, directory: str) -> bool:
    return predicate is not None and all(predicate(os.path.join(directory, name)) for name in _PROBES)


class DenyWalk:
    """Finds what `deny_read` / `deny_write` cover under `roots`; `write_scope` limits write-denials to writable
    places (elsewhere everything is read-only already)."""

    def __init__(
        self,
        roots: tuple[str, ...],
        deny_read: Predicate | None,
        deny_write: Predicate | None,
        *,
        max_entries: int = MAX_ENTRIES,
        max_paths: int = MAX_PATHS,
    ) -> None:
        self._roots = tuple(os.path.realpath(root) for root in roots)
        self._read = deny_read
        self._write = deny_write
        self._max_entries = max_entries
        self._max_paths = max_paths
        self._cache: dict[str, _Dir] = {}

    @property
    def active(self) -> bool:
        return bool(self._roots) and (self._read is not None or self._write is not None)

    def find(self) -> DenyResult:
        """The current answer (walks what changed since the last call). Raises `TooManyPaths`."""
        if not self.active:
            return DenyResult()
        read_files: list[str] = []
        read_dirs: list[str] = []
        write: list[str] = []
        seen: dict[str, _Dir] = {}
        budget = [self._max_entries]
        for root in self._roots:
            self._root(root, read_files, read_dirs, write, seen, budget)
        self._cache = seen
        if len(read_files) + len(read_dirs) + len(write) > self._max_paths:
            raise TooManyPaths(
                f"deny rules cover more than {self._max_paths} existing paths; narrow them (a directory rule such as "
                "`Read(./secrets/**)` counts once)"
            )
        unique = dict.fromkeys
        return DenyResult(tuple(unique(read_files)), tuple(unique(read_dirs)), tuple(unique(write)))

    def _root(
        self,
        root: str,
        read_files: list[str],
        read_dirs: list[str],
        write: list[str],
        seen: dict[str, _Dir],
        budget: list[int],
    ) -> None:
        try:
            st = os.lstat(root)
        except OSError:
            return
        if self._read is not None and self._read(root):
            (read_dirs if stat.S_ISDIR(st.st_mode) else read_files).append(root)
            return
        if not stat.S_ISDIR(st.st_mode):
            if self._write is not None and self._write(root):
                write.append(root)
            return
        for record in self._walk(root, budget, seen):
            read_files += record.read_files
            read_dirs += record.read_dirs
            write += record.write

    def _walk(self, top: str, budget: list[int], seen: dict[str, _Dir]) -> Iterator[_Dir]:
        stack = [top]
        while stack:
            directory = stack.pop()
            if directory in seen:
                continue
            try:
                st = os.lstat(directory)
            except OSError:
                continue
            record = self._cache.get(directory)
            if record is None or record.key != _key(st):
                record = self._list(directory, _key(st))
            budget[0] -= record.entries
            if budget[0] < 0:
                raise TooManyPaths(
                    f"more than {self._max_entries} entries under {top} to check against deny rules; narrow the "
                    "rules to fixed directories"
                )
            seen[directory] = record
            stack.extend(record.children)
            yield record

    def _list(self, directory: str, key: tuple[int, int, int]) -> _Dir:
        record = _Dir(key)
        if _covers_all(self._read, directory):
            record.read_dirs.append(directory)
            return record
        if _covers_all(self._write, directory):
            record.write.append(directory)
            record.whole_write = True
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return record
        record.entries = len(entries)
        for entry in entries:
            self._judge(entry, record)
        return record

    def _judge(self, entry: os.DirEntry[str], record: _Dir) -> None:
        path = entry.path
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            is_link = entry.is_symlink()
        except OSError:
            return
        if is_link:
            self._judge_target(path, record)
            return
        if self._read is not None and self._read(path):
            (record.read_dirs if is_dir else record.read_files).append(path)
            return
        if self._write is not None and not record.whole_write and self._write(path):
            record.write.append(path)
        if is_dir:
            record.children.append(path)

    def _judge_target(self, link: str, record: _Dir) -> None:
        target = os.path.realpath(link)
        if self._read is None or not self._read(target):
            return
        try:
            is_dir = stat.S_ISDIR(os.stat(target).st_mode)
        except OSError:
            return
        (record.read_dirs if is_dir else record.read_files).append(target)


class LinkScan:
    """Multi-link regular files under `root` whose other names are not all under `root` (see module docstring)."""

    def __init__(self, root: str, *, max_entries: int = 1_000_000, max_mounts: int = MAX_LINK_MOUNTS) -> None:
        self._root = os.path.realpath(root)
        self._max_entries = max_entries
        self._max_mounts = max_mounts
        self._found: dict[str, tuple[int, int]] | None = None
        self._binds: tuple[str, ...] = ()

    def find(self) -> tuple[str, ...]:
        """The paths to bind read-only (files, or their directories when there are many). Raises `TooManyPaths`."""
        if self._found is None or not self._still_valid(self._found):
            self._found = self._scan()
            self._binds = collapse(tuple(self._found), self._root, self._max_mounts)
        return self._binds

    @staticmethod
    def _still_valid(found: dict[str, tuple[int, int]]) -> bool:
        for path, identity in found.items():
            try:
                st = os.lstat(path)
            except OSError:
                return False
            if (st.st_dev, st.st_ino) != identity:
                return False
        return True

    def _scan(self) -> dict[str, tuple[int, int]]:
        names: dict[tuple[int, int], list[str]] = {}
        links: dict[tuple[int, int], int] = {}
        visited = 0
        stack = [self._root]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            visited += len(entries)
            if visited > self._max_entries:
                raise TooManyPaths(f"more than {self._max_entries} entries in the workspace to check for hard links")
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_nlink > 1:
                    identity = (st.st_dev, st.st_ino)
                    names.setdefault(identity, []).append(entry.path)
                    links[identity] = st.st_nlink
        return {path: identity for identity, paths in names.items() if len(paths) < links[identity] for path in paths}


def collapse(paths: tuple[str, ...], root: str, budget: int) -> tuple[str, ...]:
    """At most `budget` paths covering `paths`: replaced by their parents, level by level, never by `root` itself.
    Raises `TooManyPaths` when even that does not fit."""
    current = sorted(set(paths))
    while len(current) > budget:
        parents = {os.path.dirname(path) if os.path.dirname(path) != root else path for path in current}
        if parents == set(current):
            raise TooManyPaths(
                f"{len(paths)} files in the workspace are hard links to files outside it, spread too widely to keep "
                "read-only; re-create them as copies (e.g. UV_LINK_MODE=copy) or run with --sandbox-policy full"
            )
        current = sorted(path for path in parents if not _has_ancestor_in(path, parents))
    return tuple(current)


def _has_ancestor_in(path: str, paths: set[str]) -> bool:
    parent = os.path.dirname(path)
    while parent != path:
        if parent in paths:
            return True
        path, parent = parent, os.path.dirname(parent)
    return False
