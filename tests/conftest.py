"""Suite-wide fixtures: anyio runs async tests on asyncio (the loop tau's CLI uses)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
