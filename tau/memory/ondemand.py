"""On-demand memory: rule files with `paths:` and the memory files of folders below the working directory, loaded the
first time the model touches a matching path through the file tools — as Claude Code loads them.

`OnDemandMemory.touch(path)` (an absolute host path) returns what the path newly triggers, each thing at most once per
session:
- nested memory: for every folder strictly below `cwd` on the way down to the path (the path itself when it is a
  folder), that folder's files as at start (`tau.memory.bootstrap.directory_files`: TAU.md alone, else AGENTS.md,
  CLAUDE.md, .claude/CLAUDE.md, then CLAUDE.local.md) with their imports, shallower folders first;
- conditional rules: every `paths:` rule file whose globs match the path (`ConditionalRule.applies_to`).
Files already loaded (at start or on demand, by real path or by content) do not load again. Trust is as at start: an
untrusted repository's files and imports whose real path leaves it are refused and said in a warning.

The note (`OnDemandNote.render`) tags each file `<memory source="..." loaded="on demand" trigger="...">`: it goes to
the model as a context message and stays in the session's history, where `recall` finds it again when the session
is resumed (what a session loaded is re-derived from its history, not kept elsewhere).

Byte cap: on-demand files share `memory.max_bytes` with the files loaded at start (the budget left after them, and
after earlier on-demand loads); a file that does not fit is cut or not loaded, with a warning naming it.

Pure: all I/O goes through the injected `HostFiles`.
"""

from __future__ import annotations

import html
import posixpath
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from tau.config.trust import trust_hint
from tau.confine import inside
from tau.memory.bootstrap import (
    DEFAULT_MAX_IMPORT_DEPTH,
    BootstrapMemory,
    LoadedFile,
    directory_files,
    kept_files,
    render_section,
)
from tau.memory.files import HostFiles, LocalFiles
from tau.memory.loader import Entry, MemoryLoader, apply_cap

__all__ = ["ON_DEMAND", "OnDemandMemory", "OnDemandNote", "nested_memory_files"]

ON_DEMAND = "on demand"
_LOADED = re.compile(r'<memory source="([^"]*)"[^>\n]*? loaded="on demand"')
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__"})
_MAX_LISTED_DIRS = 20_000


