"""Fixtures for the host sandbox tests: real bwrap, real processes, real files (skipped where bwrap cannot run)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from host_sandbox_helpers import Factory

from tau.environment import HostBackend
from tau.environment.bwrap import find_launcher
from tau.environment.policy import SandboxConfig, SandboxPolicy


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    report = find_launcher()
    if report.launcher is not None:
        return
    skip = pytest.mark.skip(reason=f"no host sandbox here: {report.cause}")
    for item in items:
        if "needs_no_bwrap" not in item.keywords and str(item.fspath).startswith(str(Path(__file__).parent)):
            item.add_marker(skip)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def base() -> Iterator[Path]:
    """A scratch directory outside /tmp (sandboxed commands get a private /tmp, so siblings there are hidden)."""
    path = Path(tempfile.mkdtemp(prefix="tau-sandbox-test-", dir="/var/tmp"))
    yield path
    for top, dirs, _ in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(top, name), 0o700)
    shutil.rmtree(path)


@pytest.fixture
def ws(base: Path) -> Path:
    """A workspace with one file, beside an `outside` directory holding a secret (both outside /tmp)."""
    root = base / "ws"
    root.mkdir()
    (root / "data.txt").write_text("data\n")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret").write_text("outside secret\n")
    return root


@pytest.fixture
async def make_backend() -> AsyncIterator[Factory]:
    """`make_backend(root, policy, **SandboxConfig fields)`: a sandboxed HostBackend, closed after the test."""
    made: list[HostBackend] = []

    def make(root: Path, policy: SandboxPolicy = "workspace-write", **config: Any) -> HostBackend:
        backend = HostBackend(root, sandbox=SandboxConfig(policy=policy, **config))
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()
