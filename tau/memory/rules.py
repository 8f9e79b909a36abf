"""`.claude/rules/**/*.md`: modular memory files, always loaded, or loaded when a matching path is touched (`paths:`).

A rule file is markdown with optional YAML frontmatter. Without `paths:` it loads at run start like a CLAUDE.md of
its directory. With `paths:` (a list of globs, or one string of globs separated by commas outside braces; see
`tau.memory.pathglobs`) it is *conditional*: it loads the first time the model touches a matching path through the
file tools. Globs are relative to the directory holding `.claude/` (the project root for project rules; the project
root too for the user's `~/.claude/rules`). Other frontmatter keys (`description`, ...) are ignored; the body is what
loads.

Discovery walks `.claude/rules` recursively (subfolders, symlinked files and folders followed once each), sorted by
path, at most `MAX_RULE_FILES` files. An untrusted repository's rule file whose real path leaves the repository is
not read at all (not even its frontmatter) and is reported in `outside`. Frontmatter that is not valid YAML (an
unquoted `- **/*.ts` is a YAML alias) is read leniently: the `paths:` lines are taken as written.

Pure: all I/O goes through the injected `HostFiles`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

import yaml

from tau.confine import inside
from tau.memory.files import HostFiles
from tau.memory.pathglobs import PathGlobs, split_top_level

__all__ = ["MAX_RULE_FILES", "RULES_DIR", "ConditionalRule", "RuleFiles", "discover_rules", "rule_paths"]

RULES_DIR = posixpath.join(".claude", "rules")
MAX_RULE_FILES = 500
_MAX_DEPTH = 12


@dataclass(frozen=True)
class ConditionalRule:
    """A rule file with `paths:`: loads when the model first touches a path under `base` that its globs match."""

    path: str
    base: str
    globs: PathGlobs = field(compare=False)
    user: bool = False

    @property
    def patterns(self) -> tuple[str, ...]:
        return self.globs.patterns

    def applies_to(self, path: str, *, is_dir: bool = False) -> bool:
        """Whether the absolute host `path` is under `base` and matched by the globs."""
        if not inside(path, self.base):
            return False
        return self.globs.matches(posixpath.relpath(path, self.base), is_dir=is_dir)


@dataclass
class RuleFiles:
    """One rules directory's files: those that load at start, the conditional ones, and what was refused."""

    always: list[str] = field(default_factory=list)
    conditional: list[ConditionalRule] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


def _frontmatter_text(data: bytes) -> str | None:
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = text.splitlines()
    if not lines or lines[0].rstrip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return "\n".join(lines[1:index])
    return None


def _lenient_paths(frontmatter: str) -> Any:
    """The `paths:` value read line by line, for frontmatter YAML refuses (unquoted globs starting with `*`)."""
    lines = frontmatter.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("paths:"):
            continue
        inline = line[len("paths:") :].strip()
        if inline:
            return inline.strip("'\"")
        items: list[str] = []
        for item in lines[index + 1 :]:
            stripped = item.strip()
            if not stripped.startswith("- "):
                break
            items.append(stripped[2:].strip().strip("'\""))
        return items
    return None


def rule_paths(data: bytes) -> tuple[tuple[str, ...], str | None]:
    """(the `paths:` globs of a rule file, or () when it has none; a problem to report, or None)."""
    frontmatter = _frontmatter_text(data)
    if frontmatter is None:
        return (), None
    problem = None
    try:
        parsed = yaml.safe_load(frontmatter)
        value = parsed.get("paths") if isinstance(parsed, dict) else None
    except yaml.YAMLError:
        value = _lenient_paths(frontmatter)
        problem = "frontmatter is not valid YAML (quote globs that start with `*`); read its paths: leniently"
    if value is None:
        return (), problem
    if isinstance(value, str):
        return tuple(p.strip() for p in split_top_level(value) if p.strip()), problem
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip()), problem
    return (), "paths: must be a list of globs or a comma-separated string; loaded as an unconditional rule"


def _walk(fs: HostFiles, directory: str, found: list[str], visited: set[str], depth: int) -> None:
    real = fs.realpath(directory)
    if real in visited or depth > _MAX_DEPTH or len(found) > MAX_RULE_FILES:
        return
    visited.add(real)
    for name in sorted(fs.list_dir(directory)):
        path = posixpath.join(directory, name)
        if name.startswith("."):
            continue
        if fs.is_dir(path):
            _walk(fs, path, found, visited, depth + 1)
        elif name.endswith(".md") and fs.is_file(path):
            found.append(path)


def discover_rules(
    fs: HostFiles, rules_dir: str, *, base: str, confine: str | None = None, user: bool = False
) -> RuleFiles:
    """The rule files under `rules_dir` (see the module docstring); `confine` is the untrusted repository's root."""
    result = RuleFiles()
    if not fs.is_dir(rules_dir):
        return result
    found: list[str] = []
    _walk(fs, rules_dir, found, set(), 0)
    if len(found) > MAX_RULE_FILES:
        result.warnings.append(f"memory rules in {rules_dir}: more than {MAX_RULE_FILES} files; the rest not read")
        found = found[:MAX_RULE_FILES]
    for path in found:
        real = fs.realpath(path)
        if confine is not None and not user and not inside(real, confine):
            result.outside.append(f"{path} (-> {real})")
            continue
        try:
            data = fs.read_bytes(path)
        except OSError as error:
            result.warnings.append(f"memory file {path} could not be read: {error.strerror or error}")
            continue
        patterns, problem = rule_paths(data)
        if problem is not None:
            result.warnings.append(f"memory rule {path}: {problem}")
        if patterns:
            result.conditional.append(ConditionalRule(path, base, PathGlobs.compile(patterns), user=user))
        else:
            result.always.append(path)
    return result
