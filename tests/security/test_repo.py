"""Allowed-prefix smuggling end to end (see sec_cases_repo): every attack line is refused or contained."""

from __future__ import annotations

import pytest
from conftest import Runs
from sec_cases_repo import BATCHES
from sec_checks import check_batch, check_case
from sec_harness import Batch, BatchRun, Case, batch_params, calibrate, calibration_params, case_params

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


@pytest.mark.calibration
@pytest.mark.parametrize("case", calibration_params(BATCHES))
def test_attack_works_under_plain_bash(case: Case) -> None:
    assert calibrate(case), "the attack has no effect even without tau: it would prove nothing"


def test_the_repository_files_were_read_and_refused(runs: dict[str, BatchRun]) -> None:
    """The positive control: tau found every hostile file and said what it ignored (not a misplaced fixture)."""
    notices = " ".join(e["message"] for e in runs["repo-untrusted"].events("notice.emitted"))
    for needle in (".tau/config.toml", ".claude/settings.json", "did not run hooks", "did not start project MCP"):
        assert needle in notices, notices
