"""Skill discovery and the level-1 listing: which SKILL.md files a run offers, and how they fit in the instructions.

Discovery (`discover_skills`) scans skill libraries in precedence order, highest first:

1. each directory from `cwd` up to the project root (nearest first), and in each `.tau/skills`, `.claude/skills`,
   `.agents/skills` (in that order);
2. the user level: `~/.tau/skills`, `~/.config/tau/skills`, `~/.claude/skills`, `~/.agents/skills`.

A skill is an immediate child directory holding `SKILL.md`, scanned in name order. On a name clash the first found
wins (nearest project beats farther project beats user; note Claude Code lets personal skills win over project ones,
we follow the issue: the project the job runs in is the more specific source). The loser is recorded in `shadowed`,
not warned about; the same file reached twice (symlinked libraries) counts once. A malformed SKILL.md is skipped
with a warning, never fatal. In an untrusted repository (`confined`), project skills whose real path leads outside the
project (a symlinked library, skill directory or SKILL.md) are skipped with a warning; the user's own are not.

Listing (`SkillCatalog.render_listing`): name (with its `argument-hint`) + description of each model-invocable skill,
within a character budget (`listing_budget`: ≈2% of the context window at ~4 chars/token, at most 8,000). Over
budget, descriptions are shortened first (uniformly, to no less than `MIN_DESCRIPTION`), then skills are omitted from
the end (lowest precedence first); omitted names are returned for the caller to report. Omitted skills can still be
loaded.

I/O: host reads go through the injected `SkillFiles`; `cwd`, `home`, `project_root`, `workspace_root` are arguments.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Literal

from tau.confine import inside
from tau.skills.files import LocalFiles, SkillFiles
from tau.skills.parse import SkillMeta, SkillParseError, parse_skill_md

__all__ = [
    "MAX_LISTING_CHARS",
    "MIN_DESCRIPTION",
    "PROJECT_SKILL_DIRS",
    "USER_SKILL_DIRS",
    "ShadowedSkill",
    "Skill",
    "SkillCatalog",
    "discover_skills",
    "listed_name",
    "listing_budget",
    "listing_warning",
]

PROJECT_SKILL_DIRS: tuple[str, ...] = (".tau/skills", ".claude/skills", ".agents/skills")
USER_SKILL_DIRS: tuple[str, ...] = (".tau/skills", ".config/tau/skills", ".claude/skills", ".agents/skills")
MAX_LISTING_CHARS = 8_000
MIN_DESCRIPTION = 60
SKILL_FILE = "SKILL.md"

_HEADER = (
    "<skills>\nSkills are packaged instructions for specific tasks. When a task matches a skill's description, "
    "load the skill with the `skill` tool (skill(name=...), with arguments=... when it takes any) before starting, "
    "then follow it.\n"
)
_FOOTER = "</skills>"

Scope = Literal["project", "user"]


@dataclass(frozen=True)
class Skill:
    """One usable skill. Paths are host paths; `workspace_dir` is the directory relative to the workspace root when
    the skill lives inside the workspace (so the model's `read` reaches it), else None."""

    meta: SkillMeta
    path: str
    directory: str
    scope: Scope
    library: str
    body: str = field(repr=False)
    workspace_dir: str | None = None

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def description(self) -> str:
        return self.meta.description


@dataclass(frozen=True)
class ShadowedSkill:
    """A valid skill hidden by an earlier one with the same name."""

    name: str
    path: str
    shadowed_by: str


@dataclass
class SkillCatalog:
    """The skills a run offers, in precedence order, and the warnings discovery produced (one line each)."""

    skills: list[Skill]
    warnings: list[str] = field(default_factory=list)
    shadowed: list[ShadowedSkill] = field(default_factory=list)
    files: SkillFiles = field(default_factory=LocalFiles, repr=False)

    def get(self, name: str) -> Skill | None:
        return next((skill for skill in self.skills if skill.name == name), None)

    @property
    def model_skills(self) -> list[Skill]:
        """The skills the model may load (not `disable-model-invocation`)."""
        return [skill for skill in self.skills if skill.meta.model_invocable]

    def render_listing(self, budget_chars: int = MAX_LISTING_CHARS) -> tuple[str, list[str]]:
        """(instructions text, names omitted for the budget). Text is "" when no skill is offered or fits."""
        skills = self.model_skills
        if not skills:
            return "", []
        longest = max(len(skill.description) for skill in skills)
        if len(_listing(skills, longest)) <= budget_chars:
            return _listing(skills, longest), []
        limit = _largest_fitting_limit(skills, budget_chars)
        if limit is not None:
            return _listing(skills, limit), []
        kept = list(skills)
        while kept and len(_listing(kept, MIN_DESCRIPTION)) > budget_chars:
            kept.pop()
        omitted = [skill.name for skill in skills[len(kept) :]]
        return (_listing(kept, MIN_DESCRIPTION) if kept else ""), omitted


def listing_budget(context_window_tokens: int) -> int:
    """≈2% of the context window in characters (4 chars/token), at most `MAX_LISTING_CHARS`."""
    return min(MAX_LISTING_CHARS, context_window_tokens * 4 * 2 // 100)


def listing_warning(omitted: list[str], budget_chars: int) -> str | None:
    """The warning line for skills left out of the listing, or None when nothing was omitted."""
    if not omitted:
        return None
    return (
        f"{len(omitted)} skill(s) left out of the instructions (skill listing budget {budget_chars} chars): "
        f"{', '.join(omitted)}; the skill tool can still load them by name"
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def listed_name(skill: Skill) -> str:
    """The skill's name as listings show it: with its `argument-hint`, when it has one."""
    hint = skill.meta.argument_hint
    return f"{skill.name} (arguments: {' '.join(hint.split())})" if hint else skill.name


def _listing(skills: list[Skill], limit: int) -> str:
    lines = "".join(f"- {listed_name(skill)}: {_shorten(skill.description, limit)}\n" for skill in skills)
    return f"{_HEADER}{lines}{_FOOTER}"


def _largest_fitting_limit(skills: list[Skill], budget: int) -> int | None:
    """The longest description length >= MIN_DESCRIPTION at which every skill fits, or None."""
    low, high = MIN_DESCRIPTION, max(len(skill.description) for skill in skills)
    if len(_listing(skills, low)) > budget:
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if len(_listing(skills, middle)) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def _ancestors(cwd: str, root: str | None) -> list[str]:
    """cwd, then each parent up to and including `root` (only cwd when root is None or not an ancestor)."""
    dirs = [cwd]
    if root is None or not inside(cwd, root):
        return dirs
    while dirs[-1] != root:
        dirs.append(posixpath.dirname(dirs[-1]))
    return dirs


def _libraries(cwd: str, home: str, project_root: str | None) -> list[tuple[str, Scope]]:
    project: list[tuple[str, Scope]] = [
        (posixpath.join(directory, sub), "project")
        for directory in _ancestors(cwd, project_root)
        for sub in PROJECT_SKILL_DIRS
    ]
    if not posixpath.isabs(home):  # no home (""): no user libraries, never paths relative to the process's cwd
        return project
    user: list[tuple[str, Scope]] = [(posixpath.join(home, sub), "user") for sub in USER_SKILL_DIRS]
    return project + user


class _Scanner:
    def __init__(self, fs: SkillFiles, workspace_root: str | None, bound: str | None = None) -> None:
        self.fs = fs
        self.workspace_root = fs.realpath(workspace_root) if workspace_root else None
        self.bound = fs.realpath(bound) if bound else None  # confined: project skills must stay under it
        self.catalog = SkillCatalog(skills=[], files=fs)
        self.seen_files: set[str] = set()
        self.seen_libraries: set[str] = set()

    def _leaves(self, path: str, scope: Scope) -> str | None:
        """The real path of a project `path` that leads outside the project when confined, else None."""
        if self.bound is None or scope != "project":
            return None
        real = self.fs.realpath(path)
        return None if inside(real, self.bound) else real

    def library(self, library: str, scope: Scope) -> None:
        real = self.fs.realpath(library)
        if real in self.seen_libraries or not self.fs.is_dir(library):
            return
        self.seen_libraries.add(real)
        if (outside := self._leaves(library, scope)) is not None:
            self.catalog.warnings.append(f"skill library {library} skipped: it leads outside the project ({outside})")
            return
        try:
            children = sorted(self.fs.list_dir(library))
        except OSError as error:
            self.catalog.warnings.append(f"skill library {library} could not be listed: {error.strerror or error}")
            return
        for child in children:
            skill_file = posixpath.join(library, child, SKILL_FILE)
            if self.fs.is_file(skill_file):
                self.skill(skill_file, library, scope)

    def skill(self, skill_file: str, library: str, scope: Scope) -> None:
        real = self.fs.realpath(skill_file)
        if real in self.seen_files:
            return
        self.seen_files.add(real)
        directory = posixpath.dirname(skill_file)
        if (outside := self._leaves(directory, scope) or self._leaves(skill_file, scope)) is not None:
            self.catalog.warnings.append(f"skill {skill_file} skipped: it leads outside the project ({outside})")
            return
        try:
            text = self.fs.read_bytes(skill_file).decode("utf-8")
            meta, body, soft = parse_skill_md(text, directory_name=posixpath.basename(directory))
        except (OSError, UnicodeDecodeError, SkillParseError) as error:
            self.catalog.warnings.append(f"skill {skill_file} skipped: {_reason(error)}")
            return
        self.catalog.warnings.extend(f"skill {skill_file}: {warning}" for warning in soft)
        existing = self.catalog.get(meta.name)
        if existing is not None:
            self.catalog.shadowed.append(ShadowedSkill(meta.name, skill_file, existing.path))
            return
        self.catalog.skills.append(
            Skill(meta, skill_file, directory, scope, library, body, self._workspace_dir(directory))
        )

    def _workspace_dir(self, directory: str) -> str | None:
        if self.workspace_root is None:
            return None
        real = self.fs.realpath(directory)
        root = self.workspace_root
        if real == root or not inside(real, root):
            return None
        return posixpath.relpath(real, root)


def _reason(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(error, OSError):
        return f"cannot be read ({error.strerror or error})"
    return str(error)


def discover_skills(
    *,
    cwd: str,
    home: str,
    project_root: str | None = None,
    workspace_root: str | None = None,
    files: SkillFiles | None = None,
    confined: bool = False,
) -> SkillCatalog:
    """Every usable skill for a run in `cwd`, highest precedence first (see the module docstring).

    `project_root` bounds the upward walk (None: `cwd` only); `workspace_root` (the run's workspace on the host)
    decides which skills the model's file tools can reach. `confined` (an untrusted repository): a project library,
    skill directory or SKILL.md whose real path leads outside the project (`project_root`, else `cwd`) is skipped
    with a warning. Never raises for a bad skill: it becomes a warning.
    """
    fs = files or LocalFiles()
    scanner = _Scanner(fs, workspace_root, (project_root or cwd) if confined else None)
    for library, scope in _libraries(posixpath.normpath(cwd), posixpath.normpath(home) if home else "", project_root):
        scanner.library(library, scope)
    return scanner.catalog
