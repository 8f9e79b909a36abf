"""Helpers shared by the host sandbox tests (imported by name: test directories are not packages)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from tau.environment import HostBackend

Factory = Callable[..., HostBackend]
PY = shlex.quote(sys.executable)
E2E = Path(__file__).resolve().parents[1] / "e2e"


def bash(command: str) -> str:
    """The line the bash tool runs for `command`."""
    return f"exec bash -c {shlex.quote(command)}"


def py(code: str) -> str:
    return f"{PY} -c {shlex.quote(code)}"


def load_e2e() -> ModuleType:
    """tests/e2e/tau_e2e.py (run_tau, record_cassette, Sandbox), loaded by path."""
    if "tau_e2e" in sys.modules:
        return sys.modules["tau_e2e"]
    spec = importlib.util.spec_from_file_location("tau_e2e", E2E / "tau_e2e.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tau_e2e"] = module
    spec.loader.exec_module(module)
    return module


def processes_with(argv: list[str]) -> list[int]:
    """Host pids whose command line is exactly `argv`."""
    wanted = [part.encode() for part in argv]
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:
            continue
        if cmdline == wanted:
            pids.append(int(entry.name))
    return pids


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
