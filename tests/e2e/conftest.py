"""Fixtures for `tau` as a real subprocess (helpers live in `tau_e2e`, importable by the test modules)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from tau_e2e import Recordings, Sandbox, run_aimock, run_tau


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    """A hermetic HOME/XDG/workspace under tmp_path; `run_tau(..., sandbox=sandbox)` runs in it."""
    return Sandbox(tmp_path)


@pytest.fixture(scope="session")
def event_schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The JSON Schema `tau schema events` prints, obtained through the CLI."""
    box = Sandbox(tmp_path_factory.mktemp("schema"))
    result = run_tau("schema", "events", sandbox=box)
    assert result.returncode == 0, result
    schema = json.loads(result.stdout)
    assert isinstance(schema, dict)
    return schema


@pytest.fixture(scope="session")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Recordings:
    """Scenario cassettes, each recorded in-process once per session on first use."""
    return Recordings(tmp_path_factory)


@pytest.fixture
def aimock_server() -> Iterator[Callable[[Path], str]]:
    """Factory: `aimock_server(path)` serves that fixture file, returns its `/v1` base URL; stopped after the test."""
    with ExitStack() as stack:
        yield lambda fixture_file: stack.enter_context(run_aimock(fixture_file)) + "/v1"
