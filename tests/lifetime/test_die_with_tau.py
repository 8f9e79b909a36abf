"""Hooks and MCP stdio servers die with tau, however it dies: a SIGKILL of `tau run` leaves none of them behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tau.environment.lifetime import lifetime_available

TAU = [str(Path(sys.executable).with_name("tau"))]
pytestmark = pytest.mark.skipif(not lifetime_available(), reason="bubblewrap cannot run here")


def _running(needle: str) -> list[int]:
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if f"\0{needle}\0".encode() in handle.read():  # a whole argument
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _wait_for(needle: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not _running(needle):
        if time.monotonic() > deadline:
            pytest.fail(f"{needle!r} never started")
        time.sleep(0.05)


def _gone(needle: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while _running(needle):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "XDG_CONFIG_HOME": str(home / ".config")}


def _marker(tag: str) -> str:
    return f"tau-lifetime-{tag}-{os.getpid()}-{time.monotonic_ns()}"


def _sleeper(marker: str) -> str:
    """A shell line that leaves a background child and a foreground one, both findable by `marker` (perl: a
    plain `sleep` is what other tests' clean-ups look for)."""
    return f"perl -e 'sleep 600' {marker} & perl -e 'sleep 600' {marker}"


def test_sigkill_during_a_hook_leaves_no_hook_process(tmp_path: Path) -> None:
    marker = _marker("hook")
    work = tmp_path / "work"
    (work / ".tau").mkdir(parents=True)
    hook = {"hooks": {"SessionStart": [{"hooks": [{"command": _sleeper(marker), "timeout": 600}]}]}}
    (work / ".tau" / "settings.json").write_text(json.dumps(hook))
    args = [*TAU, "run", "-p", "hi", "--model", "test:x", "--trust-workspace", "--state-dir", str(tmp_path / "s")]
    proc = subprocess.Popen(args, cwd=work, env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(marker)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert _gone(marker), "a hook process survived tau"
    finally:
        proc.kill()


def test_sigkill_during_mcp_startup_leaves_no_server_process(tmp_path: Path) -> None:
    marker = _marker("mcp")
    work = tmp_path / "work"
    work.mkdir()
    server = {"command": "sh", "args": ["-c", _sleeper(marker)], "timeout": 600_000}
    config = json.dumps({"mcpServers": {"slow": server}})
    args = [*TAU, "run", "-p", "hi", "--model", "test:x", "--mcp-config", config, "--state-dir", str(tmp_path / "s")]
    proc = subprocess.Popen(args, cwd=work, env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(marker)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert _gone(marker), "an MCP server process survived tau"
    finally:
        proc.kill()
