"""Paths no filesystem can take, sent to the memory and skill tools: failed tool results, the run goes on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tau.confine import inside
from tau.environment import HostBackend
from tau.environment.policy import SandboxConfig
from tau.memory import memory_toolset
from tau.skills import discover_skills, skills_toolset

CallTools = Callable[..., Awaitable[list[tuple[str, str, str]]]]

pytestmark = pytest.mark.anyio

NUL, SURROGATE, LONG_NAME = "notes\x00.md", "notes\ud800.md", "n" * 300


async def test_memory_refuses_bad_paths_and_text(tmp_path: Path, call_tools: CallTools) -> None:
    results = await call_tools(
        HostBackend(tmp_path),
        [memory_toolset()],
        ("memory", {"command": "view", "path": NUL}),
        ("memory", {"command": "create", "path": SURROGATE, "file_text": "x"}),
        ("memory", {"command": "create", "path": LONG_NAME, "file_text": "x"}),
        ("memory", {"command": "rename", "old_path": "a.md", "new_path": "b\x00.md"}),
        ("memory", {"command": "create", "path": "ok.md", "file_text": "lone \udc80"}),
        ("memory", {"command": "create", "path": "fine.md", "file_text": "fine"}),
    )
    assert [(outcome, content) for _, outcome, content in results] == [
        ("failed", "Refused: path contains a NUL byte."),
        ("failed", "Refused: path is not valid UTF-8 text (it holds lone surrogates)."),
        ("failed", "Refused: path has a name of 300 bytes, over the 255-byte limit for one file or directory name."),
        ("failed", "Refused: new_path contains a NUL byte."),
        ("failed", "Refused: file_text is not valid UTF-8 text."),
        ("success", "File created: fine.md"),
    ]
    assert sorted(path.name for path in (tmp_path / ".tau" / "memory").iterdir()) == ["fine.md"]


async def test_skill_refuses_bad_file_paths(tmp_path: Path, call_tools: CallTools) -> None:
    repo, home = tmp_path / "repo", tmp_path / "home"
    skill = repo / ".claude" / "skills" / "demo"
    skill.mkdir(parents=True)
    home.mkdir()
    (skill / "SKILL.md").write_text("---\nname: demo\ndescription: a demo skill\n---\nbody\n")
    (skill / "notes.md").write_text("notes\n")
    catalog = discover_skills(cwd=str(repo), home=str(home), project_root=str(repo), workspace_root=str(repo))
    results = await call_tools(
        HostBackend(repo),
        [skills_toolset(catalog)],
        ("skill", {"name": "demo", "file": NUL}),
        ("skill", {"name": "demo", "file": SURROGATE}),
        ("skill", {"name": "demo", "file": "notes.md"}),
    )
    assert [(outcome, content) for _, outcome, content in results] == [
        ("failed", "Refused: file contains a NUL byte."),
        ("failed", "Refused: file is not valid UTF-8 text (it holds lone surrogates)."),
        ("success", "notes\n"),
    ]


async def test_memory_under_a_read_rule_fails_calls_instead_of_the_run(tmp_path: Path, call_tools: CallTools) -> None:
    private = tmp_path / ".tau" / "memory" / "private"
    private.mkdir(parents=True)
    (private / "x.md").write_text("hidden\n")
    (private.parent / "open.md").write_text("open\n")
    sandbox = SandboxConfig(deny_read=lambda path: inside(path, str(private)))
    results = await call_tools(
        HostBackend(tmp_path, sandbox=sandbox),
        [memory_toolset()],
        ("memory", {"command": "view", "path": "/"}),
        ("memory", {"command": "view", "path": "private/x.md"}),
        ("memory", {"command": "create", "path": "private/y.md", "file_text": "y"}),
        ("memory", {"command": "delete", "path": "private/x.md"}),
    )
    denied = f"{private}/x.md is denied by a Read rule"
    assert [(outcome, content) for _, outcome, content in results] == [
        ("success", "Files and directories up to 2 levels deep in / (memory directory .tau/memory):\n5B\topen.md"),
        ("failed", f"Cannot access private/x.md in memory: {denied}"),
        ("failed", f"Cannot access private/y.md in memory: {private}/y.md is denied by a Read rule"),
        ("failed", f"Cannot access private/x.md in memory: {denied}"),
    ]
    assert (private / "x.md").read_text() == "hidden\n" and not (private / "y.md").exists()
