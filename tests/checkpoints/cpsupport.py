"""Shared helpers for the checkpoint tests: a real Agent over tau's built-in tools, and tree snapshots of a dir."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo
from pydantic_ai.workspaces import WorkspaceBackend

from tau.checkpoints.recorder import CheckpointRecorder, CheckpointToolset
from tau.testing.scripted import ScriptStep, Turn, scripted_model
from tau.tools import ToolLimits, build_toolset

TOOLS = ("read", "write", "edit", "bash", "glob", "grep")


def files_of(root: Path, *, skip: Sequence[str] = (".git",)) -> dict[str, bytes]:
    """Every regular file under `root` (relative POSIX path -> bytes), skipping the named top-level dirs."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel.split("/")[0] not in skip:
            found[rel] = path.read_bytes()
    return found


class PinLog:
    """Plays a script while recording, before every model request, the checkpoint a driver commit would pin and
    the files on disk at that moment (the state the snapshot describes)."""

    def __init__(self, recorder: CheckpointRecorder, root: Path) -> None:
        self.recorder = recorder
        self.root = root
        self.pins: list[str | None] = []
        self.trees: list[dict[str, bytes]] = []

    def step(self, turn: Turn) -> ScriptStep:
        def play(messages: list[ModelMessage], info: AgentInfo) -> Turn:
            del messages, info
            self.pins.append(self.recorder.current_checkpoint())
            self.trees.append(files_of(self.root))
            return turn

        return play


async def run_script(
    backend: WorkspaceBackend, recorder: CheckpointRecorder, root: Path, turns: Sequence[Turn]
) -> tuple[PinLog, Any]:
    log = PinLog(recorder, root)
    model, _ = scripted_model([log.step(turn) for turn in turns])
    agent: Agent[None, str] = Agent(
        model,
        toolsets=[CheckpointToolset(build_toolset(TOOLS, limits=ToolLimits()), recorder=recorder)],
    )
    result = await agent.run("go", workspace=backend)
    log.pins.append(recorder.current_checkpoint())
    log.trees.append(files_of(root))
    return log, result
