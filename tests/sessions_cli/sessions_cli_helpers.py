"""Helpers: a hermetic sandbox (HOME, XDG dirs, TAU_STATE_DIR under tmp) for `tau` as a subprocess, and in-process
runs with scripted models against a `FileSessionStore` (optionally recording a cassette the subprocess replays)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tau.config.spec import EnvironmentSpec, JobSpec, ModelSpec, PermissionsSpec
from tau.protocol import Event, RunCompleted
from tau.runtime import Answers, Continuation, RunEntry, prepare_run
from tau.sessions import FileSessionStore
from tau.testing import ScriptedModel, scripted_model

_SCRIPT = Path(sys.executable).with_name("tau")
TAU: tuple[str, ...] = (str(_SCRIPT),) if _SCRIPT.exists() else (sys.executable, "-m", "tau")


@dataclass
class Box:
    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "TAU_STATE_DIR": str(self.state),
        }
        env.update(extra)
        return env

    def tau(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*TAU, *args],
            cwd=self.work,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )


def make_box(tmp_path: Path) -> Box:
    box = Box(tmp_path)
    for directory in (box.home / ".config", box.work):
        directory.mkdir(parents=True, exist_ok=True)
    return box


def make_job(workspace: Path, **overrides: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "source": "<test>",
        "prompt": "do the task",
        "model": ModelSpec(provider="test", name="scripted"),
        "environment": EnvironmentSpec(workspace=str(workspace)),
        "permissions": PermissionsSpec(on_ask="suspend"),
    }
    fields.update(overrides)
    return JobSpec(**fields)


async def run_in_process(
    job: JobSpec,
    steps: Sequence[Any],
    state: Path,
    *,
    session_id: str | None = None,
    continuation: Continuation | None = None,
    record: Path | None = None,
) -> tuple[RunCompleted, list[Event], ScriptedModel]:
    model, script = scripted_model(list(steps))
    used: Any = model
    if record is not None:
        from tau.models.cassette import RecordingModel

        used = RecordingModel(model, record, workspace=job.environment.workspace)
    events: list[Event] = []
    driver = await prepare_run(
        job,
        sinks=[events.append],
        model=used,
        store=FileSessionStore(state),
        entry=RunEntry(session_id, continuation),
    )
    try:
        result = await driver.run()
    finally:
        await driver.close()
    return result, events, script


def resume(prompt: str | None = None, **answers: Any) -> Continuation:
    return Continuation(prompt=prompt, answers=Answers(**answers))
