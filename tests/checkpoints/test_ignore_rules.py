"""The `.gitignore` subset checkpoints honour."""

from __future__ import annotations

import pytest

from tau.checkpoints.ignore_rules import IgnoreRules


def rules(text: str, base: str = "") -> IgnoreRules:
    found = IgnoreRules()
    found.add(text, base)
    return found


@pytest.mark.parametrize(
    ("text", "path", "is_dir", "ignored"),
    [
        ("*.log", "a.log", False, True),
        ("*.log", "deep/er/a.log", False, True),
        ("*.log\n!keep.log", "keep.log", False, False),
        ("*.log\n!keep.log", "x/keep.log", False, False),
        ("build/", "build", True, True),
        ("build/", "build", False, False),  # dir-only pattern, a file named build stays
        ("/top.txt", "top.txt", False, True),
        ("/top.txt", "sub/top.txt", False, False),
        ("docs/*.md", "docs/a.md", False, True),
        ("docs/*.md", "docs/x/a.md", False, False),
        ("**/cache", "a/b/cache", True, True),
        ("out/**", "out/x/y", False, True),
        ("a/**/b", "a/x/y/b", False, True),
        ("# comment\n\n  \n", "comment", False, False),
        ("\\#hash", "#hash", False, True),
        ("node_modules   ", "node_modules", True, True),
        ("f?o.txt", "foo.txt", False, True),
        ("[ab].txt", "b.txt", False, True),
    ],
)
def test_patterns(text: str, path: str, is_dir: bool, ignored: bool) -> None:
    assert rules(text).ignored(path, is_dir=is_dir) is ignored


def test_nested_files_apply_below_their_directory() -> None:
    found = rules("*.tmp", "sub")
    assert found.ignored("sub/a.tmp", is_dir=False)
    assert not found.ignored("a.tmp", is_dir=False)


def test_git_and_state_dirs_are_always_skipped() -> None:
    found = rules("!.git\n!.tau/state")
    assert found.ignored(".git", is_dir=True) and found.ignored("sub/.git", is_dir=True)
    assert found.ignored(".tau/state", is_dir=True)
    assert not found.ignored(".tau", is_dir=True)
