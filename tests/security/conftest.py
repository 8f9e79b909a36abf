"""Fixtures for the end-to-end security suite: one scripted model server, batches run once and cached.

The whole directory is skipped where bubblewrap cannot build its namespaces (the suite attacks the sandbox; without
it `tau run` refuses to start, which tests/sandbox covers). Layout roots live under /var/tmp (TAU_SECURITY_ROOT to
change) and are removed at the end of the session unless TAU_SECURITY_KEEP=1.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sec_harness import Batch, BatchRun, run_batches
from sec_layout import make_root, remove_tree
from sec_model import ScriptServer, serve

from tau.environment.bwrap import find_launcher

HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "calibration: an attack run under plain bash, without tau (needs no sandbox)")


_PLANNED: dict[str, Batch] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:  # every batch a selected test module needs (its `RUNS`), run together on first use
        module = getattr(item, "module", None)
        for batch in getattr(module, "RUNS", ()):
            _PLANNED.setdefault(batch.name, batch)
    report = find_launcher()
    if report.launcher is not None:
        return
    skip = pytest.mark.skip(reason=f"no host sandbox here: {report.cause}")
    for item in items:
        if str(item.fspath).startswith(str(HERE)) and "calibration" not in item.keywords:
            item.add_marker(skip)


class Runs:
    """Batches run on first request (independent ones concurrently), each exactly once per session."""

    def __init__(self, server: ScriptServer) -> None:
        self.server = server
        self.roots: list[Path] = []
        self._done: dict[str, BatchRun] = {}
        self._lock = threading.Lock()

    def _root(self, name: str) -> Path:
        root = make_root(f"tau-sec-{name}-")
        self.roots.append(root)
        return root

    def run(self, batches: Sequence[Batch]) -> dict[str, BatchRun]:
        """`batches`, run (with every other planned batch, all concurrently) unless already done."""
        with self._lock:
            wanted = {batch.name: batch for batch in [*batches, *_PLANNED.values()]}
            missing = [batch for name, batch in wanted.items() if name not in self._done]
            self._done.update(run_batches(missing, self.server, self._root))
            return {batch.name: self._done[batch.name] for batch in batches}


@pytest.fixture(scope="session")
def script_server() -> Iterator[ScriptServer]:
    with serve() as server:
        yield server


@pytest.fixture(scope="session")
def security_runs(script_server: ScriptServer) -> Iterator[Runs]:
    runs = Runs(script_server)
    yield runs
    if os.environ.get("TAU_SECURITY_KEEP") != "1":
        for root in runs.roots:
            remove_tree(root)
