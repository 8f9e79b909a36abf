"""glob: pattern semantics, ordering, caps; plus the pure pattern translation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pydantic_ai.messages import ToolReturnPart

from tau.tools.globs import GlobMatcher, split_static_prefix

RunOne = Callable[..., Awaitable[ToolReturnPart]]

pytestmark = pytest.mark.anyio


@pytest.fixture
def tree(root: Path) -> Path:
    for name in ["a.py", "b.txt", ".hidden.py", "src/x.py", "src/y.pyi", "src/deep/z.py", ".git/config.py"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    return root


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.py", None, [".hidden.py", "a.py"]),
        ("**/*.py", None, [".hidden.py", "a.py", "src/deep/z.py", "src/x.py"]),
        ("src/**/*.{py,pyi}", None, ["src/deep/z.py", "src/x.py", "src/y.pyi"]),
        ("*.py", "src", ["src/x.py"]),
        ("src/?.py", None, ["src/x.py"]),
        ("[ab].*", None, ["a.py", "b.txt"]),
    ],
)
async def test_matches_sorted_by_path(
    run_one: RunOne, tree: Path, pattern: str, path: str | None, expected: list[str]
) -> None:
    args = {"pattern": pattern} if path is None else {"pattern": pattern, "path": path}
    part = await run_one("glob", args)
    assert part.content == "\n".join([f"Found {len(expected)} files", *(f"{tree}/{name}" for name in expected)])


async def test_absolute_pattern_and_no_match(run_one: RunOne, tree: Path) -> None:
    part = await run_one("glob", {"pattern": f"{tree}/src/*.pyi"})
    assert part.content == f"Found 1 files\n{tree}/src/y.pyi"
    assert (await run_one("glob", {"pattern": "**/*.rs"})).content == "No files found"
    assert (await run_one("glob", {"pattern": "nowhere/*.py"})).content == "No files found"


async def test_results_are_capped(run_one: RunOne, root: Path) -> None:
    for index in range(120):
        (root / f"f{index:03d}.txt").write_text("")
    content = str((await run_one("glob", {"pattern": "*.txt"})).content)
    lines = content.split("\n")
    assert lines[0] == "Found 120 files (showing the first 100)"
    assert lines[1:] == [f"{root}/f{index:03d}.txt" for index in range(100)]


async def test_does_not_follow_symlinked_directories(run_one: RunOne, root: Path, tmp_path: Path) -> None:
    (tmp_path / "outside" / "secret.py").write_text("")
    (root / "link").symlink_to(tmp_path / "outside")
    (root / "loop").symlink_to(root)
    assert (await run_one("glob", {"pattern": "**/*.py"})).content == "No files found"


async def test_path_must_be_a_directory_inside(run_one: RunOne, tree: Path) -> None:
    file_part = await run_one("glob", {"pattern": "*", "path": "a.py"})
    assert (file_part.outcome, file_part.content) == (
        "failed",
        f"{tree}/a.py is a file, not a directory; give a directory as path",
    )
    missing = await run_one("glob", {"pattern": "*", "path": "missing"})
    assert (missing.outcome, missing.content) == ("failed", f"File does not exist: {tree}/missing")


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.py", "a.py", True),
        ("*.py", "d/a.py", False),
        ("**/*.py", "a.py", True),
        ("**/*.py", "d/e/a.py", True),
        ("d/**", "d/e/a.py", True),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("[!a]*", "b", True),
        ("[!a]*", "a", False),
        ("{x,y}.md", "y.md", True),
        ("lit[eral", "lit[eral", True),
        ("br{ace", "br{ace", True),
        ("a+b(c).txt", "a+b(c).txt", True),
    ],
)
def test_glob_translation(pattern: str, path: str, matches: bool) -> None:
    assert GlobMatcher.compile(pattern).matches(path) is matches


def test_basename_matching_for_grep_filters() -> None:
    matcher = GlobMatcher.compile("*.py", basename_if_no_slash=True)
    assert matcher.matches("deep/down/x.py")
    assert not GlobMatcher.compile("src/*.py", basename_if_no_slash=True).matches("other/src/x.py")


def test_split_static_prefix() -> None:
    assert split_static_prefix("src/pkg/**/*.py") == ("src/pkg", "**/*.py")
    assert split_static_prefix("*.py") == ("", "*.py")
    assert split_static_prefix("/etc/*") == ("/etc", "*")
