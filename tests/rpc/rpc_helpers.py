"""Helpers for `tau serve` tests: scripted model factories, a served-server handle, and the `start_server` the
`serve` fixture uses (uvicorn in a thread on 127.0.0.1, ephemeral port)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models import Model

from tau.config import JobSpec
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync
from tau.rpc.server import RuntimeServer
from tau.rpc.service import RuntimeServiceImpl, ServiceLimits
from tau.runtime import Engine
from tau.testing import ScriptedModel, scripted_model
from tau.testing.scripted import ScriptStep

TOKEN = "s3cret-token-for-tests"


@dataclass
class Scripts:
    """A model factory playing `steps(job)` per run; keeps every run's script for assertions."""

    steps: Callable[[JobSpec], Sequence[ScriptStep]]
    played: list[ScriptedModel] = field(default_factory=list)
    jobs: list[JobSpec] = field(default_factory=list)

    def __call__(self, job: JobSpec) -> Model:
        model, script = scripted_model(list(self.steps(job)))
        self.played.append(script)
        self.jobs.append(job)
        return model


class RunScripts(Scripts):
    """One script per run, in order: `RunScripts([run1_steps, run2_steps, ...])`."""

    def __init__(self, runs: Sequence[Sequence[ScriptStep]]) -> None:
        queue = [list(steps) for steps in runs]
        super().__init__(lambda job: queue.pop(0))


@dataclass
class Served:
    url: str
    service: RuntimeServiceImpl
    server: RuntimeServer
    token: str | None
    workspace: Path
    thread: threading.Thread | None = None

    def stop(self) -> None:
        """Drain and stop the server, and wait for it to be gone."""
        self.server.stop()
        if self.thread is not None:
            self.thread.join(20)
            assert not self.thread.is_alive(), "server did not shut down"

    def client(self, *, json: bool = False) -> RuntimeServiceClientSync:
        # A generous deadline: it bounds whole streams, which on a loaded 2-core CI machine can take minutes.
        if json:
            from connectrpc.compat import google_protobuf_json_codec

            return RuntimeServiceClientSync(self.url, codec=google_protobuf_json_codec(), timeout_ms=120_000)
        return RuntimeServiceClientSync(self.url, timeout_ms=120_000)

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"} if self.token else {}

    def create(self, client: RuntimeServiceClientSync, **fields: Any) -> str:
        fields.setdefault("model", "test:scripted")
        fields.setdefault("permissions", pb.Permissions(mode="acceptEdits", allow=["Bash(*)"]))
        response = client.create_session(pb.CreateSessionRequest(**fields), headers=self.headers)
        return response.session_id


def start_server(
    workspace: Path,
    home: Path,
    model_factory: Callable[[JobSpec], Model | None] | None = None,
    *,
    token: str | None = TOKEN,
    limits: ServiceLimits | None = None,
    presets_dir: Path | None = None,
    engine: Engine | None = None,
    state_dir: Path | None = None,
) -> tuple[Served, threading.Thread]:
    service = RuntimeServiceImpl(
        env={"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")},
        cwd=workspace,
        presets_dir=presets_dir,
        model_factory=model_factory,
        limits=limits,
        state_dir=state_dir,
        engine=engine,
    )
    server = RuntimeServer(service, host="127.0.0.1", port=0, token=token)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True, name="tau-serve-test")
    thread.start()
    assert server.started.wait(15), "server did not start"
    return Served(server.url, service, server, token, workspace, thread), thread


def prompts(messages: list[ModelMessage]) -> list[str]:
    """The user prompts of a model request history, in order."""
    return [
        str(p.content)
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, UserPromptPart)
    ]
