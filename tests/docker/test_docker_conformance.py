"""DockerBackend against pydantic-ai's workspace conformance suite, including reattach by ref and destruction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pydantic_ai.workspaces import WorkspaceBackend, WorkspaceRef
from pydantic_ai.workspaces.conformance import WorkspaceBackendSuite

from tau.environment.docker import DockerBackend, DockerEngine

pytestmark = pytest.mark.docker


class TestDockerBackendConformance(WorkspaceBackendSuite):
    @pytest.fixture
    def backend(self, shared_backend: DockerBackend) -> WorkspaceBackend:
        # One container for the whole suite: each rule works in its own scratch directory.
        return shared_backend

    @pytest.fixture
    def fresh_backend(
        self, make_backend: Callable[..., DockerBackend], owned: Callable[[Path], Path], tmp_path: Path
    ) -> Callable[[], WorkspaceBackend]:
        def build() -> WorkspaceBackend:
            return make_backend(owned(tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}"))

        return build

    @pytest.fixture
    def attach_backend(self, docker_engine: DockerEngine) -> Callable[[WorkspaceRef], WorkspaceBackend]:
        def attach(ref: WorkspaceRef) -> WorkspaceBackend:
            return DockerBackend.from_ref(ref, engine=docker_engine)

        return attach

    @pytest.fixture
    def destroy_environment(self, docker_engine: DockerEngine) -> Callable[[WorkspaceBackend], Awaitable[None]]:
        async def destroy(backend: WorkspaceBackend) -> None:
            assert backend.ref is not None
            docker_engine.remove(backend.ref.id)

        return destroy


def test_workspace_is_the_mount_point(tmp_path: Path) -> None:
    assert DockerBackend(tmp_path).ref is None  # no I/O, no container before the first operation
