"""When this tau started, for the limits a user measures from launch (`--timeout`: a 4 s limit ends the run ~4 s after
the command was started, start-up included, not 4 s after the agent loop began).

The start is the kernel's start time of the pid the user holds (field 22 of `/proc/<pid>/stat`, in clock ticks since
boot): this process's own, or, in the one-file binary, its launcher's (our parent: it unpacked the payload before
this process existed). `age()` compares it with `CLOCK_BOOTTIME`, the clock those start times count on (time
namespaces included); the resolution is one clock tick (10 ms). Without a readable `/proc` it falls back to the time
this module was first imported (`tau.cli.run` imports it, before the job is loaded).

Invariant: `age()` is never negative, and a parent is only taken for the one-file launcher it must be (a re-parented
child would otherwise read init's start: the machine's uptime).
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["adopt_start", "age", "monotonic_origin", "start_seconds"]

_IMPORTED = time.monotonic()
_adopted: list[float] = []  # a warm run's start: its client's (`tau.cli.warm_server`)
_LAUNCHER_LEAD = 60.0  # the launcher starts its child within this many seconds (unpacking takes well under one)


def _start_seconds(pid: int | str) -> float | None:
    """Seconds after boot at which `pid` started, or None when /proc cannot say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        fields = stat[stat.rindex(b")") + 2 :].split()  # after the command name, which may hold spaces and parens
        return int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _one_file_child() -> bool:
    base = getattr(sys, "_MEIPASS", None)
    return bool(getattr(sys, "frozen", False)) and isinstance(base, str) and os.path.basename(base).startswith("_MEI")


def start_seconds() -> float | None:
    """Seconds after boot (`CLOCK_BOOTTIME`) at which this tau was started, or None when /proc cannot say."""
    return _started()


def adopt_start(seconds: float | None) -> None:
    """From now on this process counts as started at `seconds` (a warm run takes its client's launch)."""
    _adopted[:] = [] if seconds is None else [seconds]


def _started() -> float | None:
    if _adopted:
        return _adopted[0]
    own = _start_seconds("self")
    if own is None or not _one_file_child():
        return own
    parent = os.getppid()
    launcher = _start_seconds(parent) if parent > 1 else None
    if launcher is not None and 0 <= own - launcher <= _LAUNCHER_LEAD:
        return launcher
    return own


def age() -> float:
    """Seconds since this tau was started (see the module docstring)."""
    started = _started()
    if started is None:
        return max(0.0, time.monotonic() - _IMPORTED)
    return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)


def monotonic_origin() -> float:
    """The `time.monotonic()` instant at which this tau was started."""
    return time.monotonic() - age()
