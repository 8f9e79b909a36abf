"""Terminal-safe text: escape sequences and controls from a model never reach the terminal."""

from __future__ import annotations

import io

import pytest

from tau.cli.render import TextRenderer
from tau.protocol import Notice, RunCompleted, UsageTotals
from tau.protocol.printable import printable

HOSTILE = [
    ("\x1b[2J\x1b[Hcleared", "cleared"),
    ("title\x1b]0;pwned\x07 done", "title done"),
    ("clip\x1b]52;c;ZXZpbA==\x1b\\ done", "clip done"),
    ("dcs\x1bPq#0;2;0;0;0\x1b\\ done", "dcs done"),
    ("bell\x07 back\x08space", "bell backspace"),
    ("8bit\x9b31m red", "8bit red"),
    ("cr\roverwrite", "croverwrite"),
    ("bidi \u202eevil\u202c text", "bidi evil text"),
    ("lone esc \x1b", "lone esc "),
    ("keep\nlines\tand tabs", "keep\nlines\tand tabs"),
    ("plain ünïcödé ✓", "plain ünïcödé ✓"),
]


@pytest.mark.parametrize(("raw", "clean"), HOSTILE)
def test_printable(raw: str, clean: str) -> None:
    assert printable(raw) == clean
    assert "\x1b" not in printable(raw, one_line=True) and "\n" not in printable(raw, one_line=True)


def test_text_output_and_status_line_strip_controls() -> None:
    out, err = io.StringIO(), io.StringIO()
    renderer = TextRenderer(out, err, tty=True)
    renderer(Notice(seq=0, message="see \x1b]8;;http://evil\x07link\x1b]8;;\x07 \x1b[31mred"))
    renderer(
        RunCompleted(
            seq=1,
            status="completed",
            terminal_reason="completed",
            exit_code=0,
            session_id="s",
            result="answer \x1b[1A\x1b[2Kforged line",
            usage=UsageTotals(),
        )
    )
    assert out.getvalue() == "answer forged line\n"
    shown = err.getvalue().replace("\r\x1b[2K", "")  # tau's own status-line control, nothing else
    assert "\x1b" not in shown and "link red" in shown


def test_scrub_replaces_lone_surrogates_only() -> None:
    from tau.protocol.printable import scrub, scrub_value

    assert scrub("ok \udcff \ud83d") == "ok \ufffd \ufffd"
    assert scrub("emoji 😀 stays") == "emoji 😀 stays"
    assert scrub_value({"command": "echo \udcff", "n": [1, "\ud800"]}) == {"command": "echo \ufffd", "n": [1, "\ufffd"]}