@dataclass(frozen=True)
class OnDemandNote:
    """What one touch loaded: the files (in order), the touched path as the model named it, and warnings."""

    trigger: str
    files: list[LoadedFile]
    warnings: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The context message for the model; "" when nothing loaded."""
        if not self.files:
            return ""
        head = (
            f"Memory files for {self.trigger} (just touched) are now loaded. They hold standing instructions from the "
            "user and the project for work there; where they disagree with broader memory, these win."
        )
        sections = [render_section(f, (("loaded", ON_DEMAND), ("trigger", self.trigger))) for f in self.files]
        return "\n\n".join([head, *sections])

    def summary(self) -> str:
        """One line for a notice: which files loaded, and for what."""
        names = []
        for loaded in self.files:
            name = loaded.path
            if loaded.rule_paths:
                name += f" (paths: {', '.join(loaded.rule_paths)})"
            elif loaded.imported_from:
                name += " (import)"
            if loaded.truncated:
                name += f" (truncated to {loaded.bytes} of {loaded.size} bytes)"
            names.append(name)
        return f"memory loaded on demand for {self.trigger}: {', '.join(names)}"


class OnDemandMemory:
    """The session's on-demand memory: what may load, and what already did (see the module docstring)."""

    def __init__(
        self,
        boot: BootstrapMemory,
        *,
        cwd: str,
        home: str,
        files: HostFiles | None = None,
        trusted: bool = False,
        max_import_depth: int = DEFAULT_MAX_IMPORT_DEPTH,
    ) -> None:
        """What may load on demand after `boot` was loaded at start (its rules, what is left of its byte budget, the
        files it already loaded)."""
        project_root, rules, max_bytes, spent = boot.project_root, boot.conditional, boot.max_bytes, boot.total_bytes
        seen, contents = boot.seen, boot.contents
        self.fs = files or LocalFiles()
        self.cwd = posixpath.normpath(cwd)
        self.project_root = posixpath.normpath(project_root)
        self.rules = list(rules)
        self.trusted = trusted
        self.max_bytes = max_bytes
        self.remaining = max(0, max_bytes - spent)
        self.loader = MemoryLoader(
            self.fs, home, max_import_depth, confine=None if trusted else self.fs.realpath(self.project_root)
        )
        self.loader.seen.update(seen)
        self.loader.contents.update(contents)
        self.loaded: set[str] = set()  # memory files loaded on demand (this run, or recalled from history)
        self._visited: set[str] = set()  # folders whose memory files were looked at

    @classmethod
    def after(
        cls,
        boot: BootstrapMemory,
        *,
        cwd: str,
        home: str,
        files: HostFiles | None = None,
        trusted: bool = False,
        max_import_depth: int = DEFAULT_MAX_IMPORT_DEPTH,
    ) -> OnDemandMemory:
        """What may load on demand after `boot` was loaded at start (the constructor, by its old name)."""
        return cls(boot, cwd=cwd, home=home, files=files, trusted=trusted, max_import_depth=max_import_depth)

    def recall(self, texts: Iterable[str]) -> None:
        """Mark the on-demand files named in earlier notes (`texts`: the session's context messages) as loaded."""
        for text in texts:
            for match in _LOADED.finditer(text):
                path = html.unescape(match.group(1))
                if path not in self.loaded:
                    self.loaded.add(path)
                    self.loader.seen.add(self.fs.realpath(path))
            if 'loaded="on demand"' in text:
                self.remaining = max(0, self.remaining - len(text.encode("utf-8", errors="replace")))

    def _nested_dirs(self, path: str, is_dir: bool) -> list[str]:
        """Folders strictly below cwd on the way down to `path` (shallowest first) not looked at yet."""
        target = path if is_dir else posixpath.dirname(path)
        if target == self.cwd or not inside(target, self.cwd):
            return []
        dirs: list[str] = []
        here = target
        while here != self.cwd:
            dirs.append(here)
            here = posixpath.dirname(here)
        return [d for d in reversed(dirs) if d not in self._visited]

    def _units(self, path: str, is_dir: bool) -> list[list[Entry]]:
        units: list[list[Entry]] = []
        for directory in self._nested_dirs(path, is_dir):
            self._visited.add(directory)
            for file_path, scope in directory_files(self.fs, directory):
                if file_path not in self.loaded:
                    units.append(self.loader.unit(file_path, "nested" if scope == "project" else scope))
        for rule in self.rules:
            if rule.path not in self.loaded and rule.applies_to(path, is_dir=is_dir):
                self.loaded.add(rule.path)
                units.append(self.loader.unit(rule.path, "rule", rule_paths=rule.patterns, user=rule.user))
        return [unit for unit in units if unit]

    def touch(self, path: str, *, trigger: str | None = None) -> OnDemandNote:
        """What touching the absolute host `path` newly loads (`trigger`: how the model named it, for the note)."""
        path = posixpath.normpath(path)
        warnings_before, outside_before = len(self.loader.warnings), len(self.loader.outside)
        units = self._units(path, self.fs.is_dir(path))
        kept, cap_warnings = apply_cap(units, self.remaining, cap=self.max_bytes)
        files, _dropped = kept_files(units, kept)
        self.remaining -= sum(f.bytes for f in files)
        self.loaded.update(entry.path for unit in units for entry in unit)
        warnings = self.loader.warnings[warnings_before:] + cap_warnings
        outside = self.loader.outside[outside_before:]
        if outside:
            warnings.append(
                f"untrusted workspace: memory outside the repository not loaded: {', '.join(outside)} — "
                f"{trust_hint(self.project_root)}"
            )
        return OnDemandNote(trigger or path, files, warnings)

    def nested_files(self) -> list[str]:
        """The memory files of folders below cwd that would load on demand (for `tau memory show`)."""
        return nested_memory_files(self.fs, self.cwd)


def nested_memory_files(fs: HostFiles, cwd: str) -> list[str]:
    """Memory files in folders below `cwd` (breadth-first, sorted; hidden, `node_modules` and `__pycache__` folders and
    folders past the first 20,000 are not searched)."""
    root = posixpath.normpath(cwd)
    found: list[str] = []
    queue = deque([root])
    visited = {fs.realpath(root)}
    while queue and len(visited) <= _MAX_LISTED_DIRS:
        directory = queue.popleft()
        if directory != root:
            found.extend(path for path, _scope in directory_files(fs, directory))
        for name in sorted(fs.list_dir(directory)):
            child = posixpath.join(directory, name)
            if name.startswith(".") or name in _SKIPPED_DIRS or not fs.is_dir(child):
                continue
            real = fs.realpath(child)
            if real not in visited:  # a folder linked twice (or a link to a parent) is searched once
                visited.add(real)
                queue.append(child)
    return found
