"""The values of a shell analysis: `Redirect`, `SimpleCommand` (one program run), `ShellAnalysis` (a line).

Owns what a part says and the small judgments that depend only on it (which redirections write a file). Built by
`shell_walk.Walker`; read by the policy and the read-only allowlist. Pure, frozen values.
"""

from __future__ import annotations

from dataclasses import dataclass

from tau.permissions.shell_words import Word

__all__ = ["Redirect", "ShellAnalysis", "SimpleCommand"]

_WRITE_OPS = frozenset({">", ">>", ">|", "&>", "&>>", "<>"})
_READ_OPS = frozenset({"<"})
_DUP_OPS = frozenset({">&", "<&", ">&-", "<&-"})
_HARMLESS_WRITES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/fd/1", "/dev/fd/2"})
_HARMLESS_READS = frozenset({"/dev/null", "/dev/stdin", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/fd/0"})


@dataclass(frozen=True)
class Redirect:
    """One redirection: `op` as written (`>`, `2>` is `>` with `fd` 2, `>&`, `<`, `<<<`...), `target` its static
    value or, when `dynamic`, its source text."""

    op: str
    target: str
    fd: int | None = None
    dynamic: bool = False

    @property
    def kind(self) -> str:
        """`write` (creates or changes a file), `read`, `dup` (an fd copy or close) or `none` (here-docs)."""
        if self.op in _WRITE_OPS:
            return "write"
        if self.op in _READ_OPS:
            return "read"
        if self.op in _DUP_OPS:
            if self.dynamic or not (self.target.isdigit() or self.target == "-" or self.op.endswith("-")):
                return "write" if self.op.startswith(">") else "read"  # `>&file` is `&>file`
            return "dup"
        return "none"

    @property
    def writes(self) -> bool:
        """True when the redirection writes a file other than a harmless device."""
        return self.kind == "write" and (self.dynamic or self.target not in _HARMLESS_WRITES)

    @property
    def reads(self) -> bool:
        return self.kind == "read" and (self.dynamic or self.target not in _HARMLESS_READS)


@dataclass(frozen=True)
class SimpleCommand:
    """One program the shell would run (or, with no words, a redirection on its own)."""

    words: tuple[Word, ...]
    raw: tuple[Word, ...] = ()
    redirects: tuple[Redirect, ...] = ()
    assignments: tuple[str, ...] = ()
    unsafe_assignments: tuple[str, ...] = ()
    wrappers: tuple[str, ...] = ()
    escalates: bool = False
    cwd: tuple[str, ...] | None = (".",)
    cwd_changed: bool = False
    problem: str | None = None
    hazards: tuple[str, ...] = ()
    declaration: bool = False

    @property
    def argv(self) -> tuple[str, ...]:
        """What permission rules match: the words after wrappers, dynamic ones as written."""
        return tuple(w.shown for w in self.words)

    @property
    def raw_argv(self) -> tuple[str, ...]:
        """The words as written, wrappers and assignments included (redirections excluded)."""
        return tuple(w.shown for w in self.raw) if self.raw else self.argv

    @property
    def text(self) -> str:
        return " ".join(self.argv)

    @property
    def raw_text(self) -> str:
        return " ".join(self.raw_argv)

    @property
    def writes_files(self) -> bool:
        return any(r.writes for r in self.redirects)

    @property
    def liftable(self) -> bool:
        """True when the only problem is code-running expansions, which a rule naming them may accept."""
        return self.problem is not None and bool(self.hazards)


@dataclass(frozen=True)
class ShellAnalysis:
    """The parts of a command line; `problem` says why the line as a whole cannot be proven (None: it can)."""

    commands: tuple[SimpleCommand, ...]
    problem: str | None = None
    malformed: bool = False
    suspects: tuple[str, ...] = ()

    @property
    def parseable(self) -> bool:
        return self.problem is None and all(c.problem is None for c in self.commands)

    @property
    def first_problem(self) -> str | None:
        return self.problem or next((c.problem for c in self.commands if c.problem is not None), None)
