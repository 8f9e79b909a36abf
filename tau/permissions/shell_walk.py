"""The walk over a tree-sitter-bash tree that finds every program a command line runs (`Walker`).

Owns the structure: lists, pipelines, subshells, groups, `if`/`while`/`until`/`for`/`select`/`case` bodies,
function bodies, redirected statements, here-documents, substitutions and re-parsed shell strings. Word expansion is
`shell_words`, wrappers `wrappers`, builtins that assign or test variables `shell_builtins`.

Invariants:

- Every node type is handled explicitly; an unknown named node is a problem ("unsupported shell syntax"), never
  skipped. A failure inside one statement is recorded and the walk goes on, so deny rules see the other parts.
- Bash before tree-sitter: line continuations are joined first (`shell_parse`); redirections and here-documents
  are read by `shell_redirects`. Adjacent nodes with no space between them are one word (`$"x"`).
- Where a part runs: `cwd` starts as `(".",)`; a static `cd DIR` adds the directory it may have moved to (the `cd`
  may fail, so the old one stays possible); a `cd` that is dynamic, in a loop or a function, `cd -` or `popd` makes
  it unknown (None). Subshells, pipeline elements and substitutions restore it afterwards. `cwd_changed` stays set
  for the rest of the line once any `cd` or `env -C` ran.
- Nesting is bounded: shell strings (`bash -c`, `eval`) 8 deep, the tree 200 deep.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from tree_sitter import Node

from tau.permissions.envnames import env_safe, shell_local_safe
from tau.permissions.shell_builtins import BUILTIN_HANDLERS, PartSink, check_builtin
from tau.permissions.shell_parse import misplaced_comment, parse
from tau.permissions.shell_redirects import REDIRECTS, Pieces
from tau.permissions.shell_redirects import redirect as read_redirect
from tau.permissions.shell_types import Redirect, SimpleCommand
from tau.permissions.shell_words import Unprovable, Word, check_arithmetic, check_gaps, evaluate, node_text, scan
from tau.permissions.wrappers import Invocation, Unwrapped, program_name, unwrap

__all__ = ["Walker"]

_MAX_SCRIPT_DEPTH = 8
_MAX_TREE_DEPTH = 200
_MAX_CWD = 8
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_BLANK_TO_BASH = ("\r", "\v", "\f", "\0")
_CONTAINERS = frozenset(
    {"program", "list", "do_group", "else_clause", "elif_clause", "if_statement", "negated_command", "case_item"}
)


class Walker:
    """Walks one command line (and the shell strings inside it), collecting parts and the first line problem."""

    def __init__(self) -> None:
        self.parts: list[SimpleCommand] = []
        self.problem: str | None = None
        self.malformed = False
        self.sweep: list[str] = []
        self.cwd: tuple[str, ...] | None = (".",)
        self.cwd_changed = False
        self._loop = 0
        self._scripts = 0
        self._tree = 0
        self._sink: PartSink | None = None
        self._inherited: tuple[str, ...] = ()

    def note(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem

    # --- WordSink ----------------------------------------------------------------------------------------------

    def substitution(self, node: Node) -> None:
        text = node_text(node)
        if text.startswith(("$((", "$[")):
            self.hazard("arithmetic on a variable", text)
        if text.startswith("`") and "\\" in text:
            raise Unprovable("a backslash inside backticks (nested substitutions)")
        with self._scoped():
            for child in node.named_children:
                self._try(child)

    def hazard(self, reason: str, snippet: str) -> None:
        if self._sink is not None:
            self._sink.hazard(reason, snippet)
        else:
            self.note(f"{reason}: {snippet}")

    # --- entry points ------------------------------------------------------------------------------------------

    def walk_source(self, source: str) -> None:
        """Parse `source` and walk it; a syntax error marks the line malformed (deny rules then sweep it)."""
        if self._scripts > _MAX_SCRIPT_DEPTH:
            self.note("shell code nested too deep")
            return
        if any(c in source for c in _NOT_BLANK_TO_BASH) or "\\\t" in source:
            self.note(
                "a carriage return, vertical tab, form feed, NUL or escaped tab (bash and the parser split words "
                "differently)"
            )
        source, root = parse(source)
        if misplaced_comment(source, root):
            self.note("a `#` inside a word that the parser reads as a comment")
        if root.has_error:
            self.malformed = True
            self.sweep.append(source)
            self.note("bash syntax error")
        self._try(root)

    def walk_script(self, wrapper: str, script: str) -> None:
        """Shell code a command runs (`bash -c`, `eval`, `trap`): parsed and walked like the line itself."""
        self._scripts += 1
        try:
            if wrapper == "eval":
                self.walk_source(script)
            else:
                with self._scoped():
                    self.walk_source(script)
        finally:
            self._scripts -= 1

    def _try(self, node: Node) -> None:
        try:
            self.statement(node)
        except Unprovable as exc:
            self.note(exc.problem)

    def statement(self, node: Node) -> None:
        self._tree += 1
        try:
            if self._tree > _MAX_TREE_DEPTH:
                raise Unprovable("the command is nested too deep")
            self._dispatch(node)
        finally:
            self._tree -= 1

    def _dispatch(self, node: Node) -> None:
        kind = node.type
        if not node.is_named or kind == "comment":
            return
        if kind != "ERROR":
            check_gaps(node, blanks=b" \t\n")
        if kind in _CONTAINERS or kind == "ERROR":
            self._children(node)
        elif kind == "command":
            self.command(node, [])
        elif kind in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS[kind](self, node)
        elif (method := _STATEMENTS.get(kind)) is not None:
            method(self, node)
        else:
            raise Unprovable(f"unsupported shell syntax ({kind})")

    def _isolated(self, node: Node) -> None:
        """Pipeline elements and subshells: each runs in a subshell, so a `cd` inside does not outlive it."""
        for child in node.named_children:
            with self._scoped():
                self._try(child)

    def _children(self, node: Node) -> None:
        for child in node.children:
            if child.is_named:
                self._try(child)

    # --- compound statements -----------------------------------------------------------------------------------

    def _compound(self, node: Node) -> None:
        children = node.children
        if children and children[0].type == "((":
            with self._line_sink():
                check_arithmetic(node, self)
            return
        if (
            children
            and children[0].type == "{"
            and (len(children) < 3 or children[1].start_byte == children[0].end_byte)
        ):
            raise Unprovable("a `{` joined to a word or an empty group (bash reads a word there)")
        self._children(node)

    def _loop_statement(self, node: Node) -> None:
        variable = node.child_by_field_name("variable")
        if variable is not None and not shell_local_safe(node_text(variable)):
            self.note(f"a loop assigns {node_text(variable)}, which changes what later commands run")
        self._loop += 1
        try:
            for i, child in enumerate(node.children):
                name = node.field_name_for_child(i)
                if name == "value":
                    self.words([child])
                elif name in ("initializer", "condition", "update") and node.type == "c_style_for_statement":
                    with self._line_sink():
                        check_arithmetic(child, self)
                elif child.is_named and name != "variable":
                    self._try(child)
        finally:
            self._loop -= 1

    def _case(self, node: Node) -> None:
        for i, child in enumerate(node.children):
            if node.field_name_for_child(i) == "value":
                self.words([child])
            elif child.type == "case_item":
                for j, item_child in enumerate(child.children):
                    if child.field_name_for_child(j) == "value":
                        self.words([item_child], braces=False)
                    elif item_child.is_named:
                        self._try(item_child)

    def _function(self, node: Node) -> None:
        saved = (self.cwd, self.cwd_changed)
        self.cwd, self.cwd_changed = None, True  # a function may be called from anywhere
        self._loop += 1
        try:
            body = node.child_by_field_name("body")
            if body is not None:
                self._try(body)
        finally:
            self._loop -= 1
            self.cwd, self.cwd_changed = saved[0], True

    def _assignments(self, node: Node) -> None:
        nodes = node.named_children if node.type == "variable_assignments" else [node]
        with self._line_sink():
            for assignment in nodes:
                name, _ = self.assignment(assignment)
                if name is not None and not shell_local_safe(name):
                    self.note(f"assigning {name} changes what later commands run")

    def assignment(self, node: Node) -> tuple[str | None, str]:
        """Evaluate one `NAME=value` (its substitutions run): the name (None for a non-name target) and the value
        as rules see it."""
        target = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        shown = ""
        if value is not None:
            parts = value.named_children if value.type == "array" else [value]
            values = [w.shown for part in parts for w in self.words([part], braces=value.type == "array")]
            shown = f"({' '.join(values)})" if value.type == "array" else "".join(values)
        if target is None:
            raise Unprovable(f"unsupported assignment {node_text(node)!r}")
        if target.type == "subscript":
            scan(target, self)
            name_node = target.child_by_field_name("name")
            target = name_node if name_node is not None else target
        if not _IDENTIFIER.fullmatch(node_text(target)):
            raise Unprovable(f"{node_text(node)!r} is not an assignment for bash (a command word)")
        return node_text(target), shown

    # --- words -------------------------------------------------------------------------------------------------

    def words(self, nodes: list[Node], *, braces: bool = True) -> list[Word]:
        return evaluate(nodes, self, braces=braces)

    @contextmanager
    def _line_sink(self) -> Iterator[None]:
        saved, self._sink = self._sink, None
        try:
            yield
        finally:
            self._sink = saved

    @contextmanager
    def _scoped(self) -> Iterator[None]:
        saved = self.cwd
        try:
            yield
        finally:
            self.cwd = saved

    # --- simple commands ---------------------------------------------------------------------------------------

    def _redirected(self, node: Node) -> None:
        check_gaps(node)
        body = node.child_by_field_name("body")
        redirect_nodes = [c for c in node.children if c.type in REDIRECTS]
        if body is not None and body.type == "command":
            self.command(body, redirect_nodes)
            return
        if body is not None:
            self._try(body)
        sink = PartSink()
        pieces = Pieces()
        with self.part_sink(sink):
            try:
                for node_redirect in redirect_nodes:
                    read_redirect(self, node_redirect, pieces)
            except Unprovable as exc:
                sink.fail(exc.problem)
        if pieces.words:
            sink.fail("words after a redirection of a compound command")
        self.add(SimpleCommand((), redirects=tuple(pieces.redirects), problem=sink.problem, hazards=sink.liftable()))
        for later in pieces.later:
            self._try(later)

    @contextmanager
    def part_sink(self, sink: PartSink) -> Iterator[None]:
        saved, self._sink = self._sink, sink
        try:
            yield
        finally:
            self._sink = saved

    def command(self, node: Node, outer_redirects: list[Node]) -> None:
        sink = PartSink()
        pieces = Pieces()
        with self.part_sink(sink):
            try:
                self._pieces(node, outer_redirects, pieces)
                words = [w for group in pieces.words for w in self.words(group)]
                assigned = [self._prefix_assignment(a) for a in pieces.assignments]
            except Unprovable as exc:
                sink.fail(exc.problem)
                words = [Word(t, t) for t in node_text(node).split()]
                assigned = []
            self._build(words, assigned, pieces.redirects, sink)
        for later in pieces.later:
            self._try(later)

    def _prefix_assignment(self, node: Node) -> tuple[str, Word]:
        name, shown = self.assignment(node)
        name = name or node_text(node)
        return name, Word(node_text(node), f"{name}={shown}")

    def _pieces(self, node: Node, outer_redirects: list[Node], pieces: Pieces) -> None:
        check_gaps(node)
        last_end = -1
        previous: Node | None = None
        for i, child in enumerate(node.children):
            field_name = node.field_name_for_child(i)
            if (
                previous is not None
                and previous.end_byte == child.start_byte
                and "variable_assignment"
                in (
                    previous.type,
                    child.type,
                )
            ):
                raise Unprovable(f"an assignment joined to the next word: {node_text(node)!r}")
            previous = child
            if child.type == "variable_assignment":
                pieces.assignments.append(child)
            elif child.type in REDIRECTS:
                read_redirect(self, child, pieces)
            elif field_name in ("name", "argument"):
                targets = child.named_children if child.type == "command_name" else [child]
                if child.start_byte == last_end and pieces.words:
                    pieces.words[-1].extend(targets)
                else:
                    pieces.words.append(list(targets))
                last_end = child.end_byte
            elif child.is_named:
                raise Unprovable(f"unsupported shell syntax ({child.type}) in a command")
        for outer in outer_redirects:
            read_redirect(self, outer, pieces)

    def _build(
        self, words: list[Word], assigned: list[tuple[str, Word]], redirects: list[Redirect], sink: PartSink
    ) -> None:
        names = [name for name, _ in assigned]
        raw = [w for _, w in assigned] + words
        if not words:
            for name in names:
                if not shell_local_safe(name):
                    sink.fail(f"assigning {name} changes what later commands run")
            self.add(SimpleCommand((), tuple(raw), tuple(redirects), problem=sink.problem, hazards=sink.liftable()))
            return
        if sink.problem is None or not sink.other:
            try:
                self._add_unwrapped(unwrap(words), raw, names, redirects, sink)
                return
            except Unprovable as exc:
                sink.fail(exc.problem)
        self.add(
            SimpleCommand(tuple(words), tuple(raw), tuple(redirects), assignments=tuple(names), problem=sink.problem)
        )

    def _add_unwrapped(
        self, unwrapped: Unwrapped, raw: list[Word], names: list[str], redirects: list[Redirect], sink: PartSink
    ) -> None:
        inv = unwrapped.main
        unsafe = tuple(n for n in names if not env_safe(n) and not _builtin_local(n, inv))
        if inv is None:
            if redirects:
                self.add(SimpleCommand((), tuple(raw), tuple(redirects), problem=sink.problem, hazards=sink.liftable()))
        else:
            if inv.argv and program_name(inv.argv[0]) is None:
                sink.fail("the program name is an expansion")
            elif inv.argv and inv.argv[0].text in ("{", "}", "!", "[[", "]]"):
                sink.fail(f"the reserved word {inv.argv[0].text!r} read as a program")
            check_builtin(inv.argv, sink)
            writes = tuple(Redirect(">>", w.shown, dynamic=not w.static) for w in inv.writes)
            writes += tuple(Redirect("<", w.shown, dynamic=not w.static) for w in inv.reads)
            self.add(
                SimpleCommand(
                    tuple(inv.argv),
                    tuple(raw),
                    (*redirects, *writes),
                    assignments=(*names, *inv.assignments),
                    unsafe_assignments=(*unsafe, *(n for n in inv.assignments if not env_safe(n))),
                    wrappers=tuple(inv.wrappers),
                    escalates=inv.escalates,
                    cwd_changed=inv.chdir,
                    problem=sink.problem,
                    hazards=sink.liftable(),
                )
            )
            self._after(inv.argv)
        for extra in unwrapped.extra:
            self.add(
                SimpleCommand(
                    tuple(extra.argv),
                    tuple(raw),
                    assignments=tuple(extra.assignments),
                    unsafe_assignments=tuple(n for n in extra.assignments if not env_safe(n)),
                    wrappers=tuple(extra.wrappers),
                    escalates=extra.escalates,
                )
            )
        saved = self._inherited
        self._inherited = (*saved, *unsafe)
        try:
            for wrapper, script in unwrapped.scripts:
                self.walk_script(wrapper, script)
        finally:
            self._inherited = saved

    def add(self, part: SimpleCommand) -> None:
        """Record a part, stamped with where it runs and the unsafe names an enclosing command exported."""
        unsafe = (*part.unsafe_assignments, *self._inherited)
        self.parts.append(
            replace(part, cwd=self.cwd, cwd_changed=part.cwd_changed or self.cwd_changed, unsafe_assignments=unsafe)
        )

    # --- where the next commands run ---------------------------------------------------------------------------

    def _after(self, argv: list[Word]) -> None:
        name = program_name(argv[0]) if argv else None
        if name in ("cd", "pushd"):
            self._cd([w for w in argv[1:] if not (w.static and (w.value or "").startswith("-") and w.value != "-")])
        elif name == "popd":
            self.cwd, self.cwd_changed = None, True

    def _cd(self, operands: list[Word]) -> None:
        self.cwd_changed = True
        if self._loop or len(operands) > 1 or any(not w.static for w in operands):
            self.cwd = None
            return
        target = operands[0].value if operands else "~"
        if (
            target is None
            or target == "-"
            or (target.startswith("~") and not (target == "~" or target.startswith("~/")))
        ):
            self.cwd = None
            return
        if self.cwd is None:
            return
        moved: set[str] = set()
        for current in self.cwd:
            moved.add(target if target.startswith(("/", "~")) else posixpath.join(current, target))
        candidates = tuple(dict.fromkeys((*self.cwd, *sorted(moved))))
        self.cwd = candidates if len(candidates) <= _MAX_CWD else None


_STATEMENTS: dict[str, Callable[[Walker, Node], None]] = {
    "redirected_statement": Walker._redirected,
    "pipeline": Walker._isolated,
    "subshell": Walker._isolated,
    "compound_statement": Walker._compound,
    "while_statement": Walker._loop_statement,
    "for_statement": Walker._loop_statement,
    "c_style_for_statement": Walker._loop_statement,
    "case_statement": Walker._case,
    "function_definition": Walker._function,
    "variable_assignment": Walker._assignments,
    "variable_assignments": Walker._assignments,
}


_SPLITTING_BUILTINS = frozenset({"read", "mapfile", "readarray"})


def _builtin_local(name: str, inv: Invocation | None) -> bool:
    """`IFS= read -r line`: an IFS prefix on a builtin that splits input reaches no program."""
    if name != "IFS" or inv is None or not inv.argv or inv.wrappers:
        return False
    return program_name(inv.argv[0]) in _SPLITTING_BUILTINS
