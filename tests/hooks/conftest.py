"""Fixtures for the hook tests: a project directory and a maker of real shell scripts in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from hooksupport import ScriptMaker, make_script


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def script(tmp_path: Path) -> ScriptMaker:
    """`script(name, body)` writes an executable `#!/bin/sh` script and returns its absolute path."""
    return lambda name, body: make_script(tmp_path / "hooks", name, body)
