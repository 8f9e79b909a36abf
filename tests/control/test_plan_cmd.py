"""`tau plan approve|reject`: option parsing and the hand-off to `tau.cli.run.resume_plan` (stubbed here; the lead
wires the real continuation)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from tau.cli import plan_cmd
from tau.cli.main import _TauGroup
from tau.runtime.features.plan import PlanReview


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def resume_plan(name: str, **kwargs: Any) -> int:
        seen.append({"name": name, **kwargs})
        return 0 if kwargs["review"].decision == "approve" else 4

    monkeypatch.setattr(plan_cmd, "_resumer", lambda: resume_plan)
    return seen


ENGINE = {"engine": "inline", "namespace": "default", "task_queue": "tau"}  # the engine options' defaults


def invoke(*args: str) -> Any:
    return CliRunner().invoke(_TauGroup(commands=[plan_cmd.plan_group]), list(args))


def test_approve(calls: list[dict[str, Any]]) -> None:
    result = invoke("plan", "approve", "abc123", "--permission-mode", "default", "-o", "json", "--state-dir", "/s")
    assert result.exit_code == 0, result.output
    assert calls == [
        {
            "name": "abc123",
            "review": PlanReview("approve"),
            "quiet": False,
            "state_dir": "/s",
            "flags": {"output": "json", "permission_mode": "default", **ENGINE},
        }
    ]


def test_approve_defaults(calls: list[dict[str, Any]]) -> None:
    assert invoke("plan", "approve", "abc", "-q").exit_code == 0
    assert calls[0]["flags"] == ENGINE and calls[0]["quiet"] is True and calls[0]["state_dir"] is None


def test_reject_passes_the_reason_and_the_exit_code(calls: list[dict[str, Any]]) -> None:
    result = invoke("plan", "reject", "abc", "--reason", "add a rollback step")
    assert result.exit_code == 4
    assert calls[0]["review"] == PlanReview("reject", "add a rollback step")
    assert calls[0]["flags"] == ENGINE


def test_reject_needs_a_reason(calls: list[dict[str, Any]]) -> None:
    assert invoke("plan", "reject", "abc").exit_code == 2
    assert invoke("plan", "reject", "abc", "--reason", "  ").exit_code == 2
    assert calls == []


def test_plan_mode_is_not_an_execution_mode(calls: list[dict[str, Any]]) -> None:
    assert invoke("plan", "approve", "abc", "--permission-mode", "plan").exit_code == 2
    assert calls == []


def test_unwired_resume_is_a_loud_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tau.cli import run as run_cli

    monkeypatch.delattr(run_cli, "resume_plan", raising=False)
    result = invoke("plan", "approve", "abc")
    assert result.exit_code == 1
    assert "resume_plan is missing" in result.stderr
