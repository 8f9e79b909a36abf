"""Shell splitting: every simple command a line would run, and everything we refuse to analyse."""

from __future__ import annotations

import pytest

from tau.permissions.readonly import is_read_only
from tau.permissions.shell import Redirect, ShellAnalysis, SimpleCommand, analyse

Argvs = list[tuple[str, ...]]

SPLITS: list[tuple[str, Argvs]] = [
    ("ls -la", [("ls", "-la")]),
    ("echo x && rm -rf /", [("echo", "x"), ("rm", "-rf", "/")]),
    ("a || b; c", [("a",), ("b",), ("c",)]),
    ("cat a | grep b | wc -l", [("cat", "a"), ("grep", "b"), ("wc", "-l")]),
    ("ls |& grep x", [("ls",), ("grep", "x")]),
    ("sleep 1 & rm x", [("sleep", "1"), ("rm", "x")]),
    ("git status\nrm x", [("git", "status"), ("rm", "x")]),
    ("echo $(rm x)", [("rm", "x"), ("echo", "$(...)")]),
    ("echo `rm x`", [("rm", "x"), ("echo", "$(...)")]),
    ('echo "a && $(whoami)"', [("whoami",), ("echo", "a && $(...)")]),
    ('echo "$(echo `rm y`)"', [("rm", "y"), ("echo", "$(...)"), ("echo", "$(...)")]),
    ("echo $(ls $(rm z))", [("rm", "z"), ("ls", "$(...)"), ("echo", "$(...)")]),
    ("echo 'a && b; rm x'", [("echo", "a && b; rm x")]),
    ('echo "a | b"', [("echo", "a | b")]),
    ("echo a\\;rm", [("echo", "a;rm")]),
    ("(cd sub && make)", [("cd", "sub"), ("make",)]),
    ("{ ls; pwd; }", [("ls",), ("pwd",)]),
    ("! grep -q x f", [("grep", "-q", "x", "f")]),
    ("FOO=1 BAR='a b' npm test", [("npm", "test")]),
    ("timeout 10 npm test", [("npm", "test")]),
    ("timeout -s KILL 5 nice -n 5 env -i A=1 nohup time -p npm test", [("npm", "test")]),
    ("nice -10 make", [("make",)]),
    ("command git push", [("git", "push")]),
    ("command -v git", [("command", "-v", "git")]),
    ("find . -name '*.py' | xargs -n 1 -I {} rm {}", [("find", ".", "-name", "*.py"), ("rm", "{}")]),
    ("ls | xargs", [("ls",), ("echo",)]),
    ("bash -c 'rm -rf / && ls'", [("rm", "-rf", "/"), ("ls",)]),
    ('sh -lc "echo hi"', [("echo", "hi")]),
    ("bash script.sh", [("bash", "script.sh")]),
    ("sudo rm x", [("sudo", "rm", "x")]),
    ("ls # && rm x", [("ls",)]),
    ("ls \\\n  -la", [("ls", "-la")]),
    ("echo ${HOME}/x", [("echo", "${HOME}/x")]),
    ("echo $((1 + 2))", [("echo", "$(...)")]),
    ("cat <<< 'hi there'", [("cat",)]),
    ("", []),
    ("   ", []),
]


@pytest.mark.parametrize(("command", "expected"), SPLITS)
def test_split_into_simple_commands(command: str, expected: Argvs) -> None:
    analysis = analyse(command)
    assert analysis.problem is None
    assert [c.argv for c in analysis.commands] == expected


