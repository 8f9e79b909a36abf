"""The first thing a new user sees: bare `tau` and every bare command group print readable help and exit 0."""

from __future__ import annotations

import pytest
from tau_e2e import Sandbox, run_tau

GROUPS = ["", "sessions", "schema", "sandbox", "mcp", "hooks", "skills", "agents", "memory", "plan"]


@pytest.mark.parametrize("group", GROUPS)
def test_bare_group_prints_readable_help(sandbox: Sandbox, group: str) -> None:
    result = run_tau(*([group] if group else []), sandbox=sandbox)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: tau {group}".rstrip() + " "), result.stdout[:200]
    assert "\n  " in result.stdout and "Commands:\n" in result.stdout  # laid out, not squashed onto one line
    assert result.stderr == ""


def test_unknown_command_is_one_line_exit_2(sandbox: Sandbox) -> None:
    result = run_tau("nosuch", sandbox=sandbox)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "No such command" in result.stderr
