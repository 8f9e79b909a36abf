"""Trusted twins: the same repository files work as documented once the workspace is trusted (`--trust-workspace`,
`TAU_TRUST_WORKSPACE=1`, `tau trust`, `trusted_workspaces`), and `tau trust` then a changed file is untrusted again."""

from __future__ import annotations

import pytest
from conftest import SETUP_TIMEOUT, HostileRuns
from hostile_cases import ALL_CASES
from hostile_checks import assert_exit
from hostile_kit import Case, Twin

pytestmark = [pytest.mark.node, pytest.mark.slow, pytest.mark.timeout(SETUP_TIMEOUT)]

PARAMS = [
    pytest.param(
        case,
        twin,
        id=f"{case.family}:{case.id}:{twin.how}",
        marks=[pytest.mark.xfail(strict=True, reason=twin.known)] if twin.known else [],
    )
    for case in ALL_CASES
    for twin in case.twins
]


@pytest.mark.parametrize(("case", "twin"), PARAMS)
def test_trusted_twin(case: Case, twin: Twin, hostile_runs: HostileRuns) -> None:
    outcome = hostile_runs.twin(case.id, twin.how)
    assert_exit(outcome, twin.exits)
    twin.check(outcome)
