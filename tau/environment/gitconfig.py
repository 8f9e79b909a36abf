"""A repository's git config without the keys that run programs: what read-only commands see instead of the real one.

Owns: finding the git directory of a workspace (`find_git_dirs`: walk up for `.git`, a directory or a `gitdir:`
file, with a worktree's `commondir`), parsing git-config syntax (`parse`), keeping only an allowlist of harmless keys
(`sanitise`) and writing them back with git-config quoting (`render`). No subprocess: git itself is never asked.

Why: `git status`, `git diff` and `git log -p` run programs the repository's own config names (core.fsmonitor,
core.pager, diff.external, diff/merge/filter drivers, gpg.program, include.path pulling in more...). A read-only
command the permission layer lets through without asking must not run them; the sandbox binds the sanitised copy
over `<commondir>/config` (and an empty file over `config.worktree`) — of the repository and of every submodule or
embedded repository git recurses into (`config_targets`: the index's gitlinks and `<commondir>/modules`), since git
reads each one's own config there. `core.worktree` survives only when it stays inside the repository's worktree.

Invariants: the output is produced from the parse, never copied, so whatever this parser believes is exactly what git
reads back: a key only survives if (section, subsection, name) is on the allowlist *as parsed here*; names that are
not plain git identifiers are dropped; every value is written double-quoted with `\\`, `"`, newline and tab escaped.
Lines this parser cannot make sense of are dropped, never passed through.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from tau.confine import inside
from tau.environment.gitindex import gitlinks
from tau.environment.masks import TooManyPaths

__all__ = [
    "ConfigTarget",
    "GitDirs",
    "config_targets",
    "find_git_dirs",
    "parse",
    "render",
    "sanitise",
    "sanitised_text",
]

_SECTION = re.compile(r"^[A-Za-z0-9.-]+$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_MAX_CONFIG_BYTES = 1 << 20

# (section, name) allowed for any subsection; "*" as name: every name of the section. Lower-case, as git compares.
_ALLOW_PLAIN = {
    ("core", "repositoryformatversion"),
    ("core", "bare"),
    ("core", "logallrefupdates"),
    ("core", "filemode"),
    ("core", "ignorecase"),
    ("core", "precomposeunicode"),
    ("core", "symlinks"),
    ("core", "autocrlf"),
    ("core", "eol"),
    ("core", "safecrlf"),
    ("core", "sharedrepository"),
    ("core", "quotepath"),
    ("core", "checkstat"),
    ("core", "trustctime"),
    ("core", "splitindex"),
    ("core", "untrackedcache"),
    ("core", "commentchar"),
    ("index", "version"),
    ("index", "skiphash"),
    ("index", "sparse"),
    ("init", "defaultbranch"),
    ("user", "name"),
    ("user", "email"),
}
_ALLOW_SECTION = {"extensions"}
_ALLOW_SUB = {("remote", "url"), ("remote", "fetch"), ("remote", "pushurl")}
_ALLOW_SUB_SECTION = {"branch"}


@dataclass(frozen=True)
class Entry:
    section: str  # lower-case
    subsection: str | None  # case kept
    name: str  # lower-case
    value: str | None  # None: a bare boolean key (`[core] bare`)


@dataclass(frozen=True)
class GitDirs:
    """Where a repository keeps its files: `git_dir` (per worktree) and `common_dir` (config, hooks, objects)."""

    git_dir: str
    common_dir: str
    worktree: str = ""  # the directory holding the `.git` that was found ("" when not known)


def _read_small(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_CONFIG_BYTES + 1)
    except OSError:
        return None
    return data.decode("utf-8", "replace") if len(data) <= _MAX_CONFIG_BYTES else None


def _resolve_dot_git(dot_git: str) -> str | None:
    if os.path.isdir(dot_git):
        return dot_git
    text = _read_small(dot_git)
    if text is None or not text.startswith("gitdir:"):
        return None
    target = text[len("gitdir:") :].strip()
    target = target if os.path.isabs(target) else os.path.join(os.path.dirname(dot_git), target)
    return target if os.path.isdir(target) else None


def find_git_dirs(start: str) -> GitDirs | None:
    """The repository `start` lives in (walking up to `/`), or None. Bare repositories are not looked for."""
    current = os.path.realpath(start)
    while True:
        git_dir = _resolve_dot_git(os.path.join(current, ".git"))
        if git_dir is not None:
            git_dir = os.path.realpath(git_dir)
            common = _read_small(os.path.join(git_dir, "commondir"))
            common_dir = git_dir
            if common is not None and common.strip():
                common_dir = os.path.realpath(os.path.join(git_dir, common.strip()))
            return GitDirs(git_dir, common_dir, current)
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


# -- parsing ----------------------------------------------------------------------------------------------------------


_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "\\": "\\", '"': '"'}


def _value(text: str) -> tuple[str, str] | None:
    """Parse a value from `text` (after `=`); returns (value, rest) where rest is what follows a continuation, or
    None when the value is malformed. A trailing backslash continues on the next line (signalled by rest='\\n')."""
    out: list[str] = []
    pending_space = ""
    quoted = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 == len(text):
                return "".join(out) + pending_space, "\n"  # continuation
            escaped = _ESCAPES.get(text[i + 1])
            if escaped is None:
                return None
            out.append(pending_space + escaped)
            pending_space = ""
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "#;":
            break
        elif not quoted and char in " \t":
            if out:
                pending_space += char
        else:
            out.append(pending_space + char)
            pending_space = ""
        i += 1
    if quoted:
        return None
    return "".join(out), ""


def _section_header(line: str) -> tuple[str, str | None] | None:
    match = re.match(r'^\[\s*([A-Za-z0-9.-]+)\s*(?:"((?:[^"\\\n]|\\.)*)")?\s*\]\s*(?:[#;].*)?$', line)
    if match is None:
        return None
    section, sub = match.group(1), match.group(2)
    if sub is not None:
        return section.lower(), re.sub(r"\\(.)", r"\1", sub)
    if "." in section:  # deprecated [section.subsection]: subsection lower-cased by git
        head, _, tail = section.partition(".")
        return head.lower(), tail.lower()
    return section.lower(), None


def parse(text: str) -> list[Entry]:
    """Every well-formed entry of a git config file, in order. Malformed lines are skipped."""
    entries: list[Entry] = []
    section: tuple[str, str | None] | None = None
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = _section_header(line)
            continue
        match = re.match(r"^([A-Za-z][A-Za-z0-9-]*)\s*(=?)(.*)$", line)
        if match is None or section is None:
            continue
        name, equals, rest = match.group(1).lower(), match.group(2), match.group(3)
        if not equals:
            if rest.strip() and rest.strip()[0] not in "#;":
                continue
            entries.append(Entry(section[0], section[1], name, None))
            continue
        raw = rest
        parsed = _value(raw)
        while parsed is not None and parsed[1] == "\n" and i < len(lines):
            raw = raw[:-1] + lines[i]
            i += 1
            parsed = _value(raw)
        if parsed is None or parsed[1]:
            continue
        entries.append(Entry(section[0], section[1], name, parsed[0]))
    return entries


# -- allowlist and rendering ------------------------------------------------------------------------------------------


def _allowed(entry: Entry) -> bool:
    if not _SECTION.match(entry.section) or not _NAME.match(entry.name):
        return False
    if entry.subsection is None:
        return (entry.section, entry.name) in _ALLOW_PLAIN or entry.section in _ALLOW_SECTION
    if "\n" in entry.subsection or "\x00" in entry.subsection:
        return False
    return (entry.section, entry.name) in _ALLOW_SUB or entry.section in _ALLOW_SUB_SECTION


def sanitise(entries: list[Entry], git_dir: str | None = None, bound: str | None = None) -> list[Entry]:
    """The entries on the allowlist; everything else (every key that can name a program) is dropped. `core.worktree`
    survives only when it leads (relative to `git_dir`) inside `bound`: a repository config pointing it at `$HOME`
    would make a read-only `git diff` read the home directory."""
    out = [entry for entry in entries if _allowed(entry) and (entry.value is None or _printable(entry.value))]
    if git_dir is not None and bound is not None:
        out += [entry for entry in entries if _worktree_within(entry, git_dir, bound)]
    return out


def _worktree_within(entry: Entry, git_dir: str, bound: str) -> bool:
    if (entry.section, entry.subsection, entry.name) != ("core", None, "worktree") or not entry.value:
        return False
    if not _printable(entry.value):
        return False
    return inside(os.path.realpath(os.path.join(git_dir, entry.value)), bound)


def _printable(value: str) -> bool:
    return all(char in "\t\n" or ord(char) >= 0x20 for char in value) and "\x7f" not in value


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped.replace(chr(8), chr(92) + "b")}"'


def render(entries: list[Entry]) -> str:
    """git-config text for `entries`, one section header per change of section."""
    out: list[str] = ["# sanitised by tau: keys that can run programs were removed"]
    current: tuple[str, str | None] | None = None
    for entry in entries:
        key = (entry.section, entry.subsection)
        if key != current:
            current = key
            if entry.subsection is None:
                out.append(f"[{entry.section}]")
            else:
                sub = entry.subsection.replace("\\", "\\\\").replace('"', '\\"')
                out.append(f'[{entry.section} "{sub}"]')
        out.append(f"\t{entry.name}" if entry.value is None else f"\t{entry.name} = {_quote(entry.value)}")
    return "\n".join(out) + "\n"


def sanitised_text(path: str, bound: str | None = None) -> str:
    """The sanitised form of the config file at `path` (a missing, unreadable or huge file gives an empty config);
    `bound`: the directory a `core.worktree` may lead into (None: it is dropped)."""
    text = _read_small(path)
    if text is None:
        return render([])
    return render(sanitise(parse(text), os.path.dirname(path), bound))


# -- every config git reads in a workspace ----------------------------------------------------------------------------

_MAX_NESTED = 256
_MAX_DEPTH = 6


@dataclass(frozen=True)
class ConfigTarget:
    """A config file git reads for the workspace: `blank` ones (config.worktree) are replaced by an empty file, the
    others by their sanitised text with `core.worktree` kept only inside `bound`."""

    path: str  # real path
    blank: bool
    bound: str


def _hash_len(common_dir: str) -> int:
    text = _read_small(os.path.join(common_dir, "config")) or ""
    for entry in parse(text):
        if (entry.section, entry.name) == ("extensions", "objectformat") and (entry.value or "").lower() == "sha256":
            return 32
    return 20


def _module_dirs(common_dir: str) -> list[str]:
    """The git directories under `<common_dir>/modules` (absorbed submodules, initialised or not; a name with `/` is
    nested folders), and theirs, recursively (bounded in depth; object stores are never walked)."""
    found: list[str] = []
    stack = [(os.path.join(common_dir, "modules"), 0)]
    while stack:
        directory, depth = stack.pop()
        try:
            entries = [entry for entry in os.scandir(directory) if entry.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for entry in entries:
            if os.path.isfile(os.path.join(entry.path, "config")):
                found.append(os.path.realpath(entry.path))
                stack.append((os.path.join(entry.path, "modules"), depth + 1))
            elif depth < _MAX_DEPTH * 2:
                stack.append((entry.path, depth + 1))
    return found


def _submodule_dirs(dirs: GitDirs) -> list[GitDirs]:
    """The repositories git may recurse into from `dirs`: its index's gitlinks that hold a `.git` (inside its
    worktree), and the git directories under `<common dir>/modules`."""
    found: list[GitDirs] = []
    if dirs.worktree:
        for rel in gitlinks(os.path.join(dirs.git_dir, "index"), _hash_len(dirs.common_dir)):
            top = os.path.realpath(os.path.join(dirs.worktree, rel))
            git_dir = _resolve_dot_git(os.path.join(top, ".git"))
            if git_dir is not None and inside(top, dirs.worktree) and top != dirs.worktree:
                real = os.path.realpath(git_dir)
                found.append(GitDirs(real, real, top))
    found += [GitDirs(path, path, "") for path in _module_dirs(dirs.common_dir)]
    return found


def config_targets(real_root: str) -> list[ConfigTarget]:
    """Every git config file a git command run in `real_root` may read from the repository: the repository's own
    config (and config.worktree), and those of the submodules and embedded repositories git recurses into,
    recursively. Raises `TooManyPaths` past 256 repositories."""
    top = find_git_dirs(real_root)
    if top is None:
        return []
    bound = top.worktree or real_root
    out: dict[str, ConfigTarget] = {}
    seen: set[str] = set()
    queue = [(top, 0)]
    while queue:
        dirs, depth = queue.pop()
        if dirs.git_dir in seen:
            continue
        seen.add(dirs.git_dir)
        if len(seen) > _MAX_NESTED:
            raise TooManyPaths(f"more than {_MAX_NESTED} nested git repositories in the workspace")
        config = os.path.join(dirs.common_dir, "config")
        if os.path.isfile(config):
            real = os.path.realpath(config)
            out.setdefault(real, ConfigTarget(real, blank=False, bound=bound))
        for directory in dict.fromkeys((dirs.git_dir, dirs.common_dir)):
            worktree = os.path.join(directory, "config.worktree")
            if os.path.isfile(worktree):
                real = os.path.realpath(worktree)
                out.setdefault(real, ConfigTarget(real, blank=True, bound=bound))
        if depth < _MAX_DEPTH:
            queue += [(sub, depth + 1) for sub in _submodule_dirs(dirs)]
    return list(out.values())
