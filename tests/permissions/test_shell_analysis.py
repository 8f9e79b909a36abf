"""Shell analysis from the real parser: every program a line runs, as bash would expand its words, and what it
cannot prove."""

from __future__ import annotations

import pytest

from tau.permissions.shell import Redirect, ShellAnalysis, SimpleCommand, analyse, suspect_texts
from tau.permissions.shell_words import Word

Argvs = list[tuple[str, ...]]

SPLITS: list[tuple[str, Argvs]] = [
    ("ls -la", [("ls", "-la")]),
    ("echo x && rm -rf /", [("echo", "x"), ("rm", "-rf", "/")]),
    ("a || b; c", [("a",), ("b",), ("c",)]),
    ("cat a | grep b | wc -l", [("cat", "a"), ("grep", "b"), ("wc", "-l")]),
    ("ls |& grep x", [("ls",), ("grep", "x")]),
    ("sleep 1 & rm x", [("sleep", "1"), ("rm", "x")]),
    ("ls&rm x", [("ls",), ("rm", "x")]),
    ("git status\nrm x", [("git", "status"), ("rm", "x")]),
    ("echo $(rm x)", [("rm", "x"), ("echo", "$(rm x)")]),
    ("echo `rm x`", [("rm", "x"), ("echo", "`rm x`")]),
    ('echo "a && $(whoami)"', [("whoami",), ("echo", '"a && $(whoami)"')]),
    ("echo $(ls $(rm z))", [("rm", "z"), ("ls", "$(rm z)"), ("echo", "$(ls $(rm z))")]),
    ("echo 'a && b; rm x'", [("echo", "a && b; rm x")]),
    ('echo "a | b"', [("echo", "a | b")]),
    ("echo a\\;rm", [("echo", "a;rm")]),
    ("(cd sub && make)", [("cd", "sub"), ("make",)]),
    ("{ ls; pwd; }", [("ls",), ("pwd",)]),
    ("! grep -q x f", [("grep", "-q", "x", "f")]),
    ("LANG=C BAR='a b' npm test", [("npm", "test")]),
    ("timeout 10 npm test", [("npm", "test")]),
    ("timeout -s KILL 5 nice -n 5 env -i A=1 nohup time -p npm test", [("npm", "test")]),
    ("nice -10 make", [("make",)]),
    ("command git push", [("git", "push")]),
    ("command -v git", [("command", "-v", "git")]),
    ("exec rm x", [("rm", "x")]),
    ("stdbuf -oL -e0 setsid -f ionice -c3 rm x", [("rm", "x")]),
    ("builtin command rm x", [("rm", "x")]),
    ("busybox rm x", [("rm", "x")]),
    ("sudo -u root rm x", [("rm", "x")]),
    ("doas rm x", [("rm", "x")]),
    ("chroot /srv rm x", [("rm", "x")]),
    ("flock /tmp/l rm x", [("rm", "x")]),
    ("find . -name '*.py' | xargs -n 1 -I {} rm {}", [("find", ".", "-name", "*.py"), ("rm", "{}")]),
    ("ls | xargs", [("ls",), ("echo", "{xargs input}")]),
    ("ls | xargs -0 wc -l", [("ls",), ("wc", "-l", "{xargs input}")]),
    ("find . -exec rm {} \\;", [("find", ".", "-exec", "rm", "{}", ";"), ("rm", "{}")]),
    ("find . -execdir sudo rm -f {} +", [("find", ".", "-execdir", "sudo", "rm", "-f", "{}", "+"), ("rm", "-f", "{}")]),
    ("bash -c 'rm -rf / && ls'", [("rm", "-rf", "/"), ("ls",)]),
    ('sh -lc "echo hi"', [("echo", "hi")]),
    ("bash -e -o pipefail -c 'ls'", [("ls",)]),
    ("eval 'rm -rf /'", [("rm", "-rf", "/")]),
    ("eval ls '&&' rm x", [("ls",), ("rm", "x")]),
    ("trap 'rm x' EXIT", [("rm", "x")]),
    ("watch -n 1 rm x", [("rm", "x")]),
    ("su -c 'rm x' root", [("rm", "x")]),
    ("bash script.sh", [("bash", "script.sh")]),
    ("ls # && rm x", [("ls",)]),
    ("ls \\\n  -la", [("ls", "-la")]),
    ("r\\\nm -rf x", [("rm", "-rf", "x")]),
    ("echo ${HOME}/x", [("echo", "${HOME}/x")]),
    ("cat <<< 'hi there'", [("cat",)]),
    ("\\rm x", [("rm", "x")]),
    ("'r'm x", [("rm", "x")]),
    ("r\\m x", [("rm", "x")]),
    ('"rm" x', [("rm", "x")]),
    ("$'\\x72m' x", [("rm", "x")]),
    ("$'\\162m' x", [("rm", "x")]),
    ('$"rm" x', [("rm", "x")]),
    ("r{m,} x", [("rm", "r", "x")]),
    ("echo {a,b}{1,2}", [("echo", "a1", "a2", "b1", "b2")]),
    ("echo {1..3} {a..c}", [("echo", "1", "2", "3", "a", "b", "c")]),
    ("echo '{a,b}' \\{a,b}", [("echo", "{a,b}", "{a,b}")]),
    ("echo a >f b", [("echo", "a", "b")]),
    ("if true; then rm -rf /; fi", [("true",), ("rm", "-rf", "/")]),
    ("for f in a b; do cat $f; done", [("cat", "$f")]),
    ("while read l; do echo $l; done < in", [("read", "l"), ("echo", "$l"), ()]),
    ("case $x in a|b) ls;; *) rm y;; esac", [("ls",), ("rm", "y")]),
    ("f() { rm x; }; f", [("rm", "x"), ("f",)]),
    ("diff <(ls a) <(ls b)", [("ls", "a"), ("ls", "b"), ("diff", "<(ls a)", "<(ls b)")]),
    ("cat <<EOF | grep x && rm y\nhello\nEOF", [("cat",), ("grep", "x"), ("rm", "y")]),
    ("cat <<EOF\n$(rm x)\nEOF", [("rm", "x"), ("cat",)]),
    ("cat <<'EOF'\n$(rm x)\nEOF", [("cat",)]),
    ("export LANG=C; ls", [("export", "LANG=C"), ("ls",)]),
    ("[[ -f a ]] && cat a", [("[[", "-f", "a", "]]"), ("cat", "a")]),
    ("", []),
    ("   ", []),
]


