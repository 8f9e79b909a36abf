"""bash: result block, output caps, timeouts that leave nothing running."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest
from pydantic_ai.messages import ToolReturnPart

from tau.tools import ToolLimits

RunOne = Callable[..., Awaitable[ToolReturnPart]]

pytestmark = pytest.mark.anyio


async def test_reports_exit_code_stdout_and_stderr(run_one: RunOne, root: Path) -> None:
    part = await run_one("bash", {"command": "pwd; echo oops >&2; exit 3", "description": "demo"})
    assert (part.outcome, part.content) == ("success", f"exit code: 3\nstdout:\n{root}\nstderr:\noops")


async def test_runs_bash_not_just_sh(run_one: RunOne) -> None:
    part = await run_one("bash", {"command": "[[ -n $BASH_VERSION ]] && echo ok; read x || echo eof"})
    assert part.content == "exit code: 0\nstdout:\nok\neof"


async def test_no_output(run_one: RunOne) -> None:
    part = await run_one("bash", {"command": "true"})
    assert part.content == "exit code: 0\n(no output)"


async def test_long_output_keeps_head_and_tail(run_one: RunOne) -> None:
    part = await run_one("bash", {"command": "seq 1 20000"}, limits=ToolLimits(max_output_chars=1000))
    content = str(part.content)
    assert content.startswith("exit code: 0\nstdout:\n1\n2\n3\n")
    assert content.endswith("19999\n20000")
    assert "characters cut ...]" in content
    assert len(content) < 1200


async def test_timeout_returns_promptly_and_kills_the_command(run_one: RunOne, root: Path) -> None:
    command = "echo started; sleep 30 & echo $! > sleeper.pid; wait"
    with anyio.fail_after(20):  # generous: the command itself would take 30 s
        part = await run_one("bash", {"command": command, "timeout": 1})
    assert part.outcome == "failed"
    assert part.content == "Command timed out after 1s and was stopped. Partial output:\nstdout:\nstarted"
    pid = int((root / "sleeper.pid").read_text())
    with anyio.fail_after(10):
        while _alive(pid):
            await anyio.sleep(0.05)


async def test_timeout_is_capped_by_the_limit(run_one: RunOne) -> None:
    limits = ToolLimits(bash_timeout=1, bash_max_timeout=1)
    with anyio.fail_after(20):
        part = await run_one("bash", {"command": "sleep 30", "timeout": 500}, limits=limits)
    assert part.content == "Command timed out after 1s and was stopped. Partial output:\n(no output)"


async def test_output_limit_error_is_a_tool_result(run_one: RunOne) -> None:
    with anyio.fail_after(60):
        part = await run_one("bash", {"command": "yes 0123456789abcdef"})
    assert part.outcome == "failed"
    content = str(part.content)
    assert content.startswith("Command produced more than 10485760 bytes of output and was stopped; redirect")
    assert "0123456789abcdef" in content
    assert len(content) < 31_000


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, or a recycled non-sleep pid, counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return fields["Name"].strip() == "sleep" and not fields["State"].strip().startswith("Z")
