"""Bootstrap memory: the TAU.md / AGENTS.md / CLAUDE.md files a run loads into its instructions.

Discovery (`load_bootstrap_memory`), in the order the files are rendered, broadest first:

1. User level: `~/.claude/CLAUDE.md` and `~/.codex/AGENTS.md` when `compat` is on (the default), then
   `~/.config/tau/TAU.md` (tau's own file renders after, and so takes precedence over, the borrowed ones).
2. Project: every directory from the project root down to `cwd`. The project root is the nearest directory at or
   above `cwd` holding `.git` (file or directory) or a `.tau/` directory (a `.tau/` in `home` is user configuration,
   not a project marker); without one, `cwd` alone. Per directory, the first non-empty of `TAU.md` > `AGENTS.md` >
   `CLAUDE.md`, then `CLAUDE.local.md` (personal, after the shared file).
3. `@path` imports inside any of those (see `tau.memory.imports`): relative to the importing file's real location
   (symlinks followed, so a dotfiles-managed `~/.claude/CLAUDE.md` imports its siblings), `~/` allowed,
   rendered right after the importing file. Cycles are detected and reported; depth is capped (default 5 hops); a
   missing import that looks like a path is reported; a file reached twice (symlinks, diamonds) loads once.

Byte cap (default 32 KiB over the file contents): when the files do not all fit, the *most specific* survive. Budget
is granted in reverse render order (cwd's CLAUDE.local.md first, then cwd's file, then each parent up to the root,
then the user-level files), an importing file before its imports; the file that crosses the cap is cut after its last
whole line that fits (dropped when none fits), later ones are dropped. Every cut or drop is a warning. Rationale:
closer files override broader ones by convention ("closest file wins"), so they carry the most information per byte
about the work at hand; Codex's opposite order is an artifact of reading root-first.

Pure: all I/O goes through the injected `HostFiles`; `home` and `cwd` are arguments, no environment is read.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Literal

from tau.config.trust import trust_hint
from tau.confine import inside
from tau.memory.files import HostFiles, LocalFiles
from tau.memory.imports import find_imports, looks_like_path, resolve_import

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_IMPORT_DEPTH",
    "PROJECT_FILE_NAMES",
    "BootstrapMemory",
    "LoadedFile",
    "find_project_root",
    "load_bootstrap_memory",
]

DEFAULT_MAX_BYTES = 32 * 1024
DEFAULT_MAX_IMPORT_DEPTH = 5
PROJECT_FILE_NAMES: tuple[str, ...] = ("TAU.md", "AGENTS.md", "CLAUDE.md")
LOCAL_FILE_NAME = "CLAUDE.local.md"

Scope = Literal["user", "project", "local", "import"]

_PREAMBLE = (
    "The memory files below hold standing instructions from the user and the project (AGENTS.md, CLAUDE.md, "
    "TAU.md). They are listed broadest first; where they disagree, a later (more specific) file wins."
)


@dataclass(frozen=True)
class LoadedFile:
    """One memory file as it goes into the instructions.

    `bytes` counts what is included (after any cut), `size` the file's full length; `truncated` is true when the
    byte cap cut it. `imported_from` names the file whose `@path` reference pulled it in.
    """

    path: str
    scope: Scope
    bytes: int
    size: int
    truncated: bool = False
    imported_from: str | None = None
    text: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True)
class BootstrapMemory:
    """The loaded files in render order, what the cap dropped, and the warnings to report (one line each)."""

    files: list[LoadedFile]
    warnings: list[str]
    project_root: str
    dropped: list[str] = field(default_factory=list)
    max_bytes: int = DEFAULT_MAX_BYTES

    @property
    def total_bytes(self) -> int:
        return sum(loaded.bytes for loaded in self.files)

    def render(self) -> str:
        """The instructions text: one `<memory source="...">` section per file, or "" when nothing was loaded."""
        if not self.files:
            return ""
        sections = [_PREAMBLE]
        for loaded in self.files:
            attributes = f'source="{loaded.path}"'
            if loaded.imported_from:
                attributes += f' imported_from="{loaded.imported_from}"'
            body = loaded.text.replace("</memory>", "&lt;/memory&gt;").rstrip("\n")
            if loaded.truncated:
                attributes += ' truncated="true"'
                body += f"\n[truncated by tau: {loaded.bytes} of {loaded.size} bytes shown]"
            sections.append(f"<memory {attributes}>\n{body}\n</memory>")
        return "\n\n".join(sections)


@dataclass
class _Entry:
    path: str
    scope: Scope
    data: bytes
    imported_from: str | None


def find_project_root(cwd: str, files: HostFiles | None = None, *, home: str | None = None) -> str:
    """The nearest directory at or above `cwd` holding `.git` or `.tau/` (`home`'s `.tau/` does not count), else cwd."""
    fs = files or LocalFiles()
    here = posixpath.normpath(cwd)
    home_dir = posixpath.normpath(home) if home else None
    while True:
        if fs.exists(posixpath.join(here, ".git")):
            return here
        if here != home_dir and fs.is_dir(posixpath.join(here, ".tau")):
            return here
        parent = posixpath.dirname(here)
        if parent == here:
            return posixpath.normpath(cwd)
        here = parent


def _dirs_root_to_cwd(root: str, cwd: str) -> list[str]:
    dirs = [cwd]
    while dirs[-1] != root and posixpath.dirname(dirs[-1]) != dirs[-1]:
        dirs.append(posixpath.dirname(dirs[-1]))
    return list(reversed(dirs))


class _Loader:
    """Reads hierarchy files and expands their imports depth-first, collecting warnings.

    `confine` (the repository root of an untrusted workspace, else None): a project file or an import whose real
    path leaves it is skipped when the file that names it is the repository's own (inside `confine`); the user's
    own memory files (outside it) import from anywhere. Skips are collected in `outside`."""

    def __init__(self, fs: HostFiles, home: str, max_depth: int, confine: str | None = None) -> None:
        self.fs = fs
        self.home = home
        self.max_depth = max_depth
        self.confine = confine
        self.seen: set[str] = set()
        self.warnings: list[str] = []
        self.outside: list[str] = []

    def _escapes(self, real: str, named_by: str | None) -> bool:
        """Whether `real` leaves the repository although the repository named it (`named_by`: the importer's real
        path; None for a hierarchy file, which the repository always names)."""
        if self.confine is None or inside(real, self.confine):
            return False
        return named_by is None or inside(named_by, self.confine)

    def read(self, path: str) -> bytes | None:
        try:
            return self.fs.read_bytes(path)
        except OSError as error:
            self.warnings.append(f"memory file {path} could not be read: {error.strerror or error}")
            return None

    def unit(self, path: str, scope: Scope) -> list[_Entry]:
        """`path` followed by everything it imports (depth-first), skipping files already loaded."""
        real = self.fs.realpath(path)
        if real in self.seen:
            return []
        if scope != "user" and self._escapes(real, None):
            self.outside.append(f"{path} (-> {real})")
            return []
        data = self.read(path)
        if data is None or not data.strip():
            return []
        self.seen.add(real)
        entries = [_Entry(path, scope, data, None)]
        self._expand(entries[0], [real], entries)
        return entries

    def _expand(self, importer: _Entry, stack: list[str], out: list[_Entry]) -> None:
        text = importer.data.decode("utf-8", errors="replace")
        for reference in find_imports(text):
            target = resolve_import(reference, self.fs.realpath(importer.path), self.home)
            entry = self._import(reference, target, importer, stack)
            if entry is not None:
                out.append(entry)
                self._expand(entry, [*stack, self.fs.realpath(target)], out)

    def _import(self, reference: str, target: str, importer: _Entry, stack: list[str]) -> _Entry | None:
        if not self.fs.is_file(target):
            if looks_like_path(reference):
                self.warnings.append(f"memory import @{reference} in {importer.path}: {target} is not a file")
            return None
        real = self.fs.realpath(target)
        if self._escapes(real, stack[-1]):
            self.outside.append(f"@{reference} in {importer.path} (-> {real})")
            return None
        if real in stack:
            chain = " -> ".join([*stack[stack.index(real) :], real])
            self.warnings.append(f"memory import cycle skipped: {chain}")
            return None
        if real in self.seen:
            return None
        if len(stack) > self.max_depth:
            self.warnings.append(
                f"memory import @{reference} in {importer.path} not loaded: import depth limit ({self.max_depth})"
            )
            return None
        data = self.read(target)
        if data is None:
            return None
        self.seen.add(real)
        return _Entry(target, "import", data, importer.path)


def _candidates(fs: HostFiles, home: str, root: str, cwd: str, compat: bool) -> list[tuple[str, Scope]]:
    user = [posixpath.join(home, ".claude", "CLAUDE.md"), posixpath.join(home, ".codex", "AGENTS.md")] if compat else []
    user.append(posixpath.join(home, ".config", "tau", "TAU.md"))
    found: list[tuple[str, Scope]] = [(path, "user") for path in user if fs.is_file(path)]
    for directory in _dirs_root_to_cwd(root, cwd):
        for name in PROJECT_FILE_NAMES:
            path = posixpath.join(directory, name)
            if fs.is_file(path) and _non_empty(fs, path):
                found.append((path, "project"))
                break
        local = posixpath.join(directory, LOCAL_FILE_NAME)
        if fs.is_file(local):
            found.append((local, "local"))
    return found


def _non_empty(fs: HostFiles, path: str) -> bool:
    try:
        return bool(fs.read_bytes(path).strip())
    except OSError:
        return True  # let the loader report the read error


def _cut(data: bytes, budget: int) -> bytes:
    """The longest prefix of `data` within `budget` bytes that ends a line; empty when no whole line fits."""
    return data[: data.rfind(b"\n", 0, budget) + 1]


def _apply_cap(units: list[list[_Entry]], max_bytes: int) -> tuple[dict[int, bytes], list[str]]:
    """Bytes kept per entry id, granting budget most specific first; and the warnings for cuts and drops."""
    kept: dict[int, bytes] = {}
    warnings: list[str] = []
    remaining = max_bytes
    for unit in reversed(units):
        for entry in unit:
            data = entry.data if len(entry.data) <= remaining else _cut(entry.data, remaining)
            remaining -= len(data)
            if not data:
                warnings.append(f"memory file {entry.path} dropped: over the {max_bytes}-byte memory cap")
                continue
            if len(data) < len(entry.data):
                warnings.append(
                    f"memory file {entry.path} truncated to {len(data)} of {len(entry.data)} bytes "
                    f"(memory cap {max_bytes} bytes)"
                )
            kept[id(entry)] = data
    return kept, warnings


def load_bootstrap_memory(
    *,
    cwd: str,
    home: str,
    files: HostFiles | None = None,
    compat: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_import_depth: int = DEFAULT_MAX_IMPORT_DEPTH,
    project_root: str | None = None,
    trusted: bool = False,
) -> BootstrapMemory:
    """Discover, read, expand and cap the bootstrap memory for a run started in `cwd` (see the module docstring).

    Unless `trusted`, the repository's memory files and their imports must stay inside the project root once
    symlinks are followed; what leaves it is skipped with one warning. Never raises for a file problem:
    unreadable files, broken imports, cycles and cuts become `warnings`.
    """
    fs = files or LocalFiles()
    cwd = posixpath.normpath(cwd)
    home = posixpath.normpath(home)
    root = project_root or find_project_root(cwd, fs, home=home)
    loader = _Loader(fs, home, max_import_depth, confine=None if trusted else fs.realpath(root))
    units = [loader.unit(path, scope) for path, scope in _candidates(fs, home, root, cwd, compat)]
    if loader.outside:
        loader.warnings.append(
            f"untrusted workspace: memory outside the repository not loaded: {', '.join(loader.outside)} — "
            f"{trust_hint(root)}"
        )
    kept, cap_warnings = _apply_cap(units, max_bytes)
    loaded: list[LoadedFile] = []
    dropped: list[str] = []
    for entry in (entry for unit in units for entry in unit):
        data = kept.get(id(entry))
        if data is None:
            dropped.append(entry.path)
            continue
        loaded.append(
            LoadedFile(
                path=entry.path,
                scope=entry.scope,
                bytes=len(data),
                size=len(entry.data),
                truncated=len(data) < len(entry.data),
                imported_from=entry.imported_from,
                text=data.decode("utf-8", errors="replace"),
            )
        )
    return BootstrapMemory(
        files=loaded,
        warnings=loader.warnings + cap_warnings,
        project_root=root,
        dropped=dropped,
        max_bytes=max_bytes,
    )
