"""Fuzz: generated bad input to `tau run` (job frontmatter, config TOML, `.mcp.json`, settings JSON, CLI flags and
`TAU_*` variables) never makes tau fail with an internal error: exit 2 or 3 with ONE stderr line, or — when the input
happens to be valid — a harmless run with the `test:` model.

Seeded: `TAU_FUZZ_SEED` (default `DEFAULT_SEED`) and `TAU_FUZZ_CASES` (default 500) choose the cases; the seed is
printed and named in every failure, so `TAU_FUZZ_SEED=<seed> pytest tests/fuzz` replays a run. The bulk runs in this
process through `tau.cli.main.main` (~80 ms per valid run, a few ms per rejected one); every `SUBPROCESS_EVERY`-th case
also runs as a real `tau` process, where it must keep the same contract and end with the same exit code.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fuzz_cases import TARGETS, Case, make_case
from fuzz_harness import RUN_CODES, Outcome, fresh, problems, run_in_process, run_subprocess

DEFAULT_SEED = 20261204
SEED = int(os.environ.get("TAU_FUZZ_SEED") or DEFAULT_SEED)
CASES = int(os.environ.get("TAU_FUZZ_CASES") or 500)
SUBPROCESS_EVERY = 20


def cases(seed: int = SEED, count: int = CASES) -> list[Case]:
    rng = random.Random(seed)
    return [make_case(rng, index) for index in range(count)]


def _report(failures: list[tuple[Case, Outcome, list[str]]], where: str) -> str:
    lines = [f"{len(failures)} case(s) broke the bad-input contract ({where}, TAU_FUZZ_SEED={SEED}):"]
    for case, outcome, found in failures[:8]:
        lines.append(f"- {'; '.join(found)} :: exit {outcome.code!r} stderr={outcome.stderr[-600:]!r}")
        lines.append(f"  {case.describe()[:1500]}")
    return "\n".join(lines)


def test_generated_cases_are_deterministic_and_cover_every_target() -> None:
    first, again = cases(count=50), cases(count=50)
    assert [c.describe() for c in first] == [c.describe() for c in again]
    assert {c.target for c in first} == set(TARGETS)
    assert len(cases()) >= 500 or os.environ.get("TAU_FUZZ_CASES")


def test_fuzz_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    failures: list[tuple[Case, Outcome, list[str]]] = []
    codes: Counter[str] = Counter()
    for case in cases():
        outcome = run_in_process(case, fresh(tmp_path / "case"))
        codes[f"{case.target}:{outcome.code}"] += 1
        found = problems(outcome)
        if found:
            failures.append((case, outcome, found))
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nfuzz: seed {SEED}, {CASES} cases in-process in {elapsed:.1f}s; exits {dict(sorted(codes.items()))}")
    assert not failures, _report(failures, "in-process")
    rejected = sum(n for key, n in codes.items() if key.endswith((":2", ":3")))
    assert rejected >= CASES // 3, f"the generators are too tame: only {rejected} of {CASES} cases were rejected"
    assert sum(n for key, n in codes.items() if key.endswith(":0")) > 0, "no generated case was valid"


def test_fuzz_sample_as_subprocesses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = [case for index, case in enumerate(cases()) if index % SUBPROCESS_EVERY == 0 and case.argv_ok_for_exec]
    assert len(sample) >= 20

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: (case, run_subprocess(case, fresh(tmp_path / case.id))), sample))
    failures: list[tuple[Case, Outcome, list[str]]] = []
    for case, outcome in results:
        found = problems(outcome)
        expected = run_in_process(case, fresh(tmp_path / "again"))
        if outcome.code != expected.code and not {outcome.code, expected.code} <= RUN_CODES:
            found.append(f"exit {outcome.code!r} as a process, {expected.code!r} in-process")
        if found:
            failures.append((case, outcome, found))
    with capsys.disabled():
        print(f"\nfuzz: seed {SEED}, {len(sample)} cases as subprocesses in {time.perf_counter() - started:.1f}s")
    assert not failures, _report(failures, "subprocess")
