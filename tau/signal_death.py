"""Ending the process "by a signal" in a way every parent can see, including a one-file launcher that is pid 1.

tau serve, its `--local` variant and the warm thin client end by the SIGTERM/SIGINT that stopped them (the wait
status says "signalled", as for any Unix tool). The one-file binary's launcher mirrors a signalled child by raising
the same signal on itself — which does nothing when the launcher is pid 1 (`docker run IMAGE` without `--init`: the
kernel ignores default-action signals for a namespace's init), so the launcher fell through and exited 1. In that case
the child exits with `128 + signum` instead, which the launcher passes on as its own exit code: what a shell shows for
a signal death.

`tau.cli.frozen.adopt_launcher` calls `launcher_is_init()` when it adopts a pid-1 launcher; everything that would die
by a signal calls `die_by(signum)` or installs `death_handler()` instead of `SIG_DFL`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

__all__ = ["death_handler", "die_by", "launcher_is_init"]

_init_launcher: list[bool] = []


def launcher_is_init() -> None:
    """Record that this process's one-file launcher is pid 1 (it cannot mirror a signal death)."""
    _init_launcher.append(True)


def die_by(signum: int) -> NoReturn:
    """End the process by `signum`: a real signal death, or `128 + signum` under a pid-1 launcher."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if not _init_launcher:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    os._exit(128 + signum)


def _die(signum: int, frame: FrameType | None) -> None:
    die_by(signum)


def death_handler() -> Callable[[int, FrameType | None], None] | int:
    """What to install where `SIG_DFL` would end the process: `SIG_DFL` itself, or under a pid-1 launcher a handler
    that exits with `128 + signum`."""
    return _die if _init_launcher else signal.SIG_DFL
