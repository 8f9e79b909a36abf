"""Process lifetime: a command leaves children behind when its tool call returns.

Each attack starts a process whose argv contains `tau-orphan-<case>` (`exec -a`) in the background, detached in
every way a shell offers (`&`, `nohup`, `setsid`, `setsid -f`, a double fork, `disown`, a Python daemon, SIGTERM and
SIGHUP ignored), and returns at once. The tool call must return (not wait for the orphan's pipe until its timeout:
the result says `started`), and once tau has exited no such process may be alive: the command's PID namespace dies
with its first process. Under plain bash every one of them survives (calibrated, then killed by pid).
Batches: `workspace-write`, and `full` (which keeps the PID namespace).
"""

from __future__ import annotations

from typing import Any

from sec_harness import Batch, Case, bash

__all__ = ["BATCHES", "CASES"]

FAMILY = "lifetime"
ORPHAN = "exec -a tau-orphan-{ID} sleep 300"
QUIET = ">/dev/null 2>&1 </dev/null"


def lt(case_id: str, command: str, **kw: Any) -> Case:
    return bash(f"lt-{case_id}", FAMILY, command, expect="success", output_has=("started",), **kw)


CASES = [
    lt("background", f"({ORPHAN}) {QUIET} & echo started"),
    lt("holds-the-pipe", f"({ORPHAN}) & echo started", calib=f"({ORPHAN}) {QUIET} & echo started"),
    lt("nohup", f"nohup bash -c '{ORPHAN}' {QUIET} & echo started"),
    lt("setsid", f"setsid bash -c '{ORPHAN}' {QUIET} & echo started"),
    lt("setsid-fork", f"setsid -f bash -c '{ORPHAN}' {QUIET}; echo started"),
    lt("double-fork", f"( ( {ORPHAN} ) {QUIET} & ); echo started"),
    lt("disown", f"bash -c '{ORPHAN}' {QUIET} & disown; echo started"),
    lt("ignores-signals", f"bash -c 'trap \"\" TERM HUP INT; {ORPHAN}' {QUIET} & echo started"),
    lt(
        "python-daemon",
        'python3 -c "import os\nif os.fork() == 0:\n  os.setsid()\n  if os.fork() == 0:\n'
        "    fd = os.open('/dev/null', os.O_RDWR); [os.dup2(fd, n) for n in (0, 1, 2)]\n"
        f"    os.execvp('bash', ['bash', '-c', '{ORPHAN}'])\n  os._exit(0)\nos.wait(); print('started')\"",
    ),
]

WS = ("--permission-mode", "bypassPermissions", "--sandbox-policy", "workspace-write")
BATCHES = [
    Batch("lifetime-workspace-write", WS, tuple(CASES)),
    Batch("lifetime-full", ("--permission-mode", "bypassPermissions"), tuple(CASES), outside_protected=False),
]
