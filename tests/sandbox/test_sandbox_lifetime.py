"""A SIGKILL of tau leaves no command process behind (setsid + nohup children included), driven by real processes:
a small Python driver around `HostBackend.run`, and a real `tau run` replaying a scripted bash call."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from host_sandbox_helpers import kill_all, load_e2e, processes_with

# A marker duration nobody else sleeps for, so the test only ever sees its own processes.
SECONDS = f"600.{os.getpid()}"
SLEEP = ["sleep", SECONDS]
COMMAND = f"(setsid nohup sleep {SECONDS} >/dev/null 2>&1 &); nohup sleep {SECONDS} >/dev/null 2>&1 & sleep {SECONDS}"
BOUND = 60.0  # seconds a state may take to appear; generous, only a hang reaches it

DRIVER = """
import sys, anyio
from tau.environment import HostBackend
from tau.environment.policy import SandboxConfig

async def main(root, policy, command):
    sandbox = None if policy == "none" else SandboxConfig(policy=policy)
    backend = HostBackend(root, sandbox=sandbox)
    await backend.run(command, shell=True, timeout=900)

anyio.run(main, *sys.argv[1:4])
"""


def wait_for(predicate: object, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def kill_and_count(process: subprocess.Popen[bytes], *, settle: bool = True) -> int:
    """SIGKILL `process` once its three sleeps run; then the number of sleeps alive once it is reaped (`settle`:
    after giving the kernel the time to tear the sandbox down)."""
    wait_for(lambda: len(processes_with(SLEEP)) == 3, "the command's three sleeps")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=BOUND)
    deadline = time.monotonic() + BOUND
    while settle and processes_with(SLEEP) and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(processes_with(SLEEP))


@pytest.mark.parametrize("policy", ["read-only", "workspace-write", "full"])
def test_sigkill_of_the_driver_leaves_nothing(ws: Path, policy: str) -> None:
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(ws), policy, COMMAND])
    try:
        assert kill_and_count(driver) == 0
    finally:
        driver.kill()
        kill_all(processes_with(SLEEP))


def test_without_the_sandbox_they_survive(ws: Path) -> None:
    """The control: the same driver and command without a sandbox leaves the sleeps running (the test can fail)."""
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(ws), "none", COMMAND])
    try:
        assert kill_and_count(driver, settle=False) == 3  # orphans, still running after their parent is gone
    finally:
        driver.kill()
        kill_all(processes_with(SLEEP))


def test_sigkill_of_tau_run_leaves_nothing(tmp_path: Path) -> None:
    e2e = load_e2e()
    from tau.testing import calls, reply

    box = e2e.Sandbox(tmp_path / "box")
    cassette = tmp_path / "sleep.cassette.json"
    args = ["-p", "Sleep.", "--permission-mode", "bypassPermissions", "--sandbox-policy", "workspace-write"]
    steps = [calls(("bash", {"command": COMMAND}), text="Sleeping."), reply("Awake.")]
    e2e.record_cassette(box, [*args, "--timeout", "1s"], steps, cassette)
    assert processes_with(SLEEP) == []  # the recording's own run was stopped by its timeout, sleeps included
    tau = subprocess.Popen(
        e2e.tau_command("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json"),
        cwd=box.work,
        env=box.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert kill_and_count(tau) == 0
    finally:
        tau.kill()
        kill_all(processes_with(SLEEP))


@pytest.mark.anyio
@pytest.mark.parametrize("policy", ["read-only", "workspace-write", "full"])
async def test_a_timeout_stops_the_whole_tree(ws: Path, policy: str) -> None:
    from pydantic_ai.workspaces import WorkspaceTimeoutError

    from tau.environment import HostBackend
    from tau.environment.policy import SandboxConfig

    backend = HostBackend(ws, sandbox=SandboxConfig(policy=policy))
    try:
        with pytest.raises(WorkspaceTimeoutError):
            await backend.run(f"echo started; {COMMAND}", shell=True, timeout=1)
        deadline = time.monotonic() + BOUND
        while processes_with(SLEEP) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_with(SLEEP) == []
    finally:
        kill_all(processes_with(SLEEP))
        await backend.aclose()


@pytest.mark.anyio
async def test_without_the_sandbox_a_timeout_leaves_the_setsid_child(ws: Path) -> None:
    """The control of the test above: the process-group kill alone misses a `setsid` child."""
    from pydantic_ai.workspaces import WorkspaceTimeoutError

    from tau.environment import HostBackend

    try:
        with pytest.raises(WorkspaceTimeoutError):
            await HostBackend(ws).run(COMMAND, shell=True, timeout=3)
        assert len(processes_with(SLEEP)) >= 1
    finally:
        kill_all(processes_with(SLEEP))
