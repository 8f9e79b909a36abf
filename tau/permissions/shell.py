"""Shell command analysis: split a bash command line into the simple commands it would run.

Owns: `analyse(command) -> ShellAnalysis`, pure and total (never raises). The permission policy checks every
`SimpleCommand` it returns; a compound command is allowed only if every part is.

How a command is taken apart:

- Separators `;`, `&&`, `||`, `|`, `|&`, `&`, newlines end a simple command.
- `$(...)` and backticks (also inside double quotes) and `( ... )` subshells are analysed recursively; their
  commands become parts of their own and the substitution is replaced by the word `$(...)` in the outer command.
  `$((...))` arithmetic is replaced the same way (refused if it contains a substitution). `{`/`}` group words and
  reserved words introducing a command (`then rm x`) are dropped, the latter making the line unparseable.
- Redirections (`>`, `>>`, `2>&1`, `&>`, `<`, `<<<`, ...) are removed from the words and kept on the part as
  `Redirect`s (`writes` is true when a file other than /dev/null is written).
- Words are tokenised with `shlex` (POSIX rules, quotes removed). Leading `VAR=value` assignments are stripped, then
  these wrappers, repeatedly: `env` (with -i/-u/assignments), `timeout`, `nice`, `nohup`, `time`, `command` (not
  `command -v/-V`, a lookup) and `xargs` (its options parsed; the command it runs becomes the part, `echo` when
  none is given). `sudo`, `exec`, `ssh`, `find -exec` are deliberately *not* wrappers: a rule must name them.
- `sh|bash|zsh|dash|ksh -c 'script'` is analysed recursively (depth-limited).

Anything that cannot be analysed safely makes the analysis unparseable (`problem` is set) and the policy treats it as
*ask*: unbalanced quotes or parentheses, heredocs (`<<`), process substitution (`<(...)`, `>(...)`), `eval` (its
words are still analysed, best effort, so deny rules see them),
shell keywords (`if`, `for`, `while`, `case`, `function`, `[[`, ...), a command name that is itself an expansion
(`$CMD`), function definitions, array assignments, unknown `env`/`xargs` options, nesting deeper than 8.
Parts found before or beside the problem are still returned, so deny rules still apply to them.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field

__all__ = ["Redirect", "ShellAnalysis", "SimpleCommand", "analyse"]

_MAX_DEPTH = 8
_SUBST = "$(...)"
_SEPARATOR_CHARS = frozenset(";&|\n")
_WORD_END = frozenset(" \t\n;&|<>()")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh"})
_SHELL_C_FLAG = re.compile(r"-[a-zA-Z]*c[a-zA-Z]*")
_KEYWORDS = frozenset({"for", "case", "esac", "select", "function", "[[", "]]", "coproc", "in"})
_CONTROL_WORDS = frozenset({"if", "then", "elif", "else", "fi", "while", "until", "do", "done"})
_LEADING_WORDS = _CONTROL_WORDS | {"{", "}", "!"}
_WRITE_OPS = frozenset({">", ">>", ">|", "&>", "&>>", "<>"})


@dataclass(frozen=True)
class Redirect:
    """One redirection of a simple command, e.g. `2>` `/dev/null`. `target` has its quotes removed."""

    op: str
    target: str

    @property
    def writes(self) -> bool:
        """True when the redirection writes (or truncates) a file; fd duplication and /dev/null are harmless."""
        if self.op not in _WRITE_OPS:
            return False
        return self.target != "/dev/null" and not self.target.isdigit() and self.target != "-"


@dataclass(frozen=True)
class SimpleCommand:
    """One command the shell would run.

    `argv` is what permission rules match (assignments and wrappers stripped); `raw_argv` is the words as written
    (minus redirections), also consulted by deny and ask rules.
    """

    argv: tuple[str, ...]
    raw_argv: tuple[str, ...] = ()
    redirects: tuple[Redirect, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.argv)

    @property
    def raw_text(self) -> str:
        return " ".join(self.raw_argv or self.argv)

    @property
    def writes_files(self) -> bool:
        return any(r.writes for r in self.redirects)


@dataclass(frozen=True)
class ShellAnalysis:
    """The simple commands of a command line; `problem` names why it is unparseable, None when it is not."""

    commands: tuple[SimpleCommand, ...]
    problem: str | None = None

    @property
    def parseable(self) -> bool:
        return self.problem is None


class _Unparseable(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def analyse(command: str) -> ShellAnalysis:
    """Split `command` into simple commands. Total: unparseable input yields `problem`, never an exception."""
    scanner = _Scanner(command, depth=0)
    try:
        scanner.run()
    except _Unparseable as exc:
        scanner.note(exc.problem)
    return ShellAnalysis(tuple(scanner.commands), scanner.problem)


@dataclass
class _Scanner:
    """Character-level walk over one command line; collects simple commands and the first problem seen."""

    src: str
    depth: int
    i: int = 0
    buf: list[str] = field(default_factory=list[str])
    redirects: list[Redirect] = field(default_factory=list[Redirect])
    commands: list[SimpleCommand] = field(default_factory=list[SimpleCommand])
    problem: str | None = None

    def note(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem

    def run(self) -> None:
        if self.depth > _MAX_DEPTH:
            raise _Unparseable("command nesting too deep")
        while self.i < len(self.src):
            self._step()
        self._flush()

    def _peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.src[j] if j < len(self.src) else ""

    def _at_word_start(self) -> bool:
        return not self.buf or self.buf[-1][-1:] in (" ", "\t", "\n")

    def _step(self) -> None:
        c = self.src[self.i]
        if c == "'":
            self.buf.append(self._single_quoted())
        elif c == '"':
            self.buf.append(self._double_quoted())
        elif c == "\\":
            self._backslash()
        elif c == "`":
            self.buf.append(self._backtick())
        elif c == "$":
            self.buf.append(self._dollar())
        elif c in "<>" or (c == "&" and self._peek(1) == ">"):
            self._redirect()
        elif c in _SEPARATOR_CHARS:
            self._separator()
        elif c == "(":
            self._subshell()
        elif c == ")":
            raise _Unparseable("unbalanced ')'")
        elif c == "#" and self._at_word_start():
            self._comment()
        else:
            self.buf.append(c)
            self.i += 1

    # --- quoting -------------------------------------------------------------------------------------------

    def _single_quoted(self) -> str:
        end = self.src.find("'", self.i + 1)
        if end < 0:
            raise _Unparseable("unbalanced single quote")
        text = self.src[self.i : end + 1]
        self.i = end + 1
        return text

    def _double_quoted(self) -> str:
        out = ['"']
        self.i += 1
        while self.i < len(self.src):
            c = self.src[self.i]
            if c == '"':
                self.i += 1
                out.append('"')
                return "".join(out)
            if c == "\\":
                out.append(self.src[self.i : self.i + 2])
                self.i += 2
            elif c == "`":
                out.append(self._backtick())
            elif c == "$":
                out.append(self._dollar())
            else:
                out.append(c)
                self.i += 1
        raise _Unparseable("unbalanced double quote")

    def _backslash(self) -> None:
        nxt = self._peek(1)
        if nxt == "\n":  # line continuation
            self.i += 2
            return
        if not nxt:
            raise _Unparseable("trailing backslash")
        self.buf.append(self.src[self.i : self.i + 2])
        self.i += 2

    def _comment(self) -> None:
        end = self.src.find("\n", self.i)
        self.i = len(self.src) if end < 0 else end

    # --- substitutions -------------------------------------------------------------------------------------

    def _nested(self, inner: str) -> None:
        child = _Scanner(inner, depth=self.depth + 1)
        try:
            child.run()
        except _Unparseable as exc:
            child.note(exc.problem)
        self.commands.extend(child.commands)
        if child.problem is not None:
            self.note(child.problem)

    def _backtick(self) -> str:
        j = self.i + 1
        while j < len(self.src) and self.src[j] != "`":
            j += 2 if self.src[j] == "\\" else 1
        if j >= len(self.src):
            raise _Unparseable("unbalanced backtick")
        self._nested(self.src[self.i + 1 : j].replace("\\`", "`"))
        self.i = j + 1
        return _SUBST

    def _dollar(self) -> str:
        nxt = self._peek(1)
        if nxt == "(" and self._peek(2) == "(":
            end = _matching_paren(self.src, self.i + 2)
            inner = self.src[self.i + 3 : end]
            if "$(" in inner or "`" in inner:
                raise _Unparseable("command substitution inside arithmetic expansion")
            self.i = end + 1
            if self._peek() != ")":
                raise _Unparseable("unbalanced arithmetic expansion")
            self.i += 1
            return _SUBST
        if nxt == "(":
            end = _matching_paren(self.src, self.i + 1)
            self._nested(self.src[self.i + 2 : end])
            self.i = end + 1
            return _SUBST
        if nxt == "{":
            end = self.src.find("}", self.i)
            if end < 0:
                raise _Unparseable("unbalanced ${")
            text = self.src[self.i : end + 1]
            if "$(" in text[1:] or "`" in text:
                raise _Unparseable("command substitution inside parameter expansion")
            self.i = end + 1
            return text
        self.i += 1
        return "$"

    def _subshell(self) -> None:
        if "".join(self.buf).strip():
            raise _Unparseable("'(' inside a command (function definition or array)")
        end = _matching_paren(self.src, self.i)
        self._nested(self.src[self.i + 1 : end])
        self.i = end + 1

    # --- operators -----------------------------------------------------------------------------------------

    def _separator(self) -> None:
        pair = self.src[self.i : self.i + 2]
        if pair == ";;":
            raise _Unparseable("';;' (case statement)")
        self.i += 2 if pair in ("&&", "||", "|&") else 1
        self._flush()

    def _redirect(self) -> None:
        op = self._redirect_operator()
        if op == "<<":
            raise _Unparseable("heredoc")
        if op in ("<(", ">("):
            raise _Unparseable("process substitution")
        while self._peek() in (" ", "\t"):
            self.i += 1
        target = self._word()
        if not target:
            raise _Unparseable(f"redirection {op!r} without a target")
        self.redirects.append(Redirect(op, target))

    def _redirect_operator(self) -> str:
        # a file-descriptor number written right before the operator (`2>`) belongs to it
        joined = "".join(self.buf)
        stripped = joined.rstrip("0123456789")
        if stripped != joined and (not stripped or stripped[-1] in " \t\n"):
            self.buf = [stripped]
        for op in ("&>>", "<<<", "&>", ">>", ">|", ">&", "<&", "<>", "<<", "<(", ">(", "<", ">"):
            if self.src.startswith(op, self.i):
                self.i += len(op)
                return op
        raise AssertionError("unreachable: _redirect called off an operator")  # pragma: no cover

    def _word(self) -> str:
        start = self.i
        while self.i < len(self.src) and self.src[self.i] not in _WORD_END:
            c = self.src[self.i]
            if c == "'":
                self._single_quoted()
            elif c == '"':
                self._double_quoted()
            elif c == "`" or (c == "$" and self._peek(1) == "("):
                raise _Unparseable("command substitution in a redirection target")
            else:
                self.i += 2 if c == "\\" else 1
        raw = self.src[start : self.i]
        try:
            words = shlex.split(raw)
        except ValueError as exc:  # pragma: no cover - quotes were balanced above
            raise _Unparseable(f"cannot tokenise {raw!r}") from exc
        return words[0] if words else ""

    # --- one simple command --------------------------------------------------------------------------------

    def _flush(self) -> None:
        text = "".join(self.buf).strip()
        redirects = tuple(self.redirects)
        self.buf.clear()
        self.redirects.clear()
        if not text and not any(r.writes for r in redirects):
            return
        try:
            words = shlex.split(text, posix=True)
        except ValueError as exc:
            raise _Unparseable(f"cannot tokenise {text!r}: {exc}") from exc
        self._add(words, redirects)

    def _add(self, words: list[str], redirects: tuple[Redirect, ...]) -> None:
        words, keyword = _strip_keywords(words)
        if keyword is not None:
            self.note(f"shell keyword {keyword!r}")
        raw = tuple(words)
        try:
            argv = _strip_wrappers(_strip_assignments(words))
        except _Unparseable as exc:
            self.note(exc.problem)
            argv = list(raw)
        if argv and argv[0] in _SHELLS and len(argv) >= 3 and _SHELL_C_FLAG.fullmatch(argv[1]):
            self._nested(argv[2])
            return
        if argv and argv[0] == "eval":
            self.note("'eval' runs a string as a command")
            self._nested(" ".join(argv[1:]))  # best effort, so deny rules still see what it would run
            return
        if not argv and not any(r.writes for r in redirects):
            return
        self.commands.append(SimpleCommand(tuple(argv), raw, redirects))
        problem = _command_problem(argv)
        if problem is not None:
            self.note(problem)


def _matching_paren(src: str, open_index: int) -> int:
    """Index of the `)` closing the `(` at `open_index`, skipping quoted text and escapes."""
    depth = 0
    j = open_index
    while j < len(src):
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if c in "'\"`":
            close = _closing_quote(src, j)
            j = close + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise _Unparseable("unbalanced '('")


def _closing_quote(src: str, start: int) -> int:
    quote = src[start]
    j = start + 1
    while j < len(src):
        if src[j] == "\\" and quote != "'":
            j += 2
            continue
        if src[j] == quote:
            return j
        j += 1
    raise _Unparseable(f"unbalanced {quote}")


def _strip_keywords(words: list[str]) -> tuple[list[str], str | None]:
    """Drop reserved words that only introduce or close a command (`then rm x` -> `rm x`); report the first."""
    seen: str | None = None
    while words and words[0] in _LEADING_WORDS:
        if words[0] in _CONTROL_WORDS and seen is None:
            seen = words[0]
        words = words[1:]
    return words, seen


def _command_problem(argv: list[str]) -> str | None:
    if not argv:
        return None
    name = argv[0]
    if name in _KEYWORDS:
        return f"shell keyword {name!r}"
    if "$" in name:
        return "command name is an expansion"
    return None


def _strip_assignments(words: list[str]) -> list[str]:
    i = 0
    while i < len(words) and _ASSIGNMENT.match(words[i]):
        i += 1
    return words[i:]


def _strip_wrappers(argv: list[str]) -> list[str]:
    while argv:
        strip = _WRAPPERS.get(posixpath.basename(argv[0]))
        if strip is None:
            return argv
        inner = strip(argv[1:])
        if inner is None:
            return argv
        argv = inner
    return argv


def _skip_options(args: list[str], with_value: frozenset[str], flags: frozenset[str], tool: str) -> list[str]:
    """Drop leading options of a wrapper; options outside both sets make the command unparseable."""
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        opt = args[i]
        if opt == "--":
            return args[i + 1 :]
        name = opt.split("=", 1)[0]
        if name in with_value and "=" not in opt:
            i += 2
        elif name in with_value or name in flags or (len(opt) > 2 and opt[:2] in with_value and opt[1] != "-"):
            i += 1
        else:
            raise _Unparseable(f"unknown {tool} option {opt!r}")
    return args[i:]


def _env(args: list[str]) -> list[str] | None:
    rest = _skip_options(args, frozenset({"-u", "--unset"}), frozenset({"-i", "--ignore-environment", "-0"}), "env")
    rest = _strip_assignments(rest)
    return rest or None


def _timeout(args: list[str]) -> list[str] | None:
    rest = _skip_options(
        args,
        frozenset({"-s", "--signal", "-k", "--kill-after"}),
        frozenset({"--preserve-status", "--foreground", "-v", "--verbose"}),
        "timeout",
    )
    return rest[1:] if len(rest) > 1 else None


def _nice(args: list[str]) -> list[str] | None:
    if args and re.fullmatch(r"-\d+", args[0]):
        args = args[1:]
    rest = _skip_options(args, frozenset({"-n", "--adjustment"}), frozenset(), "nice")
    return rest or None


def _plain(args: list[str]) -> list[str] | None:
    return args or None


def _time(args: list[str]) -> list[str] | None:
    rest = args[1:] if args[:1] == ["-p"] else args
    return rest or None


def _command(args: list[str]) -> list[str] | None:
    if args[:1] in (["-v"], ["-V"]):
        return None
    rest = args[1:] if args[:1] == ["-p"] else args
    return rest or None


_XARGS_WITH_VALUE = frozenset(
    {"-I", "-n", "-P", "-L", "-s", "-d", "-E", "-a", "--max-args", "--max-procs", "--max-lines", "--delimiter"}
)
_XARGS_FLAGS = frozenset(
    {"-0", "-r", "-t", "-x", "--null", "--no-run-if-empty", "--verbose", "--exit", "-i", "-l", "-e"}
)


def _xargs(args: list[str]) -> list[str] | None:
    if any(a in ("-p", "--interactive", "-o", "--open-tty") for a in args[:1]):
        raise _Unparseable("interactive xargs")
    rest = _skip_options(args, _XARGS_WITH_VALUE, _XARGS_FLAGS, "xargs")
    return rest or ["echo"]


_WRAPPERS = {
    "env": _env,
    "timeout": _timeout,
    "nice": _nice,
    "nohup": _plain,
    "time": _time,
    "command": _command,
    "xargs": _xargs,
}
