"""Differential test: the words the analysis computes are the words bash really passes to the program.

Each line runs under the real `/bin/bash` with an empty PATH and a `command_not_found_handle` that prints the argv
it receives (base64, so any byte survives), so nothing but the handler runs. The lines use only external command
names, static words and `;`/`&&`/newlines (no builtins, no pipelines, no redirections).
"""

from __future__ import annotations

import base64
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from tau.permissions.shell import analyse

BASH = shutil.which("bash", path="/bin:/usr/bin")
HANDLER = (
    'command_not_found_handle() { for a in "$@"; do printf %s "$a" | /usr/bin/base64 -w0; printf " ."; done; echo; }\n'
)

LINES = [
    "xrm a",
    "\\x\\r\\m a",
    "x'a b'c",
    'x "a\\"b" c',
    "x $'a\\tb'",
    "x $'\\x41\\101\\cA'",
    "x $'\\xff\\377'",
    "x $'a\\0b'",
    "x $'\\''",
    "x $'\\x'",
    "x $'\\z'",
    'x $"hello"',
    "x 'a'\"b\"c",
    "x a\\ b",
    "x {a,b}c",
    "x {a..c}",
    "x {1..10..3}",
    "x {01..03}",
    "x {0..-3}",
    "x {5..1}",
    "x {-2..2}",
    "x {a..e..2}",
    "x a{b,{c,d}}e",
    "x {a}",
    "x {}",
    'x "{a,b}"',
    "x \\{a,b}",
    "x {a,b",
    "x a,b}",
    "x {a,b}{c,d}",
    "x {,a}",
    "x {a,}",
    "x {{a,b}}",
    "x {a,b\\,c}",
    'x {"a,b"}',
    'x {a","b}',
    "x {a,'b,c'}",
    "x a{1..2}{a,b}",
    'x {1..3}"x"',
    'x {a,b}""',
    'x ""',
    "x ''",
    'x "" a',
    'x a""b',
    "x a~",
    'x "~"',
    "x a#b",
    "x a #b",
    "x \\#a",
    "x a\\\nb",
    'x "a\\\nb"',
    "x 'a\\\nb'",
    'x "$"',
    "x \\$x",
    'x "a\\b"',
    'x "\\$"',
    "x \\\\",
    'x "\\\\"',
    "r\\\nm -rf x",
    "x a; y b",
    "x a && y 'b c'",
    "x a\ny b",
    "x a # comment\ny b",
    "x a\\;b",
    "x 'a;b' \"c&&d\"",
    "x a=b c=d",
    "x -- -a",
    "x $'\\e[1m'",
    "x $'\\n'",
    "x $'\\\\'",
    'x "a  b"',
    'x "a\nb"',  # the parser leaves newlines out of string contents
    'x $"]#]"1,',
    "x a$\"''\n'[\"-",
    'x \\$"b"',
    'x a$"b"',
    "x {a,b}$'c'",
]


def _bash_argvs(line: str, cwd: Path) -> list[tuple[str, ...]]:
    assert BASH is not None
    result = subprocess.run(
        [BASH, "-c", HANDLER + line],
        capture_output=True,
        env={"PATH": "/nonexistent", "HOME": "/home/me", "LC_ALL": "C"},
        cwd=cwd,
        timeout=10,
        check=False,
    )
    argvs = []
    for row in result.stdout.decode().splitlines():
        argvs.append(tuple(base64.b64decode(t).decode("utf-8", "surrogateescape") for t in row.split(" .")[:-1]))
    return argvs


DIVERGENT = [
    "x a\\\tb",  # an escaped tab: one word for bash, two for the parser
    "x a\rb",  # carriage return, vertical tab, form feed: blanks to the parser, not to bash
    "x a\vb",
    "x a\fb",
    "x \\ #; y",  # `#` after an escaped blank: inside a word for bash, a comment for the parser
    "x \n\n\\y z",  # the parser folds the next line into a word
    "x $\n\\y z",
    "x\n\\ y z",  # the parser drops the escaped blank
    "x } ]",  # the parser makes one word with a blank in it
    "x ;}a$3",  # `$3` split over two nodes
    'x -$"y"',  # a translated string split oddly
    '[$"x"[*#x]',  # one word for bash, a test command for the parser
    "x $'\\u00e9'",  # locale-dependent bytes
    "x \\ \n",  # a trailing escaped blank: a word for bash, dropped by the parser
    "x; {}",  # `{}` is a command word for bash, an empty group for the parser
    "{ls; }",
    "1=1}\\..",  # `1=` is not an assignment for bash
    'x -$\\ "y"',
]


@pytest.mark.parametrize("line", DIVERGENT)
def test_where_the_parser_and_bash_disagree_nothing_is_proven(line: str) -> None:
    assert not analyse(line).parseable


@pytest.mark.skipif(BASH is None, reason="no bash on this machine")
@pytest.mark.parametrize("line", LINES)
def test_words_match_what_bash_passes(line: str, tmp_path: Path) -> None:
    analysis = analyse(line)
    assert analysis.parseable, analysis.first_problem
    mine = [tuple(w.value if w.static else "<dynamic>" for w in c.raw or c.words) for c in analysis.commands]
    assert mine == _bash_argvs(line, tmp_path)


_PIECES = [
    "x", "y", "a", " ", " ", "'", '"', "\\", "{", "}", ",", ";", "#", "\n", "$", "..", "=", "1", "3", "$'", '$"',
    "\\\n", "\t", "-", "*", "?", "[", "]", "\\ ", '"\\',
]  # fmt: skip


def _bash_refuses(line: str, cwd: Path) -> bool:
    assert BASH is not None
    result = subprocess.run([BASH, "-n", "-c", line], capture_output=True, cwd=cwd, timeout=10, check=False)
    return result.returncode != 0


@pytest.mark.skipif(BASH is None, reason="no bash on this machine")
def test_random_lines_that_the_analysis_proves_match_bash(tmp_path: Path) -> None:
    """Seeded random lines of quotes, escapes, braces, separators and comments: whenever the analysis proves a
    line (static words only), bash must run exactly those words. Lines it cannot prove are skipped."""
    rng = random.Random(20261204)
    checked = 0
    for _ in range(600):
        line = "x " + "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 12)))
        analysis = analyse(line)
        if not analysis.parseable or any(not w.static for c in analysis.commands for w in c.words):
            continue
        checked += 1
        if _bash_refuses(line, tmp_path):
            continue  # e.g. a stray `;;`: the parser accepts it, bash runs nothing
        mine = [tuple(w.value for w in c.words) for c in analysis.commands]
        assert mine == _bash_argvs(line, tmp_path), line
    assert checked > 100
