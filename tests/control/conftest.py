"""Shared fixtures for the control tests (plan mode, clarification, steering): anyio on asyncio only."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
