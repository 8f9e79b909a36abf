"""Parsing a command line with tree-sitter-bash the way bash reads it: `parse(source) -> (source, root node)`.

Owns the parser (built once, on first use: importing tree-sitter costs ~7 ms) and one correction: bash removes a
backslash-newline (a line continuation) before it splits words, tree-sitter does not (`r\\<newline>m -rf x` would be
the program `r`). Continuations outside single quotes, `$'...'`, comments and quoted here-documents are removed and
the text parsed again. The tree always comes back; `root.has_error` says whether it parsed. `misplaced_comment`
finds the other place the two disagree: a `#` after an escaped blank starts a comment for the parser, not for bash.
Pure.
"""

from __future__ import annotations

from functools import cache

from tree_sitter import Language, Node, Parser

from tau.permissions.shell_words import node_text

__all__ = ["misplaced_comment", "parse"]


@cache
def _parser() -> Parser:
    import tree_sitter_bash

    return Parser(Language(tree_sitter_bash.language()))


def parse(source: str) -> tuple[str, Node]:
    """Parse, joining backslash-newline line continuations where bash joins them, then parse again."""
    tree = _parser().parse(source.encode("utf-8", "surrogateescape"))
    if "\\\n" not in source:
        return source, tree.root_node
    data = source.encode("utf-8", "surrogateescape")
    cuts = [i for i in _continuations(data) if _joins(tree.root_node, i)]
    if not cuts:
        return source, tree.root_node
    out = bytearray()
    previous = 0
    for cut in cuts:
        out += data[previous:cut]
        previous = cut + 2
    out += data[previous:]
    joined = out.decode("utf-8", "surrogateescape")
    return joined, _parser().parse(bytes(out)).root_node


def _continuations(data: bytes) -> list[int]:
    """Offsets of backslashes that escape a newline (an odd run of backslashes before it)."""
    out = []
    for i in range(1, len(data)):
        if data[i] == 0x0A and data[i - 1] == 0x5C:
            run = 0
            j = i - 1
            while j >= 0 and data[j] == 0x5C:
                run += 1
                j -= 1
            if run % 2 == 1:
                out.append(i - 1)
    return out


def _joins(root: Node, offset: int) -> bool:
    """True when bash removes the backslash-newline at `offset` (not in single quotes, a comment or a quoted
    here-document)."""
    node: Node | None = root.descendant_for_byte_range(offset, offset + 1)
    while node is not None:
        if node.type in ("raw_string", "ansi_c_string", "comment"):
            return False
        if node.type == "heredoc_body":
            parent = node.parent
            start = next((c for c in parent.children if c.type == "heredoc_start"), None) if parent else None
            return not (start is not None and any(c in node_text(start) for c in "'\"\\"))
        node = node.parent
    return True


def misplaced_comment(source: str, root: Node) -> bool:
    """True when the parser reads a comment where bash does not: bash starts a comment only at the start of a word,
    so `x \\ #; rm -rf /` runs rm (the `#` follows an escaped blank, it is inside the word ` #`)."""
    if "#" not in source:
        return False
    data = source.encode("utf-8", "surrogateescape")
    start = data.find(b"#")
    while start >= 0:
        node = root.descendant_for_byte_range(start, start + 1)
        if node is not None and node.type == "comment" and node.start_byte == start and not _word_start(data, start):
            return True
        start = data.find(b"#", start + 1)
    return False


def _word_start(data: bytes, i: int) -> bool:
    if i == 0:
        return True
    previous = data[i - 1 : i]
    if previous in (b";", b"&", b"|", b"(", b")"):
        return True
    if previous not in (b" ", b"\t", b"\n"):
        return False
    run = 0
    j = i - 2
    while j >= 0 and data[j : j + 1] == b"\\":
        run += 1
        j -= 1
    return run % 2 == 0
