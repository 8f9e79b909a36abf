"""Terminal-safe text: model- and tool-controlled strings with control sequences removed before tau prints them.

A model (or a file it read, or a tool's output) can hold escape sequences that move the cursor, rewrite earlier
lines, set the window title, write to the clipboard (OSC 52), or hide text with bidirectional overrides. tau's text
output, status line and TTY prompts print such strings through `printable`. Removed: ANSI/VT escape sequences
(CSI, OSC, DCS, SOS/PM/APC, two-byte ESC forms), the other C0 controls and DEL, C1 controls, and Unicode bidi
embedding/override/isolate characters. Kept: `\\n` and `\\t` (turned into spaces with `one_line=True`).
JSON outputs are not touched: their encoder escapes control characters already. Pure; a protocol leaf.
"""

from __future__ import annotations

import re

__all__ = ["printable", "scrub", "scrub_value"]

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, terminated by BEL or ST (or cut off)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]?"  # other ESC sequences, and a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_BREAKS = re.compile(r"[\n\t]+")


def printable(text: str, *, one_line: bool = False) -> str:
    """`text` without control sequences (see the module docstring); `one_line` also folds newlines and tabs."""
    if text.isprintable():
        return text
    cleaned = _CONTROLS.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n")))
    return _BREAKS.sub(" ", cleaned) if one_line else cleaned


_SURROGATES = re.compile("[\ud800-\udfff]")


def scrub(text: str) -> str:
    """`text` with lone UTF-16 surrogates (which JSON escapes such as `\\udcff` can put in a Python str, and which
    no UTF-8 encoder accepts) replaced by U+FFFD. A str never holds a valid pair: decoding joins those."""
    return _SURROGATES.sub("\ufffd", text) if _SURROGATES.search(text) else text


def scrub_value(value: object) -> object:
    """`scrub` through the strings of a JSON-like value (dict keys included)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(k)) if isinstance(k, str) else k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v) for v in value]
    return value
