"""The hostile suite's one session fixture: every case's runs, made concurrently against shared servers.

`hostile_runs` builds a world per run (each case untrusted, and its trusted twin if it has one), starts the capture
server ("the repository's server"), aimock (the scripted model, serving every run's fixtures) behind the recording
`ModelProxy` ("the user's model endpoint"), runs all `tau run` processes a few at a time, and returns one `Outcome`
per run, keyed by its token (`u-<case>` untrusted, `t-<case>` trusted), with the requests each server got from it
and every file left under its root. `unattributed` holds requests no run can be blamed for (a finding by itself).
"""

from __future__ import annotations

import functools
import json
import os
import resource
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from hostile_cases import ALL_CASES
from hostile_kit import FINALIZE_FIXTURE, PREFIX, Case, Outcome, Trust, World, build, fixtures, run_case, written_files
from hostile_servers import Recorded, capture_server, model_proxy
from tau_e2e import TauResult, require_aimock, run_aimock, run_concurrently

WORKERS = 4
SETUP_TIMEOUT = 900
"""pytest-timeout seconds for the tests that use `hostile_runs` (the first one's set-up makes every run): 132 s on
a quiet machine, but 444 s was measured at load 8 on 2 cores, past .ci/run's `--timeout 300`."""
WORLDS = "/var/tmp" if os.path.isdir("/var/tmp") else None
"""Worlds live outside /tmp: the host sandbox mounts a private /tmp, which would hide $HOME and the outside
canaries from sandboxed commands and make every "reads outside" case pass for the wrong reason."""


@dataclass
class HostileRuns:
    outcomes: dict[str, Outcome]
    unattributed_capture: list[Recorded] = field(default_factory=list)
    unattributed_model: list[Recorded] = field(default_factory=list)

    def untrusted(self, case_id: str) -> Outcome:
        return self.outcomes[f"u-{case_id}"]

    def twin(self, case_id: str, how: Trust) -> Outcome:
        return self.outcomes[f"{PREFIX[how]}-{case_id}"]


def _plan(base: Path, capture: str, model: str) -> list[tuple[World, Case, Trust | None]]:
    runs: list[tuple[World, Case, Trust | None]] = []
    only = [part for part in os.environ.get("TAU_HOSTILE_ONLY", "").split(",") if part]
    for case in ALL_CASES:
        if only and not any(part in case.id for part in only):
            continue
        variants: list[tuple[str, Trust | None]] = [("u", None)]
        variants += [(PREFIX[twin.how], twin.how) for twin in case.twins]
        for prefix, how in variants:
            token = f"{prefix}-{case.id}"
            world = World(base / token, token, capture, model)
            build(world, case, how)
            runs.append((world, case, how))
    return runs


def _belongs(world: World, record: Recorded) -> bool:
    auth = record.header("authorization") or ""
    body = record.body.decode("utf-8", errors="replace")
    return auth == f"Bearer {world.user_key}" or f"hostile[{world.token}]" in body or f"hostile[{world.token}/" in body


def _dump(path: Path, outcomes: dict[str, Outcome], cpu_seconds: float) -> None:
    """`TAU_HOSTILE_DUMP=FILE`: one JSON summary per run, for reading what each run did (a debugging aid; with
    `TAU_HOSTILE_ONLY=id,id`, only the cases whose id holds one of those parts run, and the others' tests fail)."""
    summary = {
        token: {
            "exit": o.result.returncode,
            "seconds": round(o.world.seconds, 2),
            "notices": o.notices,
            "stderr": o.result.stderr[-2000:],
            "stdout": o.result.stdout,
            "ran": o.ran(),
            "captured": [f"{r.method} {r.path}" for r in o.captured],
            "model_requests": len(o.model_requests),
            "events": [e.get("type") for e in o.events],
            "root": str(o.world.root),
        }
        for token, o in outcomes.items()
    }
    summary["_total"] = {"runs": len(outcomes), "child_cpu_seconds": round(cpu_seconds, 1)}
    path.write_text(json.dumps(summary, indent=1), encoding="utf-8")


@pytest.fixture(scope="session")
def hostile_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRuns]:
    require_aimock()
    base = Path(tempfile.mkdtemp(prefix="tau-hostile-", dir=WORLDS))
    with capture_server() as capture, model_proxy("") as proxy:
        runs = _plan(base, capture.origin, proxy.origin)
        fixture_file = tmp_path_factory.mktemp("aimock") / "hostile.json"
        entries = [entry for world, case, _ in runs for entry in fixtures(world, case)] + [FINALIZE_FIXTURE]
        fixture_file.write_text(json.dumps({"fixtures": entries}), encoding="utf-8")
        with run_aimock(fixture_file) as origin:
            proxy.upstream = origin
            jobs: dict[str, Callable[[], TauResult]] = {
                world.token: functools.partial(run_case, world, case, how) for world, case, how in runs
            }
            cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
            results = run_concurrently(jobs, workers=WORKERS)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_seconds = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
        outcomes: dict[str, Outcome] = {}
        captured, modelled = capture.requests(), proxy.requests()
        for world, case, how in runs:
            outcomes[world.token] = Outcome(
                case,
                world,
                results[world.token],
                trusted=how,
                captured=[r for r in captured if r.path.startswith(f"/{world.token}/")],
                model_requests=[r for r in modelled if _belongs(world, r)],
                files=written_files(world),
            )
        if dump := os.environ.get("TAU_HOSTILE_DUMP"):
            _dump(Path(dump), outcomes, cpu_seconds)
        worlds = [world for world, _, _ in runs]
        yield HostileRuns(
            outcomes,
            unattributed_capture=[r for r in captured if not any(r.path.startswith(f"/{w.token}/") for w in worlds)],
            unattributed_model=[r for r in modelled if not any(_belongs(w, r) for w in worlds)],
        )
    if not os.environ.get("TAU_HOSTILE_DUMP"):
        shutil.rmtree(base, ignore_errors=True)
