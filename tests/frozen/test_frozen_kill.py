"""The one-file binary's kill semantics: the pid a user or CI holds is tau (tau.cli.frozen).

- SIGKILL of that pid mid-run ends tau: no tau process, no tool process and no unpack folder is left.
- SIGINT while the binary is still starting ends it quietly with 130 (no launcher traceback).
- SIGTERM then SIGINT 50 ms later: the process's exit status is the one its terminal event reports.

The model is aimock answering with a bash call that runs a long, uniquely named process, so each test can find
and wait for the tool command it interrupts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _e2e_http() -> ModuleType:  # the aimock helpers, loaded by path (test directories are not packages)
    spec = importlib.util.spec_from_file_location("_tau_frozen_kill_http", ROOT / "tests" / "e2e_http" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_http = _e2e_http()
run_aimock: Any = _http.run_aimock
require_aimock: Any = _http.require_aimock


def _processes(needle: str) -> list[int]:
    """Pids whose command line holds `needle` as a whole argument."""
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if f"\0{needle}\0".encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def marker() -> str:
    return f"tau-frozen-kill-{os.getpid()}-{time.monotonic_ns()}"


@pytest.fixture
def slow_model(tmp_path: Path, marker: str) -> Iterator[str]:
    """aimock whose answer to "slow tool" is a bash call running `perl -e 'sleep 120' MARKER`."""
    require_aimock()
    command = f"perl -e 'sleep 120' {marker}"
    fixture = {
        "fixtures": [
            {
                "match": {"userMessage": "slow tool", "hasToolResult": False},
                "response": {"toolCalls": [{"name": "bash", "arguments": {"command": command, "timeout": 300}}]},
            },
            {"match": {"userMessage": "slow tool"}, "response": {"content": "done"}},
        ]
    }
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(fixture))
    with run_aimock(path) as origin:
        yield f"{origin}/v1"


def _start(tau_binary: Path, env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(tau_binary), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _slow_run(base_url: str) -> tuple[str, ...]:
    return ("run", "-p", "slow tool", "--model", "openai-chat:m", "--base-url", base_url, "--allow", "Bash")


def test_sigkill_of_the_binary_pid_leaves_no_process_and_no_unpack_folder(
    tau_binary: Path, hermetic_env: dict[str, str], hello_dir: Path, tmp_path: Path, marker: str, slow_model: str
) -> None:
    unpack = tmp_path / "unpack"
    unpack.mkdir()
    env = {**hermetic_env, "TMPDIR": str(unpack)}
    proc = _start(tau_binary, env, hello_dir, *_slow_run(slow_model), "-o", "stream-json")
    try:
        _until(lambda: _processes(marker), 60, "the tool command to start")
        children = _children(proc.pid)
        assert children, "the one-file launcher has no child"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        _until(lambda: not any(_alive(pid) for pid in children), 30, "tau's Python process to end")
        _until(lambda: not _processes(marker), 10, "the tool command to end")
        _until(lambda: not list(unpack.glob("_MEI*")), 10, "the unpack folder to be removed")
    finally:
        proc.kill()


def test_a_stale_unpack_folder_of_a_dead_tau_is_swept(
    tau_binary: Path, hermetic_env: dict[str, str], tmp_path: Path
) -> None:
    unpack = tmp_path / "unpack"
    stale = unpack / "_MEIdead01"
    stale.mkdir(parents=True)
    (stale / ".tau-alive").write_text("")  # its owner is gone: nobody holds the lock
    foreign = unpack / "_MEIother"  # another program's folder (no tau lock file): never touched
    foreign.mkdir()
    env = {**hermetic_env, "TMPDIR": str(unpack)}
    done = subprocess.run([str(tau_binary), "--version"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in unpack.iterdir()) == ["_MEIother"]


def test_sigint_while_starting_exits_130_without_a_traceback(
    tau_binary: Path, hermetic_env: dict[str, str], hello_dir: Path, tmp_path: Path
) -> None:
    """From the first of tau's runtime hooks on (its lock file exists), an early SIGINT is a quiet 130. (Before
    that, while PyInstaller's own bootstrap runs, a signal can still end the child with PyInstaller's traceback:
    docs/binary.md.)"""
    unpack = tmp_path / "unpack"
    unpack.mkdir()
    env = {**hermetic_env, "TMPDIR": str(unpack)}
    for delay in (0.0, 0.05, 0.1, 0.2):
        proc = _start(tau_binary, env, hello_dir, "run", "-p", "hi", "--model", "test:x")
        _until(
            lambda p=proc: bool(list(unpack.glob("_MEI*/.tau-alive"))) or p.poll() is not None, 60, "tau's code to run"
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0:
            continue  # it finished before the signal: nothing to check at this delay
        assert proc.returncode == 130, (delay, err)
        assert "Traceback" not in err and "Failed to execute" not in err, (delay, err)


def test_sigterm_then_sigint_exits_with_the_terminal_events_code(
    tau_binary: Path, hermetic_env: dict[str, str], hello_dir: Path, marker: str, slow_model: str
) -> None:
    proc = _start(tau_binary, hermetic_env, hello_dir, *_slow_run(slow_model), "-o", "stream-json")
    try:
        _until(lambda: _processes(marker), 60, "the tool command to start")
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    last = json.loads(out.strip().splitlines()[-1])
    assert last["type"] == "run.completed", err
    assert (proc.returncode, last["exit_code"]) == (143, 143), err