@pytest.mark.parametrize(("command", "expected"), SPLITS)
def test_every_program_is_found(command: str, expected: Argvs) -> None:
    analysis = analyse(command)
    assert analysis.problem is None
    assert [c.argv for c in analysis.commands] == expected


PROBLEMS: list[tuple[str, str]] = [
    ("echo 'unbalanced", "syntax error"),
    ('echo "unbalanced', "syntax error"),
    ("echo `x", "syntax error"),
    ("echo $(x", "syntax error"),
    ("ls )", "syntax error"),
    ("{rm,-f,x}", "syntax error"),
    ("$CMD arg", "program name is an expansion"),
    ('eval "$x"', "eval argument"),
    ('bash -c "$x"', "shell -c string"),
    ("env -u", "env: option -u needs a value"),
    ("env --frobnicate rm", "env: unknown option --frobnicate"),
    ("timeout --weird 5 rm x", "timeout: unknown option --weird"),
    ("xargs -p rm", "xargs: unknown option -p"),
    ("sudo -s rm x", "sudo -i/-s/-e/-l/-v"),
    ("echo $((x))", "arithmetic on a variable: $((x))"),
    ("echo $[x]", "arithmetic on a variable: $[x]"),
    ("echo ${a[x]}", "an array subscript that is not a number: a[x]"),
    ("echo ${x@P}", "a ${...@...} transformation"),
    ("echo ${!x}", "indirect expansion"),
    ("echo ${x:y}", "a substring offset that is not a number"),
    ("((x++))", "arithmetic on a variable"),
    ("let x=y+1", "let evaluates arithmetic"),
    ("test -v 'a[x]'", "test -v evaluates an array subscript"),
    ('[ -v "a[$i]" ]', "-v with a computed variable name"),
    ("[[ $x -eq 1 ]]", "[[ ]] arithmetic comparison"),
    ("printf -v 'a[$(id)]' x", "printf -v evaluates an array subscript"),
    ('printf -v "a[$i]" x', "printf -v with a computed variable name"),
    ("printf -v PATH /tmp", "printf -v assigns PATH"),
    ("read -a 'a[x]'", "read -a evaluates an array subscript"),
    ("read PATH", "read assigns PATH"),
    ("mapfile -C cb arr", "mapfile -C runs a callback"),
    ("unset 'a[x]'", "unset evaluates an array subscript"),
    ("declare -i n", "declare -i"),
    ("declare -n ref=x", "declare -n"),
    ("PATH=/tmp/evil; ls", "assigning PATH"),
    ("for PATH in /tmp; do ls; done", "a loop assigns PATH"),
    ('echo "${x:=$(id)}" ${PATH:=/x}', "assignment to PATH inside an expansion"),
    ("cat <<EOF\n`id`\nEOF", "here-document substitution the parser did not separate"),
    ("ls `echo \\`id\\``", "backslash inside backticks"),
    ("echo {a,$x}", "brace expansion around an expansion"),
    ("echo {1..100000}", "brace expansion makes too many words"),
    ("ls > {a,b}", "ambiguous redirection target"),
    ("exec bash -i", "runs start-up files"),
    ("chroot /srv", "chroot without a command"),
    ("find . -exec rm {}", "find -exec without a terminated command"),
    ("for ((i=0; i<3; i++)); do ls; done", "arithmetic on a variable"),
]


