"""Reading tau's own skills and AGENTS.md as data: the `tau ...` command lines they show, the repository paths they
name, and a parse of a command line against tau's real click parser (nothing runs).

Command lines come from fenced code blocks (`bash`, `sh`, `console`, `shell`, or none; `$ ` prompts and `\\`
continuations handled) and from inline code spans that start with `tau `. A line is cut at shell operators (`&&`,
`||`, `;`, `|`) and redirections, and every segment whose program is `tau` (or `bin/tau`, `.venv/bin/tau`,
`dist/tau`) is one command line. Inline spans that only name a command (`tau resume`) are checked for the command's
existence, not parsed, since they leave out required arguments on purpose.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
USAGE_SKILL = ROOT / "skills" / "tau" / "SKILL.md"
USAGE_REFERENCE = ROOT / "skills" / "tau" / "reference" / "configuration.md"
DEV_SKILL = ROOT / ".claude" / "skills" / "tau-dev" / "SKILL.md"
DEV_RECIPES = ROOT / ".claude" / "skills" / "tau-dev" / "recipes.md"
AGENTS_MD = ROOT / "AGENTS.md"
DOCS = (USAGE_SKILL, USAGE_REFERENCE, DEV_SKILL, DEV_RECIPES, AGENTS_MD)

TAU_PROGRAMS = frozenset({"tau", "bin/tau", ".venv/bin/tau", "dist/tau"})
_SHELL_FENCES = frozenset({"", "bash", "sh", "console", "shell"})
_OPERATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")"})
_REDIRECTS = frozenset({">", ">>", "<", ">&", "<&", "&>", ">|"})
_FENCE = re.compile(r"^```(\S*)\s*$")
_INLINE = re.compile(r"`(tau [^`]+)`")
_REPO_PATH = re.compile(
    r"`((?:tau|tests|scripts|docs|proto|bench|examples|sandbox|skills|packaging|\.ci|\.claude)/[A-Za-z0-9_./-]*)`"
)


@dataclass(frozen=True)
class CommandLine:
    """One documented `tau` invocation: where it is, and its arguments after the program name."""

    source: str
    line: int
    argv: tuple[str, ...]
    inline: bool

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: tau {shlex.join(self.argv)}"


def _logical_lines(block: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join `\\` continuations, strip `$ ` prompts (output lines of a `console` block name no program)."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in block:
        start, text = (pending[0], pending[1] + " " + raw.strip()) if pending else (number, raw.rstrip())
        pending = None
        if text.endswith("\\"):
            pending = (start, text[:-1])
            continue
        stripped = text.lstrip()
        out.append((start, stripped[2:] if stripped.startswith("$ ") else stripped))
    if pending is not None:
        out.append(pending)
    return out


def _segments(text: str) -> list[list[str]]:
    """Shell words of `text` split at operators, with redirections (and their targets) and comments dropped."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens = list(lexer)
    segments: list[list[str]] = [[]]
    skip_next = False
    for index, token in enumerate(tokens):
        if skip_next:
            skip_next = False
            continue
        if token in _OPERATORS:
            segments.append([])
        elif token in _REDIRECTS:
            skip_next = True
            if segments[-1] and segments[-1][-1].isdigit() and index > 0:
                segments[-1].pop()  # `2>` spelled as `2`, `>`
        else:
            segments[-1].append(token)
    return [segment for segment in segments if segment]


def _tau_commands(text: str, source: str, number: int, *, inline: bool) -> list[CommandLine]:
    return [
        CommandLine(source, number, tuple(segment[1:]), inline)
        for segment in _segments(text)
        if segment[0] in TAU_PROGRAMS
    ]


def command_lines(path: Path) -> list[CommandLine]:
    """Every `tau` command line `path` shows, in order."""
    source = str(path.relative_to(ROOT))
    found: list[CommandLine] = []
    fence: str | None = None  # the language of the open fenced block, None outside one
    block: list[tuple[int, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        marker = _FENCE.match(line.strip())
        if marker and fence is None:
            fence, block = marker.group(1), []
        elif marker:
            if fence in _SHELL_FENCES:
                for start, text in _logical_lines(block):
                    found += _tau_commands(text, source, start, inline=False)
            fence = None
        elif fence is not None:
            block.append((number, line))
        else:
            for span in _INLINE.findall(line):
                found += _tau_commands(span, source, number, inline=True)
    return found


def repo_paths(path: Path) -> list[tuple[int, str]]:
    """(line, path) for every repository path `path` names in backticks (`tau/...`, `tests/...`, ...)."""
    out: list[tuple[int, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        out += [(number, match.rstrip("/.")) for match in _REPO_PATH.findall(line)]
    return out


def command_path(root: click.Group, argv: tuple[str, ...]) -> tuple[list[str], click.Command, list[str]]:
    """Walk `argv` down the command groups: (names of the command path, the leaf command, the rest of argv)."""
    context = click.Context(root, info_name="tau")
    names: list[str] = []
    command: click.Command = root
    rest = list(argv)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(context, rest[0])
        if sub is None:
            raise LookupError(f"no command `tau {' '.join([*names, rest[0]])}`")
        names.append(rest.pop(0))
        command = sub
    return names, command, rest


def parse(root: click.Group, argv: tuple[str, ...]) -> click.Context:
    """Parse `argv` as `tau ARGV` would, down to the leaf command, running no command body.

    Raises `click.UsageError` (bad option, value or choice, missing argument) or LookupError (no such command).
    """
    names, command, rest = command_path(root, argv)
    parent = click.Context(root, info_name="tau")
    info_name = " ".join(names) if names else "tau"
    return command.make_context(info_name, rest, parent=parent)
