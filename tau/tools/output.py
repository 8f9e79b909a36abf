"""Shaping text for the model: line numbering, per-line and whole-output caps. Pure functions, no I/O."""

from __future__ import annotations

MAX_LINE_CHARS = 2000
"""Longest line shown by read and grep; longer lines are cut with a marker."""


def clip_line(line: str, max_chars: int = MAX_LINE_CHARS) -> str:
    if len(line) <= max_chars:
        return line
    return f"{line[:max_chars]}... [line truncated, {len(line) - max_chars} more characters]"


def numbered(line_number: int, line: str) -> str:
    """`cat -n` style: the 1-based number right-aligned in six columns, a tab, then the (clipped) line."""
    return f"{line_number:>6}\t{clip_line(line)}"


def split_lines(text: str) -> list[str]:
    """Lines without their terminators; a final newline does not start an extra empty line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def clip_middle(text: str, max_chars: int) -> str:
    """Keep the head and the tail of `text` within about `max_chars`, saying how much was cut from the middle.

    The tail gets the larger share: errors and summaries usually come last.
    """
    if len(text) <= max_chars:
        return text
    head = max_chars * 2 // 5
    tail = max_chars - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} characters cut ...]\n{text[-tail:]}"


def clip_head(text: str, max_chars: int, hint: str) -> str:
    """Keep whole lines from the start of `text` within `max_chars`, then a note with `hint` if anything was cut."""
    if len(text) <= max_chars:
        return text
    kept = text[:max_chars]
    newline = kept.rfind("\n")
    if newline > 0:
        kept = kept[:newline]
    shown = kept.count("\n") + 1
    total = text.count("\n") + 1
    return f"{kept}\n[output cut at {max_chars} characters: showing {shown} of {total} lines; {hint}]"
