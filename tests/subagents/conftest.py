"""Fixtures for the subagent tests: anyio on asyncio, a home directory, a git repository, an agent-file writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

WriteAgent = Callable[..., Path]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    (path / ".git").mkdir(parents=True)
    return path


@pytest.fixture
def write_agent() -> WriteAgent:
    def write(directory: Path, name: str, frontmatter: str = "", body: str = "", *, raw: str | None = None) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.md"
        text = raw if raw is not None else f"---\nname: {name}\ndescription: {name} agent\n{frontmatter}---\n{body}"
        path.write_text(text)
        return path

    return write
