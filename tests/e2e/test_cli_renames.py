"""CLI v2 renames as a user meets them (real subprocess): a spelling whose name now means something else is one line
on stderr naming the new spelling and exit 2, before anything is done; an old spelling kept as an alias still works
with one warning line on stderr and clean stdout; `tau mcp login --timeout` takes a duration."""

from __future__ import annotations

import json

import pytest
from tau_e2e import Sandbox, run_tau


@pytest.mark.parametrize(
    ("args", "new"),
    [
        (("sessions", "export", "nightly-1", "-o", "bundle.tar.gz"), "tau sessions export SESSION FILE"),
        (("sessions", "view", "nightly-1", "--output", "page.html"), "tau sessions view ID FILE"),
        (("trust", "--status"), "--check"),
    ],
)
def test_a_renamed_spelling_is_one_line_exit_2(sandbox: Sandbox, args: tuple[str, ...], new: str) -> None:
    result = run_tau(*args, sandbox=sandbox)
    assert result.returncode == 2, result
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("tau: ") and "was renamed" in result.stderr and new in result.stderr
    assert not (sandbox.work / "bundle.tar.gz").exists() and not (sandbox.home / ".config" / "tau").exists()


def test_an_alias_works_with_one_warning_and_clean_stdout(sandbox: Sandbox) -> None:
    sandbox.write(".tau/settings.json", json.dumps({"hooks": {"Stop": [{"hooks": [{"command": "true"}]}]}}))
    old = run_tau("hooks", "ls", "--json", "--project-dir", str(sandbox.work), "--trust-workspace", sandbox=sandbox)
    new = run_tau("hooks", "ls", "--json", "--cwd", str(sandbox.work), "--trust-workspace", sandbox=sandbox)
    assert old.returncode == new.returncode == 0, (old, new)
    assert old.stdout == new.stdout and [row["command"] for row in json.loads(new.stdout)] == ["true"]
    assert old.stderr == "tau: warning: --project-dir is deprecated: use --cwd\n" and new.stderr == ""


def test_mcp_login_timeout_is_a_duration(sandbox: Sandbox) -> None:
    bad = run_tau("mcp", "login", "nosuch", "--timeout", "soon", sandbox=sandbox)
    assert bad.returncode == 2 and bad.stderr.startswith("tau: --timeout: ") and "duration" in bad.stderr
    unknown = run_tau("mcp", "login", "nosuch", "--timeout", "2m", sandbox=sandbox)
    assert unknown.returncode == 2 and "no MCP server named 'nosuch'" in unknown.stderr
