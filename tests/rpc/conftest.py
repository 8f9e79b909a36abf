"""Fixtures for `tau serve` tests: `serve(model_factory, token=..., ...)` starts a real server on 127.0.0.1 and stops
it (draining) at teardown."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rpc_helpers import Served, start_server


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    running: list[tuple[Served, threading.Thread]] = []
    workspace = tmp_path / "ws"
    workspace.mkdir()
    home = tmp_path / "home"
    home.mkdir()

    def start(*args: Any, **kwargs: Any) -> Served:
        served, thread = start_server(workspace, home, *args, **kwargs)
        running.append((served, thread))
        return served

    yield start
    for served, thread in running:
        served.server.stop()
        thread.join(20)
        assert not thread.is_alive(), "server did not shut down"
