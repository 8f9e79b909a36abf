"""Helpers for the frozen smoke tests: record a cassette in-process (venv), replay it through the binary; read the
`listening on` line of `tau serve`.

The binary cannot take a scripted model, so a scripted run is recorded here, in the test process, with
`RecordingModel(scripted model)` from exactly the flags the binary will get (parsed by `tau run`'s own click command),
in the same workspace and with the same environment; the binary then runs `tau run ... --model replay:CASSETTE`.
Replay checks every request against the recording, so the binary really runs the same tools (MCP server, docker
sandbox) and gets the same results, or fails loudly.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LISTENING = re.compile(r"tau serve: listening on (http://[^\s:]+:\d+)")


def record_cassette(
    workdir: Path, env: dict[str, str], args: Sequence[str], steps: Sequence[Any], cassette: Path
) -> Any:
    """Run `tau run ARGS --model test:scripted` in-process in `workdir` with the scripted `steps`; record `cassette`.

    Returns the terminal `RunCompleted` of the recording run.
    """
    import anyio

    from tau.cli.main import run_command
    from tau.cli.run import _flag_values
    from tau.config import load_job
    from tau.models.cassette import RecordingModel
    from tau.runtime import prepare_run
    from tau.testing import scripted_model

    ctx = run_command.make_context("run", [*args, "--model", "test:scripted"])
    params = dict(ctx.params)
    job_file = params.pop("job_file")
    prompt_text = params.pop("prompt_text")
    params.pop("quiet")
    params.pop("state_dir", None)
    params.pop("session_id", None)
    from tau.cli.engines import pop_engine

    pop_engine(params)  # --engine and friends are not job settings
    job = load_job(
        job_path=job_file, prompt_text=prompt_text, stdin_text=None, flags=_flag_values(params), env=env, cwd=workdir
    )
    model, _ = scripted_model(list(steps), model_name="scripted")
    recording = RecordingModel(model, cassette, workspace=job.environment.workspace)

    async def main() -> Any:
        driver = await prepare_run(job, model=recording)
        try:
            return await driver.run()
        finally:
            await driver.close()

    return anyio.run(main)


def wait_for_url(process: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The URL `tau serve --port 0` prints on stderr (`tau serve: listening on http://HOST:PORT`)."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"tau serve exited with {process.wait()}: {''.join(seen)}")
        seen.append(line)
        if match := LISTENING.search(line):
            return match.group(1)
    raise AssertionError(f"tau serve did not listen within {timeout}s: {''.join(seen)}")


def stop(process: subprocess.Popen[str]) -> int:
    """SIGTERM, then SIGKILL after 10 s; returns the exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return process.returncode


def systemd_service(unit: Path) -> dict[str, list[str]]:
    """`Key=value` lines of a systemd unit's [Service] section (a key may repeat)."""
    service: dict[str, list[str]] = {}
    section = None
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            service.setdefault(key, []).append(value)
    return service
