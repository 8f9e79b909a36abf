"""Fixtures for the built-in tool tests: backends to run them on, and a scripted agent that calls tools.

`backend_factory` is parametrized over the host backend and the docker backend (marked `docker`; skipped without a
daemon, failing when CI=true). The docker workspace is mounted at the same path as on the host, so the tests' paths
and expected messages hold on both; `run_tools` drives a real pydantic-ai Agent with
a FunctionModel that issues the given tool calls, one model response per step, then answers "done". It returns, per
step, the parts the model received in the next request (ToolReturnPart with outcome success/failed/retried).
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
from pydantic_ai.usage import RequestUsage
from pydantic_ai.workspaces import WorkspaceBackend

from tau.config.spec import BUILTIN_TOOLS
from tau.environment import HostBackend
from tau.tools import ToolLimits, build_toolset

BackendFactory = Callable[[Path], WorkspaceBackend]
Call = tuple[str, dict[str, Any] | str]
RunTools = Callable[..., Awaitable[list[list[ToolReturnPart]]]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def docker_sandbox_image() -> str:
    """The sandbox image tag, built if missing; skip without a daemon (fail when CI=true)."""
    from tau.environment.docker import DockerEngine
    from tau.environment.sandbox import build_image

    if not DockerEngine().ping():
        reason = "no Docker daemon answers (run scripts/install-docker.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return build_image()


@pytest.fixture(params=["host", pytest.param("docker", marks=pytest.mark.docker)])
def backend_factory(request: pytest.FixtureRequest) -> Iterator[BackendFactory]:
    if request.param == "host":
        yield HostBackend
        return
    from tau.environment.docker import DockerBackend
    from tau.environment.sandbox import SandboxSpec, remove

    image = request.getfixturevalue("docker_sandbox_image")
    made: list[DockerBackend] = []

    def docker(root: Path) -> WorkspaceBackend:
        made.append(DockerBackend(root, spec=SandboxSpec(image=image, workdir=str(root))))
        return made[-1]

    yield docker
    for backend in made:
        backend.close()
        if backend.ref is not None:
            remove(backend.ref.id)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The workspace directory; `tmp_path / "outside"` is a sibling the tools must not reach."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "outside").mkdir()
    return workspace


@pytest.fixture
def backend(backend_factory: BackendFactory, root: Path) -> WorkspaceBackend:
    return backend_factory(root)


def _script(steps: Sequence[Sequence[Call]]) -> Callable[[list[ModelMessage], AgentInfo], ModelResponse]:
    """Usage is given, not estimated: FunctionModel's estimate serializes the arguments, and lone surrogates in them
    (tests/tools/test_path_hygiene.py) cannot be serialized."""

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        step = sum(isinstance(message, ModelResponse) for message in messages)
        if step >= len(steps):
            return ModelResponse(parts=[TextPart("done")], usage=RequestUsage(input_tokens=1, output_tokens=1))
        return ModelResponse(
            parts=[
                ToolCallPart(name, args, tool_call_id=f"call-{step}-{index}")
                for index, (name, args) in enumerate(steps[step])
            ],
            usage=RequestUsage(input_tokens=1, output_tokens=1),
        )

    return model


@pytest.fixture
def run_tools(backend: WorkspaceBackend) -> RunTools:
    async def run(
        *steps: Sequence[Call], limits: ToolLimits | None = None, names: Sequence[str] = BUILTIN_TOOLS
    ) -> list[list[ToolReturnPart]]:
        toolset = build_toolset(names, limits=limits or ToolLimits())
        agent = Agent(FunctionModel(_script(steps)), toolsets=[toolset])
        result = await agent.run("go", workspace=backend)
        assert result.output == "done"
        requests = [message for message in result.all_messages() if isinstance(message, ModelRequest)][1:]
        return [[part for part in request.parts if isinstance(part, ToolReturnPart)] for request in requests]

    return run


@pytest.fixture
def run_one(run_tools: RunTools) -> Callable[..., Awaitable[ToolReturnPart]]:
    """Run a single tool call and return what the model got back."""

    async def one(name: str, args: dict[str, Any] | str, **kwargs: Any) -> ToolReturnPart:
        [[part]] = await run_tools([(name, args)], **kwargs)
        return part

    return one
