"""Shell words: what one word of a tree-sitter-bash tree becomes when bash expands it (`evaluate -> list[Word]`).

Owns quote removal (`'...'`, `"..."`, `$'...'` with its escapes, `$"..."`, backslashes), brace expansion
(`{rm,-f,x}` is three words, `a{b,c}` two, `{1..3}` three; at most `MAX_BRACE_WORDS`) and the judgment of every
expansion inside a word:

- A word is *static* when bash gives it one value that does not depend on run-time state; `Word.value` holds it.
  Parameter expansions, command and process substitutions and arithmetic make it dynamic (`value` None); unquoted
  `*`, `?`, `[` make it a pattern (`glob`): file names replace it, so it may become any word, an option included.
- Command and process substitutions (`$(...)`, backticks, `<(...)`, `>(...)`), wherever they sit (in double quotes,
  parameter-expansion defaults and patterns, subscripts, arithmetic), are handed to the `WordSink`, whose walker
  analyses the commands inside them.
- Expansions that evaluate text as code are *hazards*, reported to the sink with their source text: arithmetic that
  names a variable (`$((x))`, `$[x]`; bash evaluates `x='a[$(cmd)]'` and runs cmd), array subscripts that are not
  plain numbers (`${a[x]}`), substring offsets that are not numbers (`${x:y}`), indirect expansion (`${!x}`), every
  `${x@...}` transformation (`@P` runs substitutions), and `${x:=...}` assigning a name `shell_local_safe` refuses.
- Syntax this module does not know, or a word where tree-sitter and bash could disagree (an unescaped `$` left in a
  plain word), raises `Unprovable`; the caller turns it into "cannot prove" (ask).

Quote decoding (`$'...'`) and brace expansion are in `shell_quoting`. Pure: no I/O; the tree-sitter nodes come
from the caller.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tree_sitter import Node

from tau.permissions.envnames import shell_local_safe
from tau.permissions.shell_quoting import (
    MAX_BRACE_WORDS,
    Char,
    Unprovable,
    brace_expand,
    decode_ansi_c,
    has_brace_syntax,
)

__all__ = [
    "MAX_BRACE_WORDS",
    "Unprovable",
    "Word",
    "WordSink",
    "check_arithmetic",
    "check_gaps",
    "decode_ansi_c",
    "evaluate",
    "node_text",
    "scan",
]

_GLOB_CHARS = frozenset("*?[")
_LOOSE_DOLLAR = re.compile(r"(?<!\\)(?:\\\\)*\$[A-Za-z0-9_{(\[@*#?$!-]|(?<!\\)(?:\\\\)*`")
_NAME_START = re.compile(r"[A-Za-z0-9_{(\[@*#?$!-]")
_NUMBER = re.compile(r"\s*-?\d+\s*")
_SUBSTITUTIONS = frozenset({"command_substitution", "process_substitution"})
_NAMING = frozenset(
    {"variable_name", "simple_expansion", "expansion", "subscript", "special_variable_name", *_SUBSTITUTIONS}
)
_SAFE_INDEX = frozenset({"@", "*"})


class WordSink(Protocol):
    """What a word reports while it is evaluated."""

    def substitution(self, node: Node) -> None:
        """A command or process substitution: its commands run."""

    def hazard(self, reason: str, snippet: str) -> None:
        """An expansion that evaluates text as code; `snippet` is its source."""


@dataclass(frozen=True)
class Word:
    """One word after expansion. `text` is the source as written; `value` the static value (None: run-time)."""

    text: str
    value: str | None
    glob: bool = False

    @property
    def static(self) -> bool:
        """True when the word has exactly this value whatever the run-time state."""
        return self.value is not None and not self.glob

    @property
    def shown(self) -> str:
        """What permission rules compare: the value when static, else the source as written."""
        return self.value if self.value is not None and not self.glob else self.text


def node_text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "surrogateescape")


def check_gaps(node: Node, *, blanks: bytes = b" \t") -> None:
    """Raise `Unprovable` when the parser skipped anything but `blanks` between the children of `node`: `x \\ rm`
    is one argument ` rm` for bash, the parser drops the backslash; in a command only spaces and tabs separate
    words, in a list newlines too."""
    data = node.text or b""
    children = node.children
    if not children:
        return
    edges = [(node.start_byte, children[0].start_byte), (children[-1].end_byte, node.end_byte)]
    edges += [(before.end_byte, after.start_byte) for before, after in itertools.pairwise(children)]
    for start, end in edges:
        gap = data[start - node.start_byte : end - node.start_byte]
        if gap.strip(blanks):
            raise Unprovable(f"text the parser skipped between words: {gap.decode('utf-8', 'surrogateescape')!r}")


# --- evaluation ----------------------------------------------------------------------------------------------------


def evaluate(nodes: Sequence[Node], sink: WordSink, *, braces: bool = True) -> list[Word]:
    """The words bash makes of the adjacent `nodes` (one shell word). Brace expansion only when `braces`."""
    collector = _Collector(sink)
    pieces = _flatten(nodes)
    for i, node in enumerate(pieces):
        if i > 0 and node.start_byte != pieces[i - 1].end_byte:
            raise Unprovable(f"a gap inside the word {''.join(node_text(n) for n in nodes)!r}")
        if _joined_to_next(pieces, i):
            continue  # `$"x"`: tree-sitter splits the translated string in two
        collector.add(node)
    text = "".join(node_text(n) for n in nodes) if len(nodes) != 1 else node_text(nodes[0])
    if collector.dynamic:
        if braces and has_brace_syntax(collector.chars):
            raise Unprovable(f"brace expansion around an expansion in {text!r}")
        return [Word(text, None, _is_glob(collector.chars))]
    expanded = brace_expand(collector.chars) if braces else [collector.chars]
    if len(expanded) > 1:
        expanded = [chars for chars in expanded if chars]  # bash drops the empty words of `{,a}`
    return [Word(text, "".join(c for c, _ in chars), _is_glob(chars)) for chars in expanded]


def _flatten(nodes: Sequence[Node]) -> list[Node]:
    """The pieces of one word: concatenations opened up, so neighbours across them are seen."""
    out: list[Node] = []
    for node in nodes:
        if node.type == "concatenation":
            out.extend(_flatten(node.children))
        else:
            out.append(node)
    return out


def _joined_to_next(nodes: Sequence[Node], i: int) -> bool:
    """True for a `$` the next node takes (`$"x"`, a translated string): skip it. Raises `Unprovable` where the
    parser split what bash reads as one token: a `$` before a name (`$x` as two nodes), a backslash ending a node
    (it escapes the first character of the next one)."""
    node = nodes[i]
    if i + 1 >= len(nodes):
        return False
    text = node_text(node)
    if node.type == "$" and text.endswith("$") and not _escaped_end(text):
        if _starts_with_string(nodes[i + 1]):
            if text != "$":
                raise Unprovable(f"a translated string the parser split oddly: {text!r}")
            return True
        if _NAME_START.match(node_text(nodes[i + 1])):
            raise Unprovable(f"an expansion the parser split in two: {text + node_text(nodes[i + 1])!r}")
    if node.type in ("word", "$") and _escaped_end(text + " "):
        raise Unprovable(f"a backslash the parser did not apply in {text + node_text(nodes[i + 1])!r}")
    return False


def _escaped_end(text: str) -> bool:
    """True when the last character of `text` is escaped by an odd run of backslashes before it."""
    body = text[:-1]
    return (len(body) - len(body.rstrip("\\"))) % 2 == 1


def _starts_with_string(node: Node) -> bool:
    while node.type == "concatenation" and node.children:
        node = node.children[0]
    return node.type == "string"


def _is_glob(chars: Sequence[Char]) -> bool:
    return any(c in _GLOB_CHARS and not quoted for c, quoted in chars)


class _Collector:
    """Accumulates the characters of one word, noting whether any part depends on run-time state."""

    def __init__(self, sink: WordSink) -> None:
        self.sink = sink
        self.chars: list[Char] = []
        self.dynamic = False

    def add(self, node: Node) -> None:
        kind = node.type
        if kind == "$" and node_text(node) != "$":
            raise Unprovable(f"an odd `$` token {node_text(node)!r}")
        if kind in ("word", "number", "extglob_pattern", "brace_expression", "regex", "$", "special_variable_name"):
            self._unquoted(node_text(node))
        elif kind == "raw_string":
            self.chars.extend((c, True) for c in node_text(node)[1:-1])
        elif kind == "ansi_c_string":
            self.chars.extend((c, True) for c in decode_ansi_c(node_text(node)[2:-1]))
        elif kind == "translated_string":
            check_gaps(node, blanks=b"")
            for child in node.children:
                if child.type == "string":
                    self._string(child)
        elif kind == "string":
            self._string(node)
        elif kind == "concatenation":
            self._concatenation(node)
        elif kind in ("simple_expansion", "expansion", "arithmetic_expansion") or kind in _SUBSTITUTIONS:
            self.dynamic = True
            scan(node, self.sink)
        else:
            raise Unprovable(f"unsupported shell syntax ({kind}) in {node_text(node)!r}")

    def _concatenation(self, node: Node) -> None:
        children = node.children
        for i, child in enumerate(children):
            if i > 0 and child.start_byte != children[i - 1].end_byte:
                raise Unprovable(f"a gap inside the word {node_text(node)!r}")
            if _joined_to_next(children, i):
                continue
            self.add(child)

    def _unquoted(self, text: str) -> None:
        if _LOOSE_DOLLAR.search(text):
            raise Unprovable(f"an expansion the parser did not separate in {text!r}")
        if "\n" in text:
            raise Unprovable(f"a newline inside the word {text!r} (bash ends the command there)")
        i = 0
        while i < len(text):
            c = text[i]
            if c == "\\" and i + 1 < len(text):
                if text[i + 1] != "\n":
                    self.chars.append((text[i + 1], True))
                i += 2
                continue
            if c in " \t":
                raise Unprovable(f"a blank inside the word {text!r} (bash splits it there)")
            self.chars.append((c, False))
            i += 1

    def _string(self, node: Node) -> None:
        """`"..."`: the literal text is every byte between the quotes that no expansion node covers (the parser
        leaves newlines out of its `string_content` nodes, so they are taken from the source, not the nodes)."""
        data = node.text or b""
        literal = bytearray()
        position = node.start_byte + 1
        for child in node.children:
            if child.type in ('"', "string_content", "$"):
                continue
            literal += data[position - node.start_byte : child.start_byte - node.start_byte]
            self._quoted_literal(bytes(literal))
            literal.clear()
            position = child.end_byte
            self.add(child)  # an expansion: adds no characters, makes the word dynamic
        literal += data[position - node.start_byte : len(data) - 1]
        self._quoted_literal(bytes(literal))

    def _quoted_literal(self, data: bytes) -> None:
        content = data.decode("utf-8", "surrogateescape")
        if _LOOSE_DOLLAR.search(content):
            raise Unprovable(f"an expansion the parser did not separate in {content!r}")
        self.chars.extend((c, True) for c in _unescape_double(content))


def _unescape_double(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in '$`"\\\n':
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


# --- expansions that run code --------------------------------------------------------------------------------------


def scan(node: Node, sink: WordSink) -> None:
    """Report the substitutions and hazards inside an expansion (or any node) to `sink`."""
    kind = node.type
    if kind in _SUBSTITUTIONS:
        sink.substitution(node)
    elif kind == "arithmetic_expansion":
        _arithmetic(node, sink)
    elif kind == "expansion":
        _parameter(node, sink)
    elif kind == "subscript":
        _subscript(node, sink)
    elif node.child_count == 0 and node.is_named and _LOOSE_DOLLAR.search(node_text(node)):
        raise Unprovable(f"an expansion the parser did not separate in {node_text(node)!r}")
    else:
        for child in node.children:
            scan(child, sink)


def _arithmetic(node: Node, sink: WordSink) -> None:
    if _names_variable(node):
        sink.hazard("arithmetic on a variable", node_text(node))
    for child in node.children:
        scan(child, sink)


def check_arithmetic(node: Node, sink: WordSink) -> None:
    """`((...))`, `let` and friends: a hazard when the expression names anything but numbers."""
    _arithmetic(node, sink)


def _names_variable(node: Node) -> bool:
    """True when an arithmetic expression refers to anything but literal numbers and operators."""
    for child in node.children:
        if child.type in _NAMING or (child.type == "word" and not _NUMBER.fullmatch(node_text(child))):
            return True
        if child.type not in _SUBSTITUTIONS and _names_variable(child):
            return True
    return False


def _parameter(node: Node, sink: WordSink) -> None:
    children = node.children
    snippet = node_text(node)
    after_colon = False
    name: str | None = None
    for i, child in enumerate(children):
        kind, text = child.type, node_text(child)
        if kind == "variable_name" and name is None:
            name = text
        if i == 1 and text == "!":
            sink.hazard("indirect expansion", snippet)
        elif text == "@" and i > 1:
            sink.hazard("a ${...@...} transformation", snippet)
        elif kind == "subscript":
            _subscript(child, sink)
        elif text == ":" and not child.is_named:
            after_colon = True
        elif text in ("=", ":=") and not child.is_named and name is not None and not shell_local_safe(name):
            sink.hazard(f"assignment to {name} inside an expansion", snippet)
        elif after_colon and kind not in ("}", ":") and not _NUMBER.fullmatch(text):
            sink.hazard("a substring offset that is not a number", snippet)
            scan(child, sink)
        else:
            scan(child, sink)


def _subscript(node: Node, sink: WordSink) -> None:
    index = node.child_by_field_name("index")
    if index is None:
        return
    text = node_text(index)
    if not (_NUMBER.fullmatch(text) or text in _SAFE_INDEX):
        sink.hazard("an array subscript that is not a number", node_text(node))
    scan(index, sink)
