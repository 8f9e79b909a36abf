"""Bootstrap memory: the TAU.md / AGENTS.md / CLAUDE.md files and rules a run loads into its instructions at start.

Discovery (`load_bootstrap_memory`), in the order the files are rendered, broadest first:

1. User level: `~/.claude/CLAUDE.md`, then `~/.claude/rules/**/*.md` without `paths:`, and `~/.codex/AGENTS.md` when
   `compat` is on (the default), then `~/.config/tau/TAU.md` (tau's own file renders after, and so takes precedence
   over, the borrowed ones).
2. Project: every directory from the project root down to `cwd`. The project root is the nearest directory at or
   above `cwd` holding `.git` (file or directory) or a `.tau/` directory (a `.tau/` in `home` is user configuration,
   not a project marker); without one, `cwd` alone. Per directory (`directory_files`): a non-empty `TAU.md` alone
   (tau's own file overrides the directory's borrowed ones, as Codex's AGENTS.override.md does), else each non-empty
   `AGENTS.md`, `CLAUDE.md`, `.claude/CLAUDE.md` (in that order; a file whose content repeats one already loaded, a
   CLAUDE.md symlinked or copied from AGENTS.md say, loads once), then `.claude/rules/**/*.md` without `paths:`
   (sorted), then `CLAUDE.local.md` (personal, after the shared files).
3. `@path` imports inside any of those (see `tau.memory.imports`, `tau.memory.loader`): relative to the importing
   file's real location (symlinks followed, so a dotfiles-managed `~/.claude/CLAUDE.md` imports its siblings), `~/`
   allowed, rendered right after the importing file. Cycles are detected and reported; depth is capped (default 5
   hops); a missing import that looks like a path is reported; a file reached twice (symlinks, diamonds) loads once.

What loads later, on demand (`tau.memory.ondemand`): rule files with `paths:` (collected here as `conditional`) and
the memory files of directories below `cwd`.

Byte cap (`memory.max_bytes`, default 256 KiB over the file contents): when the files do not all fit, the *most
specific* survive. Budget is granted in reverse render order (cwd's CLAUDE.local.md first, then cwd's files, then
each parent up to the root, then the user-level files), an importing file before its imports; the file that crosses
the cap is cut after its last whole line that fits (dropped when none fits), later ones are dropped. Every cut or
drop is a warning naming the file (a `notice` event in a run). Rationale: closer files override broader ones by
convention ("closest file wins"), so they carry the most information per byte about the work at hand.

Pure: all I/O goes through the injected `HostFiles`; `home` and `cwd` are arguments, no environment is read.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from tau.config.trust import trust_hint
from tau.memory.files import HostFiles, LocalFiles
from tau.memory.loader import Entry, MemoryLoader, Scope, apply_cap
from tau.memory.rules import RULES_DIR, ConditionalRule, discover_rules

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_IMPORT_DEPTH",
    "PROJECT_FILE_NAMES",
    "BootstrapMemory",
    "LoadedFile",
    "directory_files",
    "find_project_root",
    "load_bootstrap_memory",
    "render_section",
]

DEFAULT_MAX_BYTES = 256 * 1024
DEFAULT_MAX_IMPORT_DEPTH = 5
OVERRIDE_FILE_NAME = "TAU.md"
PROJECT_FILE_NAMES: tuple[str, ...] = ("AGENTS.md", "CLAUDE.md", posixpath.join(".claude", "CLAUDE.md"))
LOCAL_FILE_NAME = "CLAUDE.local.md"

_PREAMBLE = (
    "The memory files below hold standing instructions from the user and the project (AGENTS.md, CLAUDE.md, "
    "TAU.md, .claude/rules). They are listed broadest first; where they disagree, a later (more specific) file wins."
)


@dataclass(frozen=True)
class LoadedFile:
    """One memory file as it goes into the instructions (or an on-demand note).

    `bytes` counts what is included (after any cut), `size` the file's full length; `truncated` is true when the
    byte cap cut it. `imported_from` names the file whose `@path` reference pulled it in; `rule_paths` are the
    `paths:` globs of a conditional rule file.
    """

    path: str
    scope: Scope
    bytes: int
    size: int
    truncated: bool = False
    imported_from: str | None = None
    text: str = field(default="", repr=False, compare=False)
    rule_paths: tuple[str, ...] = ()


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def render_section(loaded: LoadedFile, extra: tuple[tuple[str, str], ...] = ()) -> str:
    """One `<memory source="...">` section (`extra`: more attributes); the body cannot close or open a section."""
    attributes = f'source="{_attribute(loaded.path)}"'
    if loaded.imported_from:
        attributes += f' imported_from="{_attribute(loaded.imported_from)}"'
    if loaded.rule_paths:
        attributes += f' paths="{_attribute(", ".join(loaded.rule_paths))}"'
    for key, value in extra:
        attributes += f' {key}="{_attribute(value)}"'
    body = loaded.text.replace("</memory>", "&lt;/memory&gt;").replace("<memory ", "&lt;memory ").rstrip("\n")
    if loaded.truncated:
        attributes += ' truncated="true"'
        body += f"\n[truncated by tau: {loaded.bytes} of {loaded.size} bytes shown; over the memory cap]"
    return f"<memory {attributes}>\n{body}\n</memory>"


def kept_files(units: list[list[Entry]], kept: dict[int, bytes]) -> tuple[list[LoadedFile], list[str]]:
    """The entries the cap kept, as `LoadedFile`s in render order, and the paths it dropped."""
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
                rule_paths=entry.rule_paths,
            )
        )
    return loaded, dropped


@dataclass(frozen=True)
class BootstrapMemory:
    """The loaded files in render order, what the cap dropped, and the warnings to report (one line each).

    `conditional` are the rule files with `paths:` (loaded on demand); `seen` and `contents` are the real paths and
    content digests already loaded, so on-demand loads do not repeat them."""

    files: list[LoadedFile]
    warnings: list[str]
    project_root: str
    dropped: list[str] = field(default_factory=list)
    max_bytes: int = DEFAULT_MAX_BYTES
    conditional: list[ConditionalRule] = field(default_factory=list)
    seen: frozenset[str] = frozenset()
    contents: frozenset[str] = frozenset()

    @property
    def total_bytes(self) -> int:
        return sum(loaded.bytes for loaded in self.files)

    def render(self) -> str:
        """The instructions text: one `<memory source="...">` section per file, or "" when nothing was loaded."""
        if not self.files:
            return ""
        return "\n\n".join([_PREAMBLE, *(render_section(loaded) for loaded in self.files)])


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


def _non_empty(fs: HostFiles, path: str) -> bool:
    if not fs.is_file(path):
        return False
    try:
        return bool(fs.read_bytes(path).strip())
    except OSError:
        return True  # let the loader report the read error


def directory_files(fs: HostFiles, directory: str) -> list[tuple[str, Scope]]:
    """A directory's own memory files in render order, rules aside: TAU.md alone, else AGENTS.md, CLAUDE.md and
    .claude/CLAUDE.md; then CLAUDE.local.md."""
    override = posixpath.join(directory, OVERRIDE_FILE_NAME)
    if _non_empty(fs, override):
        shared = [override]
    else:
        shared = [p for p in (posixpath.join(directory, name) for name in PROJECT_FILE_NAMES) if _non_empty(fs, p)]
    found: list[tuple[str, Scope]] = [(path, "project") for path in shared]
    local = posixpath.join(directory, LOCAL_FILE_NAME)
    if fs.is_file(local):
        found.append((local, "local"))
    return found


@dataclass
class _Discovery:
    """What a load found: files to load at start (in render order) and conditional rules."""

    start: list[tuple[str, Scope, bool]] = field(default_factory=list)  # (path, scope, the user's own)
    conditional: list[ConditionalRule] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def add_rules(self, fs: HostFiles, rules_dir: str, *, base: str, confine: str | None, user: bool) -> None:
        rules = discover_rules(fs, rules_dir, base=base, confine=confine, user=user)
        self.start.extend((path, "rule", user) for path in rules.always)
        self.conditional.extend(rules.conditional)
        self.warnings.extend(rules.warnings)
        self.outside.extend(rules.outside)


def _discover(fs: HostFiles, home: str, root: str, cwd: str, compat: bool, confine: str | None) -> _Discovery:
    found = _Discovery()
    user_files = [posixpath.join(home, ".claude", "CLAUDE.md")] if compat else []
    found.start.extend((path, "user", True) for path in user_files if fs.is_file(path))
    if compat:
        found.add_rules(fs, posixpath.join(home, RULES_DIR), base=root, confine=confine, user=True)
        codex = posixpath.join(home, ".codex", "AGENTS.md")
        if fs.is_file(codex):
            found.start.append((codex, "user", True))
    tau_user = posixpath.join(home, ".config", "tau", "TAU.md")
    if fs.is_file(tau_user):
        found.start.append((tau_user, "user", True))
    for directory in _dirs_root_to_cwd(root, cwd):
        files = directory_files(fs, directory)
        found.start.extend((path, scope, False) for path, scope in files if scope != "local")
        found.add_rules(fs, posixpath.join(directory, RULES_DIR), base=directory, confine=confine, user=False)
        found.start.extend((path, scope, False) for path, scope in files if scope == "local")
    return found


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

    Unless `trusted`, the repository's memory files, rules and their imports must stay inside the project root once
    symlinks are followed; what leaves it is skipped with one warning. Never raises for a file problem:
    unreadable files, broken imports, cycles and cuts become `warnings`.
    """
    fs = files or LocalFiles()
    cwd = posixpath.normpath(cwd)
    home = posixpath.normpath(home)
    root = project_root or find_project_root(cwd, fs, home=home)
    confine = None if trusted else fs.realpath(root)
    loader = MemoryLoader(fs, home, max_import_depth, confine=confine)
    found = _discover(fs, home, root, cwd, compat, confine)
    units = [loader.unit(path, scope, user=user) for path, scope, user in found.start]
    outside = found.outside + loader.outside
    warnings = found.warnings + loader.warnings
    if outside:
        warnings.append(
            f"untrusted workspace: memory outside the repository not loaded: {', '.join(outside)} — {trust_hint(root)}"
        )
    kept, cap_warnings = apply_cap(units, max_bytes, cap=max_bytes)
    loaded, dropped = kept_files(units, kept)
    return BootstrapMemory(
        files=loaded,
        warnings=warnings + cap_warnings,
        project_root=root,
        dropped=dropped,
        max_bytes=max_bytes,
        conditional=found.conditional,
        seen=frozenset(loader.seen),
        contents=frozenset(loader.contents),
    )
