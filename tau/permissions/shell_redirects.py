"""Redirections and here-documents of a command, read from the tree as bash reads them (`redirect`).

Owns the quirks of the grammar: `echo a >f b` makes `b` a destination node, but for bash it is an argument of the
command (returned as a further word group); in `cat <<EOF > f` the `> f` sits inside the here-doc node, and so does
the rest of the line after it (`cat <<EOF | grep x`, walked after the command); an unquoted here-doc body holds real
substitutions (walked), and a `$(`, backtick, `${` or `$[` left in its literal text means the parser did not see an
expansion bash will run (`Unprovable`). A redirection target must be one word; a computed one is `dynamic`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tree_sitter import Node

from tau.permissions.shell_types import Redirect
from tau.permissions.shell_words import Unprovable, check_gaps, node_text, scan

if TYPE_CHECKING:
    from tau.permissions.shell_walk import Walker

__all__ = ["REDIRECTS", "Pieces", "redirect"]

REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
_LOOSE_IN_HEREDOC = ("$(", "`", "${", "$[")


@dataclass
class Pieces:
    """What a command is made of: assignments, word groups, redirections, statements found inside a here-doc."""

    assignments: list[Node] = field(default_factory=list[Node])
    words: list[list[Node]] = field(default_factory=list[list[Node]])
    redirects: list[Redirect] = field(default_factory=list[Redirect])
    later: list[Node] = field(default_factory=list[Node])


def redirect(walker: Walker, node: Node, pieces: Pieces) -> None:
    if node.type == "herestring_redirect":
        for child in node.named_children:
            walker.words([child], braces=False)
        pieces.redirects.append(Redirect("<<<", node_text(node)))
    elif node.type == "heredoc_redirect":
        _heredoc(walker, node, pieces)
    else:
        _file_redirect(walker, node, pieces)


def _file_redirect(walker: Walker, node: Node, pieces: Pieces) -> None:
    check_gaps(node)
    fd: int | None = None
    op = ""
    groups: list[list[Node]] = []
    last_end = -1
    for i, child in enumerate(node.children):
        field_name = node.field_name_for_child(i)
        if field_name == "descriptor":
            fd = int(node_text(child)) if node_text(child).isdigit() else None
        elif field_name == "destination":
            if child.start_byte == last_end and groups:
                groups[-1].append(child)
            else:
                groups.append([child])
            last_end = child.end_byte
        elif not child.is_named:
            op += node_text(child)
        else:
            raise Unprovable(f"unsupported redirection {node_text(node)!r}")
    if not groups:
        if op not in (">&-", "<&-"):
            raise Unprovable(f"a redirection without a target: {node_text(node)!r}")
        pieces.redirects.append(Redirect(op, "-", fd))
        return
    targets = walker.words(groups[0])
    if len(targets) != 1:
        raise Unprovable(f"ambiguous redirection target {node_text(node)!r}")
    target = targets[0]
    pieces.redirects.append(Redirect(op, target.shown, fd, dynamic=not target.static))
    pieces.words.extend(groups[1:])  # `echo a >f b`: b is an argument of echo


def _heredoc(walker: Walker, node: Node, pieces: Pieces) -> None:
    start = node.child_by_field_name("start") or next((c for c in node.children if c.type == "heredoc_start"), None)
    delimiter = node_text(start) if start is not None else ""
    quoted = any(c in delimiter for c in "'\"\\")
    for child in node.children:
        if child.type == "heredoc_body":
            if not quoted:
                _heredoc_body(walker, child)
        elif child.type in REDIRECTS:
            redirect(walker, child, pieces)
        elif child.is_named and child.type not in ("heredoc_start", "heredoc_end"):
            pieces.later.append(child)  # `cat <<EOF | grep x`: the rest of the line sits inside the node
    op = next((node_text(c) for c in node.children if not c.is_named), "<<")
    pieces.redirects.append(Redirect(op, delimiter))


def _heredoc_body(walker: Walker, body: Node) -> None:
    data = body.text or b""
    literal = bytearray()
    position = body.start_byte
    for child in body.children:
        if child.type != "heredoc_content":
            literal += data[position - body.start_byte : child.start_byte - body.start_byte] + b" "
            position = child.end_byte
            scan(child, walker)
    literal += data[position - body.start_byte :]
    text = literal.decode("utf-8", "surrogateescape")
    if any(marker in text for marker in _LOOSE_IN_HEREDOC):
        raise Unprovable("a here-document substitution the parser did not separate")
