"""Fixtures for the docker tests: a daemon (skip locally without one, fail in CI), the sandbox image, backends.

Every module here sets `pytestmark = pytest.mark.docker`. `make_backend` builds DockerBackends (`sandbox=` passes a
`SandboxConfig`, other keywords go to `SandboxSpec`) whose containers are removed when the test ends; module-scoped
`shared_backend`s keep one container for a whole module (the backend is loop-agnostic, so each test's event loop can
use it). Workspaces are owned by uid 1000: commands run as non-root.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tau.environment.docker import DockerBackend, DockerEngine
from tau.environment.sandbox import SandboxSpec, build_image

MakeBackend = Callable[..., DockerBackend]
UID = 1000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def docker_engine() -> DockerEngine:
    """A daemon that answers; without one: skip with the reason, or fail when CI=true."""
    engine = DockerEngine()
    if not engine.ping():
        reason = "no Docker daemon answers (run scripts/install-docker.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return engine


@pytest.fixture(scope="session")
def sandbox_image(docker_engine: DockerEngine) -> str:
    """The bundled sandbox image (built offline on first use; ~90 s cold, instant when the tag exists)."""
    return build_image()


def owned_dir(path: Path) -> Path:
    """Create `path` owned by the non-root container user (when the tests run as root)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, UID, UID)
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return owned_dir(tmp_path / "ws")


class Backends:
    """Builds backends and removes their containers afterwards."""

    def __init__(self, engine: DockerEngine, image: str) -> None:
        self.engine = engine
        self.image = image
        self.made: list[DockerBackend] = []

    def __call__(self, root: Path, **spec: Any) -> DockerBackend:
        session = spec.pop("session", None)
        owner_pid = spec.pop("owner_pid", None)
        sandbox = spec.pop("sandbox", None)
        backend = DockerBackend(
            root,
            session=session,
            spec=SandboxSpec(**{"image": self.image, **spec}),
            engine=self.engine,
            owner_pid=owner_pid,
            sandbox=sandbox,
        )
        self.made.append(backend)
        return backend

    def cleanup(self) -> None:
        for backend in self.made:
            backend.close()
            if backend.ref is not None:
                self.engine.remove(backend.ref.id)


@pytest.fixture
def make_backend(docker_engine: DockerEngine, sandbox_image: str) -> Iterator[MakeBackend]:
    backends = Backends(docker_engine, sandbox_image)
    yield backends
    backends.cleanup()


@pytest.fixture(scope="module")
def module_backends(docker_engine: DockerEngine, sandbox_image: str) -> Iterator[Backends]:
    backends = Backends(docker_engine, sandbox_image)
    yield backends
    backends.cleanup()


@pytest.fixture(scope="module")
def shared_backend(module_backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> DockerBackend:
    """One container for a whole module (each test works in its own files)."""
    return module_backends(owned_dir(tmp_path_factory.mktemp("shared") / "ws"))


@pytest.fixture(scope="session")
def owned() -> Callable[[Path], Path]:
    return owned_dir
