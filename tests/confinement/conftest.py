"""Fixtures for confinement tests across packages: one scripted tool step through a real Agent, and docker backends.

`call_tools` runs one model step of tool calls (then "done") and returns what the model got back. Usage is given,
not estimated: FunctionModel's estimate serializes the arguments, and lone surrogates cannot be serialized.
`docker_backend` builds a DockerBackend over a workspace owned by uid 1000 (skipped without a daemon, failing when
CI=true) and removes its container afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.toolsets import AbstractToolset
from pydantic_ai.usage import RequestUsage
from pydantic_ai.workspaces import WorkspaceBackend

CallTools = Callable[..., Awaitable[list[tuple[str, str, str]]]]
UID = 1000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def call_tools() -> CallTools:
    async def run(
        backend: WorkspaceBackend, toolsets: Sequence[AbstractToolset[None]], *calls: tuple[str, dict[str, Any]]
    ) -> list[tuple[str, str, str]]:
        def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            usage = RequestUsage(input_tokens=1, output_tokens=1)
            if len(messages) > 1:
                return ModelResponse(parts=[TextPart("done")], usage=usage)
            parts = [ToolCallPart(name, args, tool_call_id=f"c{i}") for i, (name, args) in enumerate(calls)]
            return ModelResponse(parts=parts, usage=usage)

        result = await Agent(FunctionModel(model), toolsets=list(toolsets)).run("go", workspace=backend)
        assert result.output == "done"
        request = result.all_messages()[2]
        assert isinstance(request, ModelRequest)
        return [(p.tool_name, p.outcome, str(p.content)) for p in request.parts if isinstance(p, ToolReturnPart)]

    return run


@pytest.fixture
def docker_workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    if os.geteuid() == 0:
        os.chown(path, UID, UID)
    return path


@pytest.fixture
def docker_backend(docker_workspace: Path) -> Iterator[Any]:
    from tau.environment.docker import DockerBackend, DockerEngine
    from tau.environment.sandbox import SandboxSpec, build_image, remove

    if not DockerEngine().ping():
        reason = "no Docker daemon answers (run scripts/install-docker.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    backend = DockerBackend(docker_workspace, spec=SandboxSpec(image=build_image()))
    yield backend
    backend.close()
    if backend.ref is not None:
        remove(backend.ref.id)
