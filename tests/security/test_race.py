"""A symlink swapped under the file tools during `tau run` (see sec_cases_race): nothing lands or leaks outside."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Runs
from sec_cases_race import BATCHES, naive_race
from sec_checks import check_batch, check_case
from sec_harness import Batch, BatchRun, Case, batch_params, case_params
from sec_layout import make_root, remove_tree

RUNS = BATCHES


@pytest.fixture(scope="module")
def runs(security_runs: Runs) -> dict[str, BatchRun]:
    return security_runs.run(RUNS)


@pytest.mark.parametrize("batch", batch_params(BATCHES))
def test_run_is_contained(batch: Batch, runs: dict[str, BatchRun]) -> None:
    check_batch(runs[batch.name])


@pytest.mark.parametrize(("batch_name", "case"), case_params(BATCHES))
def test_attack_is_contained(batch_name: str, case: Case, runs: dict[str, BatchRun]) -> None:
    check_case(runs[batch_name], case)


def test_some_tool_calls_raced_both_ways(runs: dict[str, BatchRun]) -> None:
    """The flipping really happened during the runs: writes landed inside and some calls met the outside link."""
    outcomes = [run.completed(case)["status"] for run in runs.values() for case in run.batch.cases]
    assert "success" in outcomes and ("failed" in outcomes or "denied" in outcomes), outcomes


@pytest.mark.calibration
def test_the_race_is_winnable_without_the_backend() -> None:
    root = make_root("tau-sec-naive-race-")
    try:
        assert naive_race(Path(root)) > 0
    finally:
        remove_tree(root)
