"""tau.cli.lean: the stubs and the collector pause of the cold path do what they say, and nothing more."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tau.cli.lean import pause_collector, run_path_imported


@pytest.fixture
def collector() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize(
    ("argv", "paused"), [(["run", "x.md"], True), (["fork", "s"], True), (["sessions", "ls"], False), ([], False)]
)
def test_only_run_commands_pause_the_collector(collector: None, argv: list[str], paused: bool) -> None:
    gc.enable()
    pause_collector(argv)
    assert gc.isenabled() is not paused
    run_path_imported()
    assert gc.isenabled()
    assert {"tau.runtime", "tau.config", "tau.sessions"} <= set(sys.modules)


def test_httpx_cli_is_stubbed_until_called() -> None:
    code = """
import sys
from tau.cli.lean import skip_httpx_cli
skip_httpx_cli()
import httpx
assert not {"rich", "pygments"} & set(sys.modules), sorted(m for m in sys.modules if m.startswith(("rich", "pyg")))
try:
    httpx.main(["--help"], prog_name="httpx")
except SystemExit as end:
    assert end.code == 0, end.code
assert "rich" in sys.modules  # the real client ran
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Usage: httpx" in result.stdout
