"""Ignore rules for workspace checkpoints: a documented subset of `.gitignore` syntax, also read from `.tauignore`.

Supported (git's meaning): blank lines and `#` comments; `\\#` / `\\!` escapes; trailing-space trimming; `!`
negation (the last matching rule wins); a trailing `/` matches directories only; a pattern with a `/` at its start
or middle is anchored to the directory of the file that holds it, one without matches a name at any depth; `*`,
`?`, `[...]` and `**` (`**/x`, `x/**`, `a/**/b`). Files in subdirectories (`sub/.gitignore`) apply below them. As
in git, a file inside an ignored directory cannot be re-included (the walk does not enter ignored directories).
Not supported: `core.excludesFile`, `.git/info/exclude`, `\\ ` trailing-space escapes.

Always skipped whatever the files say: every `.git/` directory and the project state directory `.tau/state/`.
Pure: `parse` takes text; the scans (checkpoints.py) read the files through the workspace. `ScopeFilter` answers
"is this listed path in scope" for a flat listing (the `find` scan), memoizing directory verdicts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tau.tools.globs import translate

__all__ = ["IGNORE_FILES", "IgnoreRules", "Rule", "ScopeFilter", "parse"]

IGNORE_FILES = (".gitignore", ".tauignore")
ALWAYS_SKIPPED_NAMES = frozenset({".git"})
ALWAYS_SKIPPED_PATHS = frozenset({".tau/state"})


@dataclass(frozen=True)
class Rule:
    base: str  # directory of the ignore file, relative to the root ("" = root)
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool
    anchored: bool


def _rule(line: str, base: str) -> Rule | None:
    text = line.rstrip("\n").rstrip("\r")
    text = text.rstrip(" ") if not text.endswith("\\ ") else text
    if not text or text.startswith("#"):
        return None
    negate = text.startswith("!")
    if negate or text.startswith(("\\#", "\\!")):
        text = text[1:]
    dir_only = text.endswith("/")
    text = text.rstrip("/")
    if not text:
        return None
    anchored = "/" in text
    text = text.removeprefix("/")
    pattern = translate(text)
    if text.endswith("/**"):
        pattern = translate(text[:-3]) + "/.*"
    return Rule(base, re.compile(pattern, re.DOTALL), negate, dir_only, anchored)


def parse(text: str, base: str = "") -> list[Rule]:
    """The rules of one ignore file whose directory is `base` (relative to the workspace root)."""
    return [rule for line in text.splitlines() if (rule := _rule(line, base)) is not None]


@dataclass
class IgnoreRules:
    """Every rule read so far, in precedence order (root files first, `.gitignore` before `.tauignore`)."""

    rules: list[Rule] = field(default_factory=list[Rule])

    def add(self, text: str, base: str = "") -> None:
        self.rules.extend(parse(text, base))

    def ignored(self, path: str, *, is_dir: bool) -> bool:
        """Whether the root-relative POSIX `path` is ignored (directories: whether the walk skips them)."""
        name = path.rsplit("/", 1)[-1]
        if name in ALWAYS_SKIPPED_NAMES or path in ALWAYS_SKIPPED_PATHS or path.startswith(".git/"):
            return True
        verdict = False
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.base:
                if not path.startswith(rule.base + "/"):
                    continue
                relative = path[len(rule.base) + 1 :]
            else:
                relative = path
            subject = relative if rule.anchored else relative.rsplit("/", 1)[-1]
            if rule.regex.fullmatch(subject) is not None:
                verdict = not rule.negate
        return verdict


class ScopeFilter:
    """Whether paths of a flat listing are in scope: not ignored and not below an ignored directory (as the walk,
    which never enters one). Directory verdicts are memoized; a directory's verdict depends only on rules from its
    strict ancestors, so rules may be added in depth order (shallow first) while the filter is in use."""

    def __init__(self, rules: IgnoreRules) -> None:
        self.rules = rules
        self._dirs: dict[str, bool] = {"": False}
        self._files: dict[str, bool] = {}

    def dir_excluded(self, rel_dir: str) -> bool:
        """Whether the directory `rel_dir` ("" = root) or one of its ancestors is ignored."""
        verdict = self._dirs.get(rel_dir)
        if verdict is None:
            parent = rel_dir.rpartition("/")[0]
            verdict = self.dir_excluded(parent) or self.rules.ignored(rel_dir, is_dir=True)
            self._dirs[rel_dir] = verdict
        return verdict

    def file_in_scope(self, rel: str) -> bool:
        """Whether the file `rel` is captured (asked once all rules are added: the answer is memoized)."""
        verdict = self._files.get(rel)
        if verdict is None:
            verdict = not self.dir_excluded(rel.rpartition("/")[0]) and not self.rules.ignored(rel, is_dir=False)
            self._files[rel] = verdict
        return verdict