@pytest.mark.parametrize(("command", "problem"), PROBLEMS)
def test_what_cannot_be_proven_is_a_problem(command: str, problem: str) -> None:
    analysis = analyse(command)
    assert not analysis.parseable
    assert problem in (analysis.first_problem or "")


def test_parts_beside_a_problem_are_still_found() -> None:
    analysis = analyse("ls; $CMD x; rm y")
    assert [c.argv for c in analysis.commands] == [("ls",), ("$CMD", "x"), ("rm", "y")]
    assert analysis.commands[1].problem == "the program name is an expansion"
    assert analysis.problem is None and not analysis.parseable


def test_deep_nesting_is_a_problem() -> None:
    assert "nested too deep" in (analyse("eval " + "'eval " * 12 + "x" + "'" * 12).first_problem or "")


def test_a_malformed_line_is_swept_for_deny_rules() -> None:
    analysis = analyse("{rm,-f,x}; (")
    assert analysis.malformed
    assert "rm -f x" in analysis.suspects
    assert suspect_texts("sudo /bin/rm -rf x") == [
        "sudo /bin/rm -rf x",
        "/bin/rm -rf x",
        "rm -rf x",
        "-rf x",
        "x",
    ]


def test_redirections_are_kept_off_the_words() -> None:
    [part] = analyse("ls -la 2>/dev/null > out.txt 2>&1 < in >>log &>all >&f 3>&-").commands
    assert part.argv == ("ls", "-la")
    assert part.redirects == (
        Redirect(">", "/dev/null", 2),
        Redirect(">", "out.txt"),
        Redirect(">&", "1", 2),
        Redirect("<", "in"),
        Redirect(">>", "log"),
        Redirect("&>", "all"),
        Redirect(">&", "f"),
        Redirect(">&-", "-", 3),
    )
    assert [r.kind for r in part.redirects] == ["write", "write", "dup", "read", "write", "write", "write", "dup"]
    assert [r.writes for r in part.redirects] == [False, True, False, False, True, True, True, False]


