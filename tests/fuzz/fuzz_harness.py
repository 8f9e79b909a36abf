"""Run a fuzz case through `tau` — in this process (`tau.cli.main.main`, `SystemExit` caught) or as a real subprocess
— in a fresh directory, and check the bad-input contract on what comes out.

In-process runs swap `sys.argv`, `os.environ` (built from scratch: PATH, a UTF-8 locale, HOME/XDG under the case's
directory), the cwd, stdin (bytes underneath, as a terminal-less pipe) and stdout/stderr, and restore them after. A
per-case alarm turns a hang into a failure instead of a stuck suite; SIGINT/SIGTERM handlers are restored too (tau
ignores both once a run has ended, which must not outlive the case).

The contract (`problems`): exit 2 (usage/config) or 3 (preflight) print exactly ONE stderr line `tau: ...` and nothing
on stdout; no input ever yields "internal error", a traceback, or exit 1; a valid input runs harmlessly (`test:`
model) and ends 0, or with a run's own code (4 plan awaiting approval, 5 budget, 53 turns, 124 timeout).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from fuzz_cases import Case

RUN_CODES = frozenset({0, 4, 5, 53, 124})  # a valid input's run ended by itself
ERROR_CODES = frozenset({2, 3})
CASE_TIMEOUT_S = 60
_SCRIPT = Path(sys.executable).with_name("tau")
TAU: tuple[str, ...] = (str(_SCRIPT),) if _SCRIPT.exists() else (sys.executable, "-m", "tau")


@dataclass(frozen=True)
class Outcome:
    code: int | str
    stdout: str
    stderr: str


def case_env(root: Path, extra: dict[str, str]) -> dict[str, str]:
    home = root / "home"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "TMPDIR": str(root / "tmp"),
        "NO_PROXY": "*",
        **extra,
    }


def lay_out(case: Case, root: Path) -> Path:
    """Write the case's files under `root`; return the working directory."""
    for directory in ("home/.config", "work", "tmp"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    for relative, data in case.files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root / "work"


class _Hung(BaseException):
    """Raised by the alarm: not an Exception, so tau's own handlers do not swallow it."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Hung(f"case still running after {CASE_TIMEOUT_S}s")


@contextlib.contextmanager
def _swapped(case: Case, root: Path) -> Iterator[tuple[io.StringIO, io.StringIO]]:
    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    out, err = io.StringIO(), io.StringIO()
    work = lay_out(case, root)
    os.environ.clear()
    os.environ.update(case_env(root, case.env))
    os.chdir(work)
    sys.argv = ["tau", *case.args]
    sys.stdin = io.TextIOWrapper(io.BytesIO(case.stdin), encoding="utf-8")
    sys.stdout, sys.stderr = out, err
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        yield out, err
    finally:
        signal.alarm(0)
        for signum, handler in handlers.items():  # a run ignores SIGINT/SIGTERM once it has ended: not for pytest
            signal.signal(signum, handler)
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def run_in_process(case: Case, root: Path) -> Outcome:
    from tau.cli.main import main

    code: int | str = "returned"
    with _swapped(case, root) as (out, err):
        try:
            main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else f"SystemExit({exit_.code!r})"
        except _Hung as hung:
            code = f"hung: {hung}"
        except BaseException as error:  # the contract: nothing escapes main()
            code = f"raised {type(error).__name__}: {error}"[:500]
    return Outcome(code, out.getvalue(), err.getvalue())


def run_subprocess(case: Case, root: Path) -> Outcome:
    work = lay_out(case, root)
    try:
        completed = subprocess.run(
            [*TAU, *case.args],
            cwd=work,
            env=case_env(root, case.env),
            input=case.stdin,
            capture_output=True,
            timeout=CASE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome(f"hung: still running after {CASE_TIMEOUT_S}s", "", "")
    stdout, stderr = (data.decode("utf-8", "replace") for data in (completed.stdout, completed.stderr))
    return Outcome(completed.returncode, stdout, stderr)


def problems(outcome: Outcome) -> list[str]:
    """What breaks the contract (see the module docstring); empty when the outcome keeps it."""
    found: list[str] = []
    lines = outcome.stderr.splitlines()
    if "internal error" in outcome.stderr or "internal_error" in outcome.stderr:
        found.append("stderr says internal error")
    if "Traceback" in outcome.stderr:
        found.append("stderr holds a traceback")
    if outcome.code in ERROR_CODES:
        if len(lines) != 1 or not lines[0].startswith("tau: "):
            found.append(f"exit {outcome.code} with {len(lines)} stderr lines (want one `tau: ...` line)")
        if outcome.stdout:
            found.append(f"exit {outcome.code} wrote to stdout")
    elif outcome.code not in RUN_CODES:
        found.append(f"exit {outcome.code!r}")
    return found


def fresh(root: Path) -> Path:
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return root
