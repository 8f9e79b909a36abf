"""Hermetic fixtures for config tests (see config_sandbox.Sandbox)."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_sandbox import Sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    box = Sandbox(root=tmp_path)
    box.proj.mkdir(parents=True)
    box.env = {"HOME": str(box.home)}
    return box
