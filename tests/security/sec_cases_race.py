"""A symlink swapped under the file tools, through `tau run`: while the scripted model writes and reads through
`flip/`, a thread beside tau keeps replacing `flip` (atomically, by rename) with a symlink to a workspace directory
or to the outside directory. Whatever the tools checked, a write must never land outside and a read must never
return the outside secret. The writes use distinct names, so a landed one names its case.

The positive control (`naive_race`) runs the same flipping against a plain `open()` of the same paths: without the
backend's beneath-the-root resolution, writes do land outside, so the race is real and winnable here.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

from sec_harness import Batch, Case
from sec_layout import Layout

__all__ = ["BATCHES", "CASES", "flip_forever", "naive_race"]

FAMILY = "race"
ROUNDS = 40


def flip_forever(layout: Layout, stop: threading.Event) -> None:
    """Keep `work/flip` alternating between `work/inside` and the outside directory until `stop`."""
    flip, staged = layout.work / "flip", layout.work / "flip.next"
    targets = (str(layout.work / "inside"), str(layout.outside))
    n = 0
    while not stop.is_set():
        n += 1
        os.symlink(targets[n % 2], staged)
        os.replace(staged, flip)
        time.sleep(0.0001)  # yield: other runs share the machine


def _setup(layout: Layout) -> None:
    (layout.work / "inside").mkdir(exist_ok=True)
    (layout.work / "inside" / "secret.txt").write_text("decoy\n")
    if not os.path.lexists(layout.work / "flip"):
        os.symlink(layout.work / "inside", layout.work / "flip")


def rc(n: int) -> list[Case]:
    files = {"inside/secret.txt": "decoy\n", "flip": "symlink:{WS}/inside"}
    write = Case(
        f"rc-write-{n:02d}",
        FAMILY,
        "write",
        {"file_path": "flip/landed-{ID}", "content": "x"},
        files=files,
        calib=False,
        absent=("../outside/landed-{ID}",),  # landing inside is fine
    )
    read = Case(f"rc-read-{n:02d}", FAMILY, "read", {"file_path": "flip/secret.txt"}, calib=False)
    edit = Case(
        f"rc-edit-{n:02d}",
        FAMILY,
        "edit",
        {"file_path": "flip/secret.txt", "old_string": "SECRET", "new_string": "PWNED"},
        calib=False,
    )
    return [write, read, edit]


CASES = [case for n in range(ROUNDS) for case in rc(n)]

BYPASS = ("--permission-mode", "bypassPermissions", "--sandbox-policy", "workspace-write")
BATCHES = [
    Batch("race-bypass", BYPASS, tuple(CASES[: len(CASES) // 2]), racer=flip_forever),
    Batch("race-accept", ("--permission-mode", "acceptEdits"), tuple(CASES[len(CASES) // 2 :]), racer=flip_forever),
]


def naive_race(root: Path, writes: int = 400) -> int:
    """How many of `writes` plain `open(flip/...)` writes land outside while `flip` flips (the positive control)."""
    layout = Layout(root).build()
    _setup(layout)
    stop = threading.Event()
    racer = threading.Thread(target=flip_forever, args=(layout, stop), daemon=True)
    racer.start()
    try:
        for n in range(writes):
            with contextlib.suppress(OSError):
                (layout.work / "flip" / f"naive-{n}").write_text("x")
    finally:
        stop.set()
        racer.join()
    return sum(1 for name in os.listdir(layout.outside) if name.startswith("naive-"))
