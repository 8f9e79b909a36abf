"""Output integrity end to end (see sec_cases_output): tau's stdout stays its own event stream, commands cannot reach
tau's process, terminal or the host's loopback, and text output carries no control sequences."""

from __future__ import annotations

import unicodedata

import pytest
from conftest import Runs
from sec_cases_output import BATCHES, CONTROL, NETWORK_ON, TEXT_BATCHES
from sec_checks import check_batch, check_case, check_stream
from sec_harness import Batch, BatchRun, Case, batch_params, case_params

STREAM_BATCHES = [batch for batch in BATCHES if batch.xfail is None]
RUNS = [*BATCHES, NETWORK_ON, *TEXT_BATCHES]


@pytest.fixture(scope="module")
def runs(security_runs: Runs) -> dict[str, BatchRun]:
    return security_runs.run(RUNS)


@pytest.mark.parametrize("batch", batch_params(BATCHES))
def test_run_is_contained(batch: Batch, runs: dict[str, BatchRun]) -> None:
    check_batch(runs[batch.name])


@pytest.mark.parametrize(("batch_name", "case"), case_params(BATCHES))
def test_attack_is_contained(batch_name: str, case: Case, runs: dict[str, BatchRun]) -> None:
    check_case(runs[batch_name], case)


@pytest.mark.parametrize("batch", STREAM_BATCHES, ids=lambda batch: batch.name)
def test_forged_lines_never_leave_a_tool_result(batch: Batch, runs: dict[str, BatchRun]) -> None:
    run = runs[batch.name]
    last = check_stream(run)
    expected = batch.final_text.replace("\udcff", "\ufffd") if batch.final_text else f"done {run.key}"
    assert last["result"] == expected  # a lone surrogate from the model arrives as U+FFFD
    assert "FORGED" not in run.stderr
    forged = [line for line in run.lines if "FORGED" in str(line) and line["type"] != "tool.completed"]
    assert forged == []


def test_the_network_attacks_reach_the_server_when_the_network_is_on(runs: dict[str, BatchRun]) -> None:
    """The positive control: without it, an empty list of stray requests would prove nothing."""
    run = runs[NETWORK_ON.name]
    check_stream(run)
    assert len(run.strays) == len(NETWORK_ON.cases), run.strays


def _controls(text: str) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t"})


@pytest.mark.parametrize("batch", TEXT_BATCHES, ids=lambda batch: batch.name)
def test_text_output_carries_no_control_sequences(batch: Batch, runs: dict[str, BatchRun]) -> None:
    run = runs[batch.name]
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("done ") and "red" in run.stdout and "evil" in run.stdout  # printed, defanged
    assert _controls(run.stdout) == []
    assert _controls(run.stderr) == []
    assert len(_controls(CONTROL)) >= 6  # the answer really carried them
    for case in batch.cases:
        assert case.effects(run.layout, run.originals[case.id]) == []
