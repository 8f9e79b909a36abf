"""Fixtures for `tau watch` tests: a hermetic inbox/workspace/home per test and an in-process watcher factory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from watch_helpers import Box


@pytest.fixture
def box(tmp_path: Path) -> Box:
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (tmp_path / "ws").mkdir()
    (tmp_path / "inbox").mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
    }
    return Box(tmp_path, env)
