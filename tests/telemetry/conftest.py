"""Fixtures for the telemetry tests: `box`, a hermetic HOME and workspace (`telemetry_kit.Box`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from telemetry_kit import Box


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    made = Box(tmp_path)
    made.home.mkdir()
    made.work.mkdir()
    yield made
