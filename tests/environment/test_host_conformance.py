"""HostBackend against pydantic-ai's workspace conformance suite (every rule, including reattach and destroy)."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pydantic_ai.workspaces import WorkspaceBackend, WorkspaceRef
from pydantic_ai.workspaces.conformance import WorkspaceBackendSuite

from tau.environment import HostBackend
from tau.environment.confined import ConfinedFiles


class TestHostBackendConformance(WorkspaceBackendSuite):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> WorkspaceBackend:
        root = tmp_path / "workspace"
        root.mkdir()
        return HostBackend(root)

    # `fresh_backend` stays None: like LocalWorkspaceBackend, the directory is the environment, so the ref exists
    # from construction and the "ref is None before first use" rule does not apply.

    @pytest.fixture
    def destructive_backend(self, tmp_path_factory: pytest.TempPathFactory) -> Callable[[], WorkspaceBackend]:
        def build() -> WorkspaceBackend:
            return HostBackend(tmp_path_factory.mktemp("destructible"))

        return build

    @pytest.fixture
    def attach_backend(self) -> Callable[[WorkspaceRef], WorkspaceBackend]:
        def attach(ref: WorkspaceRef) -> WorkspaceBackend:
            return HostBackend(ref.id)

        return attach

    @pytest.fixture
    def destroy_environment(self) -> Callable[[WorkspaceBackend], Awaitable[None]]:
        async def destroy(backend: WorkspaceBackend) -> None:
            shutil.rmtree(await backend.working_dir())

        return destroy


class TestHostBackendWalkConformance(WorkspaceBackendSuite):
    """The same rules with the openat2 fast path off: every path resolved by the O_NOFOLLOW component walk (what
    runs on kernels before 5.6, and for every path with a symlink in it)."""

    @pytest.fixture
    def backend(self, tmp_path: Path) -> WorkspaceBackend:
        root = tmp_path / "workspace"
        root.mkdir()
        backend = HostBackend(root)
        backend._confined = ConfinedFiles(str(root), kernel=False)
        return backend