UNPARSEABLE: list[tuple[str, str, Argvs]] = [
    ("echo 'unbalanced", "unbalanced single quote", []),
    ('echo "unbalanced', "unbalanced double quote", []),
    ("echo `x", "unbalanced backtick", []),
    ("echo $(x", "unbalanced '('", []),
    ("ls )", "unbalanced ')'", []),
    ("cat <<EOF\nrm x\nEOF", "heredoc", []),
    ("diff <(ls a) <(ls b)", "process substitution", []),
    ("tee >(wc -l)", "process substitution", []),
    ("eval 'rm -rf /'", "'eval' runs a string as a command", [("rm", "-rf", "/")]),
    ("$CMD arg", "command name is an expansion", [("$CMD", "arg")]),
    ("if true; then rm -rf /; fi", "shell keyword 'if'", [("true",), ("rm", "-rf", "/")]),
    ("for f in *; do rm $f; done", "shell keyword 'for'", [("for", "f", "in", "*"), ("rm", "$f")]),
    ("case x in a) ls;; esac", "unbalanced ')'", []),
    ("f() { rm x; }", "'(' inside a command (function definition or array)", []),
    ("a=(1 2)", "'(' inside a command (function definition or array)", []),
    ("env -S 'rm x'", "unknown env option '-S'", [("env", "-S", "rm x")]),
    ("ls; eval x; rm y", "'eval' runs a string as a command", [("ls",), ("x",), ("rm", "y")]),
    ("echo $(eval x)", "'eval' runs a string as a command", [("x",), ("echo", "$(...)")]),
    ("echo trailing\\", "trailing backslash", []),
    ("ls > $(mktemp)", "command substitution in a redirection target", []),
    ("echo $((1 + $(rm x)))", "command substitution inside arithmetic expansion", []),
    ("bash -c " + "'bash -c \"" * 1 + "x\"'", "", [("x",)]),  # nested -c is fine
]


@pytest.mark.parametrize(("command", "problem", "found"), UNPARSEABLE)
def test_unparseable_input_is_flagged_and_keeps_parts_found(command: str, problem: str, found: Argvs) -> None:
    analysis = analyse(command)
    assert analysis.problem == (problem or None)
    assert [c.argv for c in analysis.commands] == found


def test_deep_nesting_is_unparseable() -> None:
    command = "echo " + "$(" * 12 + "x" + ")" * 12
    assert analyse(command).problem == "command nesting too deep"


def test_redirections_are_kept_off_the_words() -> None:
    assert analyse("ls -la 2>/dev/null > out.txt 2>&1 < in").commands == (
        SimpleCommand(
            argv=("ls", "-la"),
            raw_argv=("ls", "-la"),
            redirects=(Redirect(">", "/dev/null"), Redirect(">", "out.txt"), Redirect(">&", "1"), Redirect("<", "in")),
        ),
    )


@pytest.mark.parametrize(
    ("command", "writes"),
    [
        ("ls > out", True),
        ("ls >> 'my file'", True),
        ("ls &> log", True),
        ("ls 2>/dev/null", False),
        ("ls 2>&1", False),
        ("grep '>' file", False),
        ("cat < in", False),
        ("> truncated", True),
    ],
)
def test_redirect_writes(command: str, writes: bool) -> None:
    commands = analyse(command).commands
    assert any(c.writes_files for c in commands) is writes


def test_raw_argv_keeps_wrappers_and_assignments() -> None:
    assert analyse("FOO=1 timeout 5 rm x").commands == (
        SimpleCommand(argv=("rm", "x"), raw_argv=("FOO=1", "timeout", "5", "rm", "x")),
    )
    assert analyse("FOO=1 timeout 5 rm x").commands[0].raw_text == "FOO=1 timeout 5 rm x"


def test_analysis_value() -> None:
    assert analyse("pwd") == ShellAnalysis((SimpleCommand(("pwd",), ("pwd",)),), None)
    assert analyse("pwd").parseable
    assert not analyse("eval x").parseable


READ_ONLY: list[tuple[str, bool]] = [
    ("ls -la", True),
    ("cat a b | head -5 | wc -l", True),
    ("grep -rn foo src", True),
    ("rg --files", True),
    ("rg --pre ./evil foo", False),
    ("find . -name '*.py'", True),
    ("find . -name '*.pyc' -delete", False),
    ("find . -exec rm {} ;", False),
    ("git status", True),
    ("git -C sub --no-pager log --oneline", True),
    ("git diff HEAD~1", True),
    ("git diff --output=patch.txt", False),
    ("git -c core.pager=evil log", False),
    ("git push", False),
    ("git", False),
    ("sort -o out in", False),
    ("sort in", True),
    ("echo hi > file", False),
    ("ls 2>/dev/null", True),
    ("rm -rf x", False),
    ("sed -i s/a/b/ f", False),
    ("/tmp/evil/ls", False),
    ("python -c 'print(1)'", False),
]


@pytest.mark.parametrize(("command", "expected"), READ_ONLY)
def test_read_only_safelist(command: str, expected: bool) -> None:
    analysis = analyse(command)
    assert analysis.problem is None
    assert all(is_read_only(c) for c in analysis.commands) is expected
