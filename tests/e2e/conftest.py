"""Fixtures for `tau` as a real subprocess (helpers live in `tau_e2e`, importable by the test modules).

Model endpoints besides aimock: `faults`, the scripted fault server of tests/providers (provider_faults.py, put on
the import path here, not copied), and `stalled_model`, a server that accepts connections and never answers.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))

from provider_faults import FaultServer, serve
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


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    """tests/providers' scripted OpenAI-compatible fault server; `faults.base_url` is its /v1 endpoint."""
    with serve() as server:
        yield server


@pytest.fixture
def stalled_model() -> Iterator[str]:
    """The /v1 URL of a server that accepts every connection, reads the request and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            accepted.append(connection)  # kept open, never answered

    thread = threading.Thread(target=accept, name="stalled-model", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)
        for connection in accepted:
            connection.close()
