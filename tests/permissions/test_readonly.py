"""The read-only allowlist: programs with their read-only options, and the files a read-only command names."""

from __future__ import annotations

import pytest

from tau.permissions.readonly import COMPUTED, PROGRAMS, is_read_only, read_paths
from tau.permissions.shell import analyse

READ_ONLY: list[tuple[str, bool]] = [
    ("ls -la", True),
    ("ls src -la --color=never", True),
    ("cat a b | head -5 | wc -l", True),
    ("grep -rn foo src", True),
    ("rg --files", True),
    ("rg --pre ./evil foo", False),
    ("rg --pre=./evil foo", False),
    ("find . -name '*.py'", True),
    ("find . -name '*.pyc' -delete", False),
    ("find . -exec rm {} ;", False),
    ("find . -newer x -maxdepth 2 -print0", True),
    ("git status", True),
    ("git --no-pager log --oneline", True),
    ("git -C sub --no-pager log --oneline", False),  # -C: another repository's configured programs
    ("git diff HEAD~1", True),
    ("git diff --output=patch.txt", False),
    ("git -c core.pager=evil log", False),
    ("git push", False),
    ("git", False),
    ("git log -5 --stat", True),
    ("sort -o out in", False),
    ("sort in", True),
    ("sort -k2,2n -t, in", True),
    ("uniq in", True),
    ("uniq in out", False),
    ("echo hi > file", False),
    ("ls 2>/dev/null", True),
    ("rm -rf x", False),
    ("sed -i s/a/b/ f", False),
    ("/tmp/evil/ls", False),
    ("/bin/ls", False),
    ("python -c 'print(1)'", False),
    ("timeout 5 ls", True),
    ("nice -n 5 git status", True),
    ("sudo ls", False),
    ("env ls", True),
    ("env PATH=/x ls", False),
    ("LANG=C ls", True),
    ("date", True),
    ("date +%s", True),
    ("date 0101", False),
    ("hostname -f", True),
    ("hostname x", False),
    ("command -v ls", True),
    ("command ls", True),
    ("export LANG=C", True),
    ("export PATH=/x", False),
    ("local x=1", True),
    ("[[ -f a ]]", True),
    ("test -v 'a[x]'", False),
]


@pytest.mark.parametrize(("command", "expected"), READ_ONLY)
def test_read_only_allowlist(command: str, expected: bool) -> None:
    assert all(is_read_only(c) for c in analyse(command).commands) is expected


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("xargs cat", True),
        ("xargs wc -l", True),
        ("xargs grep -n foo", True),
        ("xargs sort", False),
        ("xargs uniq", False),
        ("xargs git log", False),
        ("xargs find", False),
        ("xargs rg foo", False),
        ("cat $f", True),
        ("sort $f", False),
        ("sort -- $f", True),  # after `--` a word is an operand whatever its value
        ("sort *.txt", False),  # a file named `-o` would be an option
        ("ls *", True),
        ("find $d -name x", False),
        ("find . -name $x", True),
    ],
)
def test_computed_words_may_be_any_option(command: str, expected: bool) -> None:
    assert all(is_read_only(c) for c in analyse(command).commands) is expected


@pytest.mark.parametrize(
    ("command", "paths"),
    [
        ("cat a b", ("a", "b")),
        ("grep -rn foo src lib", ("src", "lib")),
        ("grep -e foo -e bar src", ("src",)),
        ("rg -n foo src", ("src",)),
        ("head -n 5 README.md", ("README.md",)),
        ("head -5 README.md", ("README.md",)),
        ("cut -d: -f1 -- -x", ("-x",)),
        ("jq --arg k v .a data.json", ("data.json",)),
        ("echo /etc/passwd", ()),
        ("find src lib -name x", ("src", "lib")),
        ("find -name x", (".",)),
        ("git show HEAD:secrets/key", ("HEAD:secrets/key", "secrets/key")),
        ("git log -- docs", ("docs",)),
        ("sort -k2 data.csv", ("data.csv",)),
        ("ls", ()),
        ("cd ../x", ("../x",)),
        ("cat $f", (COMPUTED,)),
    ],
)
def test_read_paths_are_the_operands_that_name_files(command: str, paths: tuple[str, ...]) -> None:
    [part] = analyse(command).commands
    assert read_paths(part) == paths


def test_read_paths_of_a_program_that_is_not_read_only() -> None:
    [part] = analyse("cp a b").commands
    assert read_paths(part) is None


def test_no_interpreter_or_editor_is_on_the_list() -> None:
    forbidden = {"python", "python3", "node", "perl", "ruby", "sh", "bash", "sed", "awk", "tee", "less", "more", "vi"}
    assert forbidden.isdisjoint(PROGRAMS)
