"""One runtime under every front end: the same scripted model and the same operation — start, continue, approve, deny,
answer, plan approve and reject, fork, inject, cancel — through `tau` (a real subprocess), the RPC service (a real
server and Connect client) and `tau watch` (start and cancel: the operations a dropped job file has) yields the same
normalized event sequence and the same stored session (messages, the status of every snapshot, pending calls) as the
runtime driven directly (`Runtime.submit`), which is the reference.

The reference's runs are checked for what each operation means first (`test_the_reference_does_what_it_says`), so
the parity tests cannot pass by every front end failing alike. See parity_kit.py for the boxes, the models (scripted;
the CLI replays the reference's cassettes) and the normalization.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from front_ends import through_cli, through_rpc, through_watch
from parity_kit import (
    FORKED,
    NOTE,
    PLAN,
    PLAN_2,
    SCENARIOS,
    SESSION,
    Box,
    Scenario,
    normalize,
    sessions_of,
    stored,
    through_runtime,
)

# (status, terminal_reason, exit_code) of every run of a scenario
OUTCOMES: dict[str, list[tuple[str, str, int]]] = {
    "start": [("completed", "completed", 0)],
    "continue": [("completed", "completed", 0)] * 2,
    "approve": [("suspended", "needs_input", 4), ("completed", "completed", 0)],
    "deny": [("suspended", "needs_input", 4), ("completed", "completed", 0)],
    "answer": [("suspended", "needs_input", 4), ("completed", "completed", 0)],
    "plan-approve": [("suspended", "awaiting_plan_approval", 4), ("completed", "completed", 0)],
    "plan-reject": [("suspended", "awaiting_plan_approval", 4)] * 2,
    "fork": [("completed", "completed", 0)] * 3,
    "inject": [("completed", "completed", 0)],
    "cancel": [("failed", "interrupted", 130)],
}


@dataclass(frozen=True)
class Reference:
    box: Box
    cassettes: Path
    runs: list[list[dict[str, Any]]]
    sessions: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Scenario], Reference]:
    """Each scenario through the runtime directly, once per module (its cassettes serve the CLI runs)."""
    made: dict[str, Reference] = {}

    def get(scenario: Scenario) -> Reference:
        if scenario.name not in made:
            root = tmp_path_factory.mktemp(f"reference-{scenario.name}")
            box, cassettes = Box(root / "box"), root / "cassettes"
            cassettes.mkdir()
            runs = asyncio.run(through_runtime(scenario, box, cassettes))
            sessions = {session: stored(box, session) for session in sessions_of(scenario)}
            made[scenario.name] = Reference(box, cassettes, runs, sessions)
        return made[scenario.name]

    return get


def _outcome(run: list[dict[str, Any]]) -> tuple[str, str, int]:
    last = run[-1]
    assert last["type"] == "run.completed", run
    return last["status"], last["terminal_reason"], last["exit_code"]


def _texts(session: dict[str, Any], kind: str) -> list[Any]:
    """The contents of every message part of `kind` (user-prompt, tool-return, text) in a stored session."""
    return [
        part.get("content") for message in session["messages"] for part in message["parts"] if part["part_kind"] == kind
    ]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_the_reference_does_what_it_says(scenario: Scenario, reference: Callable[[Scenario], Reference]) -> None:
    ref = reference(scenario)
    assert [_outcome(run) for run in ref.runs] == OUTCOMES[scenario.name]
    session = ref.sessions[SESSION]
    events = [event for run in ref.runs for event in run]
    kinds = [event["type"] for event in events]
    if scenario.name in ("approve", "deny"):
        [asked] = [event for event in events if event["type"] == "approval.requested"]
        assert (asked["call_id"], asked["tool"], asked["kind"]) == ("call_1_0", "write", "approval")
        decided = [event["resolution"] for event in events if event["type"] == "permission.decided"]
        assert decided[-1] == ("allowed" if scenario.name == "approve" else "denied")
        assert (ref.box.work / "out.txt").exists() is (scenario.name == "approve")
    if scenario.name == "deny":
        assert any("Not today" in str(text) for text in _texts(session, "tool-return"))
    if scenario.name == "answer":
        [question] = [event for event in events if event["type"] == "clarification.requested"]
        assert (question["call_id"], question["choices"]) == ("call_1_0", ["red", "blue"])
        assert "blue" in _texts(session, "tool-return")
    if scenario.name.startswith("plan"):
        assert [event["plan"] for event in events if event["type"] == "plan.submitted"] == (
            [PLAN] if scenario.name == "plan-approve" else [PLAN, PLAN_2]
        )
        assert (ref.box.work / "out.txt").exists() is (scenario.name == "plan-approve")
    if scenario.name == "continue":
        assert _texts(session, "user-prompt") == ["Count.", "Again."]
    if scenario.name == "fork":
        assert _texts(ref.sessions[FORKED], "user-prompt") == ["Count.", "Again.", "Branch."]
        assert _texts(session, "user-prompt") == ["Count.", "Again."]  # the forked session is left as it was
    if scenario.name == "inject":
        assert NOTE in _texts(session, "user-prompt")
    if scenario.name == "cancel":
        assert "tool.started" in kinds and session["statuses"][-1] == "interrupted"
        assert not (ref.box.work / "gate").exists()


CASES = [
    pytest.param(scenario, front_end, id=f"{scenario}-{front_end}")
    for scenario in SCENARIOS
    for front_end in scenario.front_ends
]


@pytest.mark.parametrize(("scenario", "front_end"), CASES)
def test_every_front_end_matches_the_runtime(
    scenario: Scenario, front_end: str, reference: Callable[[Scenario], Reference], tmp_path: Path
) -> None:
    ref = reference(scenario)
    box = Box(tmp_path / front_end)
    if front_end == "cli":
        runs = through_cli(scenario, box, ref.cassettes)
    elif front_end == "rpc":
        runs = through_rpc(scenario, box)
    else:
        runs = through_watch(scenario, box)
    assert normalize(runs, box) == normalize(ref.runs, ref.box)
    for session in sessions_of(scenario):
        assert stored(box, session) == ref.sessions[session], session
