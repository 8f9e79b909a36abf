"""The end-to-end security suite: real `tau run` subprocesses, a scripted hostile model, canaries outside the workspace.

How it works (sec_harness): each `Batch` is one `tau run` whose model (sec_model, a stdlib OpenAI-compatible server
on 127.0.0.1, reached through TAU_BASE_URL) makes one attack tool call per turn, whatever the results; the run's
workspace, home and an outside directory are a fresh `Layout` (sec_layout) full of canaries; the checks (sec_checks)
are made from outside: the event stream is tau's own, no secret token anywhere, nothing changed outside, no `pwn-*`
file, the per-attack effects absent. Every attack that can be is calibrated: under plain bash it has its effect.

Families (one `sec_cases_*` module and one `test_*` module each): smuggle (allowed-prefix smuggling), plan (plan mode
side effects), deny (deny rules dodged), confine (file-tool confinement, protected workspace paths), race (a symlink
swapped during the run), output (forged events, tau's pid, credentials, network, control sequences; test_tty for a
terminal), lifetime (children after the tool returns), kernel (the rules forced off: the sandbox alone), repo (a
hostile repository's own configuration). A documented escape is a strict xfail naming what gets through.

Every batch the selected test modules need (their `RUNS`) runs on first use, TAU_SECURITY_WORKERS (6) at a time.
The directory is skipped where bubblewrap cannot build its namespaces (tests/sandbox covers the refusal), except the
calibrations. Layout roots live under /var/tmp (TAU_SECURITY_ROOT to change: sandboxed commands get a private /tmp,
so canaries there would be hidden for the wrong reason) and are removed at the end unless TAU_SECURITY_KEEP=1.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sec_harness import Batch, BatchRun, run_batches
from sec_layout import make_root, remove_tree
from sec_model import ScriptServer, serve

from tau.environment.bwrap import find_launcher

HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "calibration: an attack run under plain bash, without tau (needs no sandbox)")


_PLANNED: dict[str, Batch] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:  # every batch a selected test module needs (its `RUNS`), run together on first use
        if not str(item.fspath).startswith(str(HERE)):
            continue  # other directories' modules may have a RUNS of their own
        module = getattr(item, "module", None)
        for batch in getattr(module, "RUNS", ()):
            _PLANNED.setdefault(batch.name, batch)
    report = find_launcher()
    if report.launcher is not None:
        return
    skip = pytest.mark.skip(reason=f"no host sandbox here: {report.cause}")
    for item in items:
        if str(item.fspath).startswith(str(HERE)) and "calibration" not in item.keywords:
            item.add_marker(skip)


class Runs:
    """Batches run on first request (independent ones concurrently), each exactly once per session."""

    def __init__(self, server: ScriptServer) -> None:
        self.server = server
        self.roots: list[Path] = []
        self._done: dict[str, BatchRun] = {}
        self._lock = threading.Lock()

    def _root(self, name: str) -> Path:
        root = make_root(f"tau-sec-{name}-")
        self.roots.append(root)
        return root

    def run(self, batches: Sequence[Batch]) -> dict[str, BatchRun]:
        """`batches`, run (with every other planned batch, all concurrently) unless already done."""
        with self._lock:
            wanted = {batch.name: batch for batch in [*batches, *_PLANNED.values()]}
            missing = [batch for name, batch in wanted.items() if name not in self._done]
            self._done.update(run_batches(missing, self.server, self._root))
            return {batch.name: self._done[batch.name] for batch in batches}


@pytest.fixture(scope="session")
def script_server() -> Iterator[ScriptServer]:
    with serve() as server:
        yield server


@pytest.fixture(scope="session")
def security_runs(script_server: ScriptServer) -> Iterator[Runs]:
    runs = Runs(script_server)
    yield runs
    if os.environ.get("TAU_SECURITY_KEEP") != "1":
        for root in runs.roots:
            remove_tree(root)
