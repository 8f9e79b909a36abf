"""Fixtures for the provider-fault tests: one scripted fault server (provider_faults.py) per module, and the
`tau_e2e` helpers of tests/e2e (hermetic sandboxes, `run_tau`) on the import path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from provider_faults import FaultServer, serve


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with serve() as server:
        yield server
