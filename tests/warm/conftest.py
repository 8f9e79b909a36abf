"""Fixtures for warm runs: a real `tau serve --local` subprocess per test, on a runtime dir inside the test's tmp dir
(never the user's own `/tmp/tau-UID`), and the e2e helpers (`tau_e2e`) on the import path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from tau_e2e import Recordings, Sandbox
from warm_helpers import LocalServer, start_server


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    box = Sandbox(tmp_path)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    box.env["XDG_RUNTIME_DIR"] = str(runtime)
    return box


@pytest.fixture(scope="session")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Recordings:
    return Recordings(tmp_path_factory)


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[LocalServer]:
    """`tau serve --local` for the sandbox's user runtime dir, stopped (SIGTERM, waited for) after the test."""
    with start_server(sandbox.env, cwd=sandbox.root) as running:
        yield running
