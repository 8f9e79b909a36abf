"""Fixtures for the skills tests: a home directory, a git repository and a SKILL.md writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

MakeSkill = Callable[..., Path]


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
def make_skill() -> MakeSkill:
    def make(library: Path, name: str, description: str = "", body: str = "", *, raw: str | None = None) -> Path:
        directory = library / name
        directory.mkdir(parents=True, exist_ok=True)
        text = raw if raw is not None else f"---\nname: {name}\ndescription: {description or name + ' skill'}\n---\n"
        (directory / "SKILL.md").write_text(text + body)
        return directory

    return make