@pytest.mark.parametrize(
    ("command", "writes"),
    [
        ("ls > out", True),
        ("ls >> 'my file'", True),
        ("ls &> log", True),
        ("ls >| log", True),
        ("ls >& log", True),
        ("ls 2>/dev/null", False),
        ("ls 2>&1", False),
        ("ls >&2", False),
        ("ls > /dev/stderr", False),
        ("grep '>' file", False),
        ("cat < in", False),
        ("> truncated", True),
        ("cat <<EOF > f\nx\nEOF", True),
        ("{ ls; } > f", True),
        ("ls | wc > f", True),
        ("ls > $out", True),
        ("flock lockfile true", True),
    ],
)
def test_redirect_writes(command: str, writes: bool) -> None:
    assert any(c.writes_files for c in analyse(command).commands) is writes


def test_a_computed_redirection_target_is_dynamic() -> None:
    [part] = analyse("ls > $HOME/x").commands
    assert part.redirects == (Redirect(">", "$HOME/x", dynamic=True),)


def test_raw_words_keep_wrappers_and_assignments() -> None:
    [part] = analyse("FOO=1 timeout 5 rm x").commands
    assert (part.argv, part.raw_argv, part.wrappers) == (
        ("rm", "x"),
        ("FOO=1", "timeout", "5", "rm", "x"),
        ("timeout",),
    )
    assert (part.assignments, part.unsafe_assignments) == (("FOO",), ("FOO",))


def test_exported_names_and_escalation() -> None:
    [part] = analyse("LANG=C env TZ=UTC LD_PRELOAD=x.so sudo -E ls").commands
    assert part.assignments == ("LANG", "TZ", "LD_PRELOAD")
    assert part.unsafe_assignments == ("LD_PRELOAD",)
    assert part.escalates
    [inner] = analyse("GIT_DIR=x bash -c 'git status'").commands
    assert inner.unsafe_assignments == ("GIT_DIR",)


def test_words_carry_their_static_value() -> None:
    [part] = analyse("cat \"$f\" *.py 'a b' ~/x").commands
    assert part.words == (
        Word("cat", "cat"),
        Word('"$f"', None),
        Word("*.py", "*.py", glob=True),
        Word("'a b'", "a b"),
        Word("~/x", "~/x"),
    )


def test_where_each_part_runs() -> None:
    analysis = analyse("ls; cd sub && cat a; (cd /etc); cat b; cd $d; cat c")
    assert [(c.argv, c.cwd, c.cwd_changed) for c in analysis.commands] == [
        (("ls",), (".",), False),
        (("cd", "sub"), (".",), False),
        (("cat", "a"), (".", "./sub"), True),
        (("cd", "/etc"), (".", "./sub"), True),
        (("cat", "b"), (".", "./sub"), True),
        (("cd", "$d"), (".", "./sub"), True),
        (("cat", "c"), None, True),
    ]
    assert analyse("for d in a b; do cd $d; done; ls").commands[-1].cwd is None
    assert analyse("env -C /tmp git status").commands[0].cwd_changed


def test_hazards_name_the_expansions() -> None:
    [part] = analyse("echo $((x + 1)) ${!y}").commands
    assert part.hazards == ("$((x + 1))", "${!y}")
    assert part.liftable
    [other] = analyse("timeout --weird 1 echo $((x))").commands
    assert not other.liftable


def test_analysis_value() -> None:
    assert analyse("pwd") == ShellAnalysis((SimpleCommand((Word("pwd", "pwd"),), (Word("pwd", "pwd"),)),))
    assert analyse("pwd").parseable
    assert not analyse("eval $x").parseable
