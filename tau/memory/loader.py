"""The memory loader: reads memory files and expands their `@imports`, confined and capped (at start and on demand).

`MemoryLoader.unit(path, scope)` is one memory file followed by everything it imports (depth-first), each file once
per loader (by real path, and by content: a CLAUDE.md that repeats its AGENTS.md loads once). Rule files
(`.claude/rules/*.md`) load without their YAML frontmatter. `apply_cap(units, budget)` grants bytes most specific
first (the last unit first, an importing file before its imports); the file that crosses the cap is cut after its last
whole line, later ones are dropped, and every cut or drop is a warning that names the file.

Trust: `confine` (the repository root of an untrusted workspace, else None): a project file or an import whose real
path leaves it is skipped when the file that names it is the repository's own (inside `confine`); the user's own
memory files (outside it) import from anywhere. Skips are collected in `outside`; the caller says them once.

Pure: all I/O goes through the injected `HostFiles`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from tau.confine import inside
from tau.memory.files import HostFiles
from tau.memory.imports import find_imports, looks_like_path, resolve_import

__all__ = ["Entry", "MemoryLoader", "Scope", "apply_cap", "cut", "strip_frontmatter"]

Scope = Literal["user", "project", "local", "rule", "import", "nested"]


@dataclass
class Entry:
    """One file's bytes as read (before the cap), where it came from and what pulled it in."""

    path: str
    scope: Scope
    data: bytes
    imported_from: str | None
    rule_paths: tuple[str, ...] = ()


def strip_frontmatter(data: bytes) -> bytes:
    """`data` without a leading `---` ... `---` block (a rule file's `paths:` is not an instruction)."""
    text = data.removeprefix(b"\xef\xbb\xbf")
    if not text.startswith(b"---"):
        return data
    lines = text.splitlines(keepends=True)
    if lines[0].rstrip() != b"---":
        return data
    for index in range(1, len(lines)):
        if lines[index].rstrip() in (b"---", b"..."):
            return b"".join(lines[index + 1 :]).lstrip(b"\r\n")
    return data


class MemoryLoader:
    """Reads memory files and expands their imports depth-first, collecting warnings (see the module docstring)."""

    def __init__(self, fs: HostFiles, home: str, max_depth: int, confine: str | None = None) -> None:
        self.fs = fs
        self.home = home
        self.max_depth = max_depth
        self.confine = confine
        self.seen: set[str] = set()
        self.contents: set[str] = set()
        self.warnings: list[str] = []
        self.outside: list[str] = []

    def escapes(self, real: str, named_by: str | None) -> bool:
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

    def _new_content(self, data: bytes) -> bool:
        digest = hashlib.sha256(data.strip()).hexdigest()
        if digest in self.contents:
            return False
        self.contents.add(digest)
        return True

    def unit(self, path: str, scope: Scope, *, rule_paths: tuple[str, ...] = (), user: bool = False) -> list[Entry]:
        """`path` followed by everything it imports (depth-first), skipping files already loaded. `user`: the file
        is the user's own (scope "user", or a rule in `~/.claude/rules`), never confined."""
        real = self.fs.realpath(path)
        if real in self.seen:
            return []
        if not user and scope != "user" and self.escapes(real, None):
            self.outside.append(f"{path} (-> {real})")
            return []
        data = self.read(path)
        if data is not None and scope == "rule":
            data = strip_frontmatter(data)
        if data is None or not data.strip():
            return []
        self.seen.add(real)
        if not self._new_content(data):
            return []
        entries = [Entry(path, scope, data, None, rule_paths)]
        self._expand(entries[0], [real], entries)
        return entries

    def _expand(self, importer: Entry, stack: list[str], out: list[Entry]) -> None:
        text = importer.data.decode("utf-8", errors="replace")
        for reference in find_imports(text):
            target = resolve_import(reference, self.fs.realpath(importer.path), self.home)
            entry = self._import(reference, target, importer, stack)
            if entry is not None:
                out.append(entry)
                self._expand(entry, [*stack, self.fs.realpath(target)], out)

    def _import(self, reference: str, target: str, importer: Entry, stack: list[str]) -> Entry | None:
        if not self.fs.is_file(target):
            if looks_like_path(reference):
                self.warnings.append(f"memory import @{reference} in {importer.path}: {target} is not a file")
            return None
        real = self.fs.realpath(target)
        if self.escapes(real, stack[-1]):
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
        if not self._new_content(data):
            return None
        return Entry(target, "import", data, importer.path)


def cut(data: bytes, budget: int) -> bytes:
    """The longest prefix of `data` within `budget` bytes that ends a line; empty when no whole line fits."""
    return data[: data.rfind(b"\n", 0, budget) + 1]


def apply_cap(units: list[list[Entry]], budget: int, *, cap: int) -> tuple[dict[int, bytes], list[str]]:
    """Bytes kept per entry id, granting `budget` most specific first; and the warnings for cuts and drops (`cap` is
    the configured `memory.max_bytes`, named in them)."""
    kept: dict[int, bytes] = {}
    warnings: list[str] = []
    remaining = budget
    for unit in reversed(units):
        for entry in unit:
            data = entry.data if len(entry.data) <= remaining else cut(entry.data, remaining)
            remaining -= len(data)
            if not data:
                warnings.append(
                    f"memory file {entry.path} ({len(entry.data)} bytes) not loaded: over the {cap}-byte memory cap "
                    "(memory.max_bytes); raise it to load the file"
                )
                continue
            if len(data) < len(entry.data):
                warnings.append(
                    f"memory file {entry.path} truncated to {len(data)} of {len(entry.data)} bytes: over the "
                    f"{cap}-byte memory cap (memory.max_bytes); raise it to load the whole file"
                )
            kept[id(entry)] = data
    return kept, warnings
