"""Fixtures for the sessions wiring tests: anyio on asyncio, and a hermetic sandbox for `tau` subprocesses."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
