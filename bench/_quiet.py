"""Shared by the benchmarks (not one itself: `.ci/run` skips `bench/_*.py`): wait for the machine to go quiet.

In CI each benchmark follows the test suite or another benchmark, whose tail (containers being removed, the Docker
daemon settling, page-cache writeback) would otherwise be measured as tau's time. `settle()` waits, at most
`max_wait_s`, for the 1-minute load average to fall below `below`, and says what it saw; benchmarks put that in
their JSON.
"""

from __future__ import annotations

import os
import time


def settle(below: float = 1.0, max_wait_s: float = 60.0) -> dict[str, float]:
    started, before = time.monotonic(), os.getloadavg()[0]
    while os.getloadavg()[0] >= below and time.monotonic() - started < max_wait_s:
        time.sleep(1)
    return {
        "load_before": round(before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "waited_s": round(time.monotonic() - started, 1),
    }
