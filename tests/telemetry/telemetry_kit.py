"""Helpers for the telemetry tests: a hermetic box per test (HOME, workspace, an environment built from scratch),
`tau` as a real subprocess, and cassettes recorded in-process so that the subprocess replays a scripted model.

`Box.record(name, prompt, flags, steps)` resolves the job exactly as `tau run -p PROMPT <flags>` will (`load_job`
with the same flags, environment and cwd), runs it once with `RecordingModel(scripted model)` and returns the
cassette; `Box.tau(...)` then runs `tau run ... --model replay:<cassette>` with the extra environment a test gives
(the OTLP endpoint, a TRACEPARENT). Replay checks every request against the recording, so the subprocess really runs
the same tools, with the same results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCRIPT = Path(sys.executable).with_name("tau")
TAU: tuple[str, ...] = (str(_SCRIPT),) if _SCRIPT.exists() else (sys.executable, "-m", "tau")
TIMEOUT = 120


@dataclass
class Box:
    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def work(self) -> Path:
        return self.root / "work"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "LANG": "C.UTF-8",
        }
        return {**base, **(extra or {})}

    def user_config(self, text: str) -> None:
        path = self.home / ".config" / "tau" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def user_settings(self, settings: dict[str, Any]) -> None:
        """The user's `settings.json` (hooks, in Claude Code's shape)."""
        path = self.home / ".config" / "tau" / "settings.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))

    def record(self, name: str, prompt: str, flags: Mapping[str, Any], steps: Sequence[Any]) -> Path:
        import anyio

        from tau.config import load_job
        from tau.models.cassette import RecordingModel
        from tau.runtime import prepare_run
        from tau.testing import scripted_model

        cassette = self.root / f"{name}.cassette.json"
        env = self.env()
        job = load_job(prompt_text=prompt, flags={"model": "test:scripted", **flags}, env=env, cwd=self.work)
        model, _ = scripted_model(list(steps))
        recording = RecordingModel(model, str(cassette), workspace=str(self.work))

        async def main() -> None:
            driver = await prepare_run(job, model=recording, environ=env)
            try:
                await driver.run()
            finally:
                await driver.close()

        anyio.run(main)
        assert cassette.is_file()
        return cassette

    def tau(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*TAU, *args],
            cwd=self.work,
            env=self.env(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )


def flag_args(flags: Mapping[str, Any]) -> list[str]:
    """`load_job` flags as `tau run` options (the few these tests use)."""
    out: list[str] = []
    for key, value in flags.items():
        option = "--" + key.replace("_", "-")
        for item in value if isinstance(value, list | tuple) else [value]:
            out += [option, str(item)]
    return out
