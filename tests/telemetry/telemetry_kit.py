"""Helpers for the telemetry tests: a hermetic box per test (HOME, workspace, an environment built from scratch),
`tau` as a real subprocess, and cassettes recorded in-process so that the subprocess replays a scripted model.

`Box.record(name, prompt, flags, steps)` resolves the job exactly as `tau run -p PROMPT <flags>` will (`load_job`
with the same flags, environment and cwd), runs it once with `RecordingModel(scripted model)` and returns the
cassette; `Box.tau(...)` then runs `tau run ... --model replay:<cassette>` with the extra environment a test gives
(the OTLP endpoint, a TRACEPARENT). Replay checks every request against the recording, so the subprocess really runs
the same tools, with the same results.

`serve(box, ...)` starts `tau serve` as a real subprocess (token file, state dir, port 0) and yields a `Served`
with a Connect client: `session(model)`, `run(session, prompt, **headers)` to the final event.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync

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
        option = "--sandbox" if key == "environment" else "--" + key.replace("_", "-")
        for item in value if isinstance(value, list | tuple) else [value]:
            out += [option, str(item)]
    return out


# -- tau serve as a real subprocess -------------------------------------------------------------------------------

TOKEN = "telemetry-test-token"
_LISTENING = re.compile(r"listening on (\S+)")


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def headers(self, **extra: str) -> dict[str, str]:
        return {"authorization": f"Bearer {TOKEN}", **extra}

    def client(self) -> RuntimeServiceClientSync:
        return RuntimeServiceClientSync(self.url, timeout_ms=TIMEOUT * 1000)

    def session(self, model: str, **fields: Any) -> str:
        request = pb.CreateSessionRequest(model=model, **fields)
        return self.client().create_session(request, headers=self.headers()).session_id

    def run(self, session_id: str, prompt: str, **headers: str) -> pb.Final:
        """Run `prompt` in the session and follow its stream to the final event."""
        request = pb.RunRequest(session_id=session_id, prompt=prompt)
        for response in self.client().run(request, headers=self.headers(**headers)):
            if response.HasField("final"):
                return response.final
        raise AssertionError("the run's stream ended without a final event")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(TIMEOUT)
        assert self.process.stderr is not None
        rest = self.process.stderr.read()
        self.process.stderr.close()
        return rest


@contextmanager
def serve(box: Box, *args: str, env: Mapping[str, str] | None = None) -> Iterator[Served]:
    """`tau serve --port 0 --token-file ...` in the box; stopped (SIGTERM, drained) at the end."""
    token_file = box.root / "token"
    token_file.write_text(TOKEN + "\n")
    command = [*TAU, "serve", "--port", "0", "--token-file", str(token_file), "--state-dir", str(box.root / "state")]
    process = subprocess.Popen(
        [*command, *args], cwd=box.work, env=box.env(env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    lines: list[str] = []
    while True:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"tau serve exited with {process.wait()}: {''.join(lines)}")
        lines.append(line)
        if match := _LISTENING.search(line):
            break
    served = Served(process, match.group(1))
    try:
        yield served
    finally:
        served.stop()


def record_session(box: Box, request: pb.CreateSessionRequest, prompt: str, steps: Sequence[Any]) -> Path:
    """A cassette for a `tau serve` session created with `request` (its `model` is replaced by the cassette's
    replay ref by the caller), recorded through the job the server will resolve for it."""
    import anyio

    from tau.models.cassette import RecordingModel
    from tau.rpc.jobs import build_session_job
    from tau.runtime import prepare_run
    from tau.testing import scripted_model

    cassette = box.root / f"session-{len(list(box.root.glob('session-*')))}.cassette.json"
    env = box.env()
    job = build_session_job(request, env=env, cwd=box.work).for_run(prompt, session_id=f"recording-{cassette.stem}")
    model, _ = scripted_model(list(steps))
    recording = RecordingModel(model, str(cassette), workspace=str(box.work))

    async def main() -> None:
        driver = await prepare_run(job, model=recording, environ=env)
        try:
            await driver.run()
        finally:
            await driver.close()

    anyio.run(main)
    assert cassette.is_file()
    return cassette
