"""Shell builtins that assign, test or evaluate variables: where `x='a[$(cmd)]'` would run cmd.

Owns `check_builtin(argv, sink)` for builtins written as commands (`test -v`, `[ -v ]`, `printf -v`, `read`,
`mapfile`/`readarray`, `getopts`, `let`, `wait -p`, `unset`) and the handlers of the statements tree-sitter gives
their own nodes (`declaration_command`: `declare`/`typeset`/`local`/`export`/`readonly`; `unset_command`;
`test_command`: `[[ ]]` and `[ ]`).

A name operand (the variable a builtin assigns or tests) is judged like an assignment: a computed name (`read $x`)
or a subscript that is not a number (`printf -v 'a[$i]'`, `test -v 'a[x]'`, `unset 'a[x]'`) is a hazard; a name
`shell_local_safe` refuses (`read PATH`) is a problem. `let` and `[[ a -eq b ]]` evaluate arithmetic: any operand
that is not a number is a hazard. `declare -i` (assignments become arithmetic) and `-n` (namerefs) are refused, as
is `mapfile -C` (a callback). Declarations become parts marked `declaration`: their effects stay in the shell, so
the read-only allowlist accepts them once these checks passed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tree_sitter import Node

from tau.permissions.envnames import env_safe, shell_local_safe
from tau.permissions.options import OptionSpec, parse_options
from tau.permissions.shell_types import SimpleCommand
from tau.permissions.shell_words import Unprovable, Word, node_text, scan
from tau.permissions.wrappers import program_name

if TYPE_CHECKING:
    from tau.permissions.shell_walk import Walker

__all__ = ["BUILTIN_HANDLERS", "PartSink", "check_builtin"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"\s*-?\d+\s*")
_ARITH_TESTS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
_WORDISH = frozenset(
    {
        "word",
        "string",
        "raw_string",
        "ansi_c_string",
        "translated_string",
        "concatenation",
        "number",
        "simple_expansion",
        "expansion",
        "command_substitution",
        "process_substitution",
        "arithmetic_expansion",
    }
)


@dataclass
class PartSink:
    """Collects why the command being built cannot be proven: hazards (code-running expansions, with their source)
    and other problems."""

    problem: str | None = None
    hazards: list[str] = field(default_factory=list[str])
    other: bool = False

    def hazard(self, reason: str, snippet: str) -> None:
        self.problem = self.problem or f"{reason}: {snippet}"
        self.hazards.append(snippet)

    def fail(self, problem: str) -> None:
        self.problem = self.problem or problem
        self.other = True

    def liftable(self) -> tuple[str, ...]:
        """The hazard snippets when they are the only problem (a rule naming them may accept them), else ()."""
        return () if self.other else tuple(self.hazards)


def _name_operand(word: Word, sink: PartSink, what: str) -> None:
    """A variable name a builtin assigns or tests."""
    if not word.static or word.value is None:
        sink.hazard(f"{what} with a computed variable name", word.text)
        return
    base, bracket, rest = word.value.partition("[")
    if bracket and not _NUMBER.fullmatch(rest.removesuffix("]")) and rest.removesuffix("]") not in ("@", "*"):
        sink.hazard(f"{what} evaluates an array subscript", word.text)
    if not _IDENTIFIER.fullmatch(base):
        sink.fail(f"{what}: {word.text!r} is not a variable name")
    elif not shell_local_safe(base):
        sink.fail(f"{what} assigns {base}, which changes what later commands run")


_READ = OptionSpec.of("-e -r -s", "-a -d -i -n -N -p -t -u")
_MAPFILE = OptionSpec.of("-t", "-d -n -O -s -u -c -C")


def _test(args: list[Word], sink: PartSink) -> None:
    for i, word in enumerate(args[:-1]):
        if word.static and word.value == "-v":
            _name_operand(args[i + 1], sink, "test -v")


def _printf(args: list[Word], sink: PartSink) -> None:
    if args and args[0].static and (args[0].value or "").startswith("-v"):
        value = args[0].value or ""
        target = Word(value[2:], value[2:]) if len(value) > 2 else (args[1] if len(args) > 1 else None)
        if target is None:
            sink.fail("printf -v without a name")
        else:
            _name_operand(target, sink, "printf -v")


def _read(args: list[Word], sink: PartSink) -> None:
    parsed = parse_options(args, _READ, "read")
    for name, value in parsed.options:
        if name == "-a":
            _name_operand(Word(value, value) if value is not None else Word("$?", None), sink, "read -a")
    for word in parsed.operands:
        _name_operand(word, sink, "read")


def _mapfile(args: list[Word], sink: PartSink) -> None:
    parsed = parse_options(args, _MAPFILE, "mapfile")
    if parsed.has("-C"):
        sink.fail("mapfile -C runs a callback")
    for word in parsed.operands:
        _name_operand(word, sink, "mapfile")


def _getopts(args: list[Word], sink: PartSink) -> None:
    if len(args) >= 2:
        _name_operand(args[1], sink, "getopts")


def _let(args: list[Word], sink: PartSink) -> None:
    for word in args:
        if not word.static or re.search(r"[A-Za-z_\[]", word.value or ""):
            sink.hazard("let evaluates arithmetic on variables", word.text)


def _wait(args: list[Word], sink: PartSink) -> None:
    for i, word in enumerate(args[:-1]):
        if word.static and word.value == "-p":
            _name_operand(args[i + 1], sink, "wait -p")


def _unset(args: list[Word], sink: PartSink) -> None:
    for word in args:
        if word.static and (word.value or "").startswith("-"):
            if word.value not in ("-f", "-v", "-n"):
                sink.fail(f"unset: unknown option {word.value}")
            continue
        _name_operand(word, sink, "unset")


def _declaration_words(_args: list[Word], sink: PartSink) -> None:
    sink.fail("a declaration builtin run through a wrapper")


_CHECKS: dict[str, Callable[[list[Word], PartSink], None]] = {
    "test": _test,
    "[": _test,
    "printf": _printf,
    "read": _read,
    "mapfile": _mapfile,
    "readarray": _mapfile,
    "getopts": _getopts,
    "let": _let,
    "wait": _wait,
    "unset": _unset,
    "declare": _declaration_words,
    "typeset": _declaration_words,
    "local": _declaration_words,
    "export": _declaration_words,
    "readonly": _declaration_words,
}


def check_builtin(argv: list[Word], sink: PartSink) -> None:
    """Report the hazards of a builtin written as a command (after wrappers) to `sink`."""
    if not argv:
        return
    check = _CHECKS.get(program_name(argv[0]) or "")
    if check is None:
        return
    try:
        check(argv[1:], sink)
    except Unprovable as exc:
        sink.fail(exc.problem)


# --- statements with their own nodes --------------------------------------------------------------------------------

_DECLARE_LETTERS = frozenset("aAgrlutpfFx")
_EXPORT_LETTERS = frozenset("pn")


def _declaration(walker: Walker, node: Node) -> None:
    keyword = node_text(node.children[0])
    sink = PartSink()
    shown: list[Word] = [Word(keyword, keyword)]
    exported = keyword == "export"
    unsafe: list[str] = []
    with walker.part_sink(sink):
        for child in node.children[1:]:
            if child.type == "word" and node_text(child).startswith(("-", "+")):
                option = node_text(child)
                exported = _declare_option(keyword, option, sink) or exported
                shown.append(Word(option, option))
            elif child.type == "variable_assignment":
                name, value = walker.assignment(child)
                if name is not None and not (env_safe(name) if exported else shell_local_safe(name)):
                    unsafe.append(name)
                shown.append(Word(node_text(child), f"{name}={value}"))
            elif child.type == "variable_name":
                name = node_text(child)
                if exported and not env_safe(name):
                    unsafe.append(name)
                shown.append(Word(name, name))
            elif child.is_named:
                for word in walker.words([child], braces=False):
                    _name_operand(
                        Word(word.text, (word.value or "").split("=", 1)[0]) if word.static else word, sink, keyword
                    )
                    shown.append(word)
    walker.add(
        SimpleCommand(
            tuple(shown),
            unsafe_assignments=tuple(unsafe),
            problem=sink.problem,
            hazards=sink.liftable(),
            declaration=True,
        )
    )


def _declare_option(keyword: str, option: str, sink: PartSink) -> bool:
    """Judge one option of a declaration; True when it exports."""
    letters = set(option[1:])
    allowed = _EXPORT_LETTERS if keyword == "export" else _DECLARE_LETTERS
    if not letters or not letters <= allowed:
        sink.fail(f"{keyword} {option}: an option that makes assignments evaluate or is unknown")
    return "x" in letters and option.startswith("-")


def _unset_command(walker: Walker, node: Node) -> None:
    sink = PartSink()
    words: list[Word] = [Word("unset", "unset")]
    with walker.part_sink(sink):
        args = [w for child in node.named_children for w in walker.words([child], braces=False)]
        _unset(args, sink)
        words.extend(args)
    walker.add(SimpleCommand(tuple(words), problem=sink.problem, hazards=sink.liftable(), declaration=True))


def _test_command(walker: Walker, node: Node) -> None:
    sink = PartSink()
    double = bool(node.children) and node.children[0].type == "[["
    with walker.part_sink(sink):
        try:
            children = node.children
            if len(children) < 2 or any(a.end_byte == b.start_byte for a, b in itertools.pairwise(children)):
                raise Unprovable("a test bracket joined to a word (bash reads one word there)")
            _test_expression(walker, node, double, sink)
        except Unprovable as exc:
            sink.fail(exc.problem)
    words = tuple(Word(t, t) for t in node_text(node).split())
    walker.add(SimpleCommand(words, problem=sink.problem, hazards=sink.liftable()))


def _test_expression(walker: Walker, node: Node, double: bool, sink: PartSink) -> None:
    for child in node.children:
        kind = child.type
        if kind == "unary_expression":
            operator = child.child_by_field_name("operator")
            operands = [c for c in child.named_children if c is not operator and c.type != "test_operator"]
            for operand in operands:
                for word in walker.words([operand], braces=False) if operand.type in _WORDISH else ():
                    if operator is not None and node_text(operator) == "-v":
                        _name_operand(word, sink, "-v")
        elif kind == "binary_expression":
            operator = child.child_by_field_name("operator")
            if double and operator is not None and node_text(operator) in _ARITH_TESTS:
                for side in (child.child_by_field_name("left"), child.child_by_field_name("right")):
                    if side is not None and not _NUMBER.fullmatch(node_text(side)):
                        sink.hazard("[[ ]] arithmetic comparison evaluates its operands", node_text(child))
            _test_expression(walker, child, double, sink)
        elif kind in _WORDISH:
            walker.words([child], braces=False)
        elif kind in ("regex", "extglob_pattern"):
            scan(child, walker)
        elif child.is_named:
            _test_expression(walker, child, double, sink)


BUILTIN_HANDLERS: dict[str, Callable[[Walker, Node], None]] = {
    "declaration_command": _declaration,
    "unset_command": _unset_command,
    "test_command": _test_command,
}
