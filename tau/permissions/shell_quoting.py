"""Bash's quoting and brace expansion over plain text: `decode_ansi_c` (`$'...'`) and `brace_expand`.

Owns the two text transformations bash applies that the parser leaves to us, and `Unprovable`, the exception every
part of the shell analysis raises for "cannot prove what this does". Characters carry a quoted flag (`Char`): quoted
characters are never syntax, so `'{a,b}'` and `\\{a,b}` stay one word. Where bash's result depends on the locale
(`\\u00e9`) or is odd (`\\c?`), `Unprovable`. Pure.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

__all__ = ["MAX_BRACE_WORDS", "Char", "Unprovable", "brace_expand", "decode_ansi_c", "has_brace_syntax"]

MAX_BRACE_WORDS = 64
_SEQUENCE = re.compile(r"(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?|([A-Za-z])\.\.([A-Za-z])(?:\.\.(-?\d+))?")

Char = tuple[str, bool]  # one character and whether it was quoted (quoted characters are never syntax)


class Unprovable(Exception):
    """The analysis cannot prove what this construct does; `problem` says why (one line)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


# --- ANSI-C quoting ------------------------------------------------------------------------------------------------

_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
_NUMERIC_ESCAPES = {"x": (16, 2), "u": (16, 4), "U": (16, 8)}
_HEX = frozenset("0123456789abcdefABCDEF")


def _byte(value: int) -> str:
    """One raw byte as Python keeps undecodable bytes (`surrogateescape`): what bash passes on."""
    return chr(value) if value < 0x80 else chr(0xDC00 + value)


def _numeric_escape(body: str, i: int, out: list[str]) -> int:
    kind = body[i + 1]
    base, width = _NUMERIC_ESCAPES[kind]
    j = i + 2
    while j < len(body) and j < i + 2 + width and body[j] in _HEX:
        j += 1
    if j == i + 2:
        out.append("\\" + kind)
        return j
    value = int(body[i + 2 : j], base)
    if kind == "x":
        out.append(_byte(value))
    elif value < 0x80:
        out.append(chr(value))
    else:
        raise Unprovable("a \\u escape in $'...' (its bytes depend on the locale)")
    return j


def decode_ansi_c(body: str) -> str:
    """The value of `$'body'` as bash computes it (a NUL ends the string)."""
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 >= len(body):
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt in "01234567":
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(_byte(int(body[i + 1 : j], 8) & 0xFF))
            i = j
        elif nxt in _NUMERIC_ESCAPES:
            i = _numeric_escape(body, i, out)
        elif nxt == "c" and i + 2 < len(body) and body[i + 2].isascii() and body[i + 2].isalpha():
            out.append(chr(ord(body[i + 2]) & 0x1F))
            i += 3
        elif nxt == "c":
            raise Unprovable("an unusual \\c escape in $'...'")
        else:
            out.append("\\" + nxt)
            i += 2
    value = "".join(out)
    return value.split("\0", 1)[0]


# --- brace expansion -----------------------------------------------------------------------------------------------


def has_brace_syntax(chars: Sequence[Char]) -> bool:
    return any(c == "{" and not q for c, q in chars) and any(c in ",." and not q for c, q in chars)


def brace_expand(chars: list[Char]) -> list[list[Char]]:
    """Bash brace expansion over quote-annotated characters. Raises Unprovable past `MAX_BRACE_WORDS` words."""
    out = _expand(chars, 0)
    if len(out) > MAX_BRACE_WORDS:
        raise Unprovable("brace expansion makes too many words")
    return out


def _expand(chars: list[Char], depth: int) -> list[list[Char]]:
    if depth > 16:
        raise Unprovable("brace expansion nested too deep")
    start = 0
    while True:
        found = _next_brace(chars, start)
        if found is None:
            return [chars]
        open_at, close_at, alternatives = found
        if alternatives is None:
            start = open_at + 1
            continue
        out: list[list[Char]] = []
        for alt in alternatives:
            out.extend(_expand(chars[:open_at] + alt + chars[close_at + 1 :], depth + 1))
            if len(out) > MAX_BRACE_WORDS:
                raise Unprovable("brace expansion makes too many words")
        return out


def _next_brace(chars: list[Char], start: int) -> tuple[int, int, list[list[Char]] | None] | None:
    """The first unquoted `{` at or after `start` with its closing `}` and alternatives (None: not an expansion)."""
    for i in range(start, len(chars)):
        c, quoted = chars[i]
        if c != "{" or quoted or (i > 0 and chars[i - 1] == ("$", False)):
            continue
        depth, commas, close = 0, [], -1
        for j in range(i, len(chars)):
            cj, qj = chars[j]
            if qj:
                continue
            if cj == "{":
                depth += 1
            elif cj == "}":
                depth -= 1
                if depth == 0:
                    close = j
                    break
            elif cj == "," and depth == 1:
                commas.append(j)
        if close < 0:
            continue
        if commas:
            bounds = [i, *commas, close]
            return i, close, [chars[a + 1 : b] for a, b in itertools.pairwise(bounds)]
        return i, close, _sequence(chars[i + 1 : close])
    return None


def _sequence(inner: list[Char]) -> list[list[Char]] | None:
    if any(q for _, q in inner):
        return None
    match = _SEQUENCE.fullmatch("".join(c for c, _ in inner))
    if match is None:
        return None
    if match.group(1) is not None:
        first, last, step_text = match.group(1), match.group(2), match.group(3)
        step = abs(int(step_text or "1")) or 1
        a, b = int(first), int(last)
        if abs(b - a) // step >= MAX_BRACE_WORDS:
            raise Unprovable("brace expansion makes too many words")
        padded = any(len(n.lstrip("-")) > 1 and n.lstrip("-").startswith("0") for n in (first, last))
        width = max(len(first), len(last)) if padded else 0
        values = range(a, b + (1 if b >= a else -1), step if b >= a else -step)
        return [[(ch, True) for ch in str(v).zfill(width)] for v in values]
    a_ch, b_ch, step_text = match.group(4), match.group(5), match.group(6)
    if a_ch.islower() != b_ch.islower():
        raise Unprovable("a brace sequence across letter cases")
    step = abs(int(step_text or "1")) or 1
    lo, hi = ord(a_ch), ord(b_ch)
    codes = range(lo, hi + (1 if hi >= lo else -1), step if hi >= lo else -step)
    return [[(chr(code), True)] for code in codes]
