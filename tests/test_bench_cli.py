"""Every benchmark in bench/ takes `--quick`: .ci/run runs each of them with it, and one that refuses the flag fails CI
after the whole suite has passed (it did: bench/sandbox_pool.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
BENCHMARKS = sorted(path for path in BENCH.glob("*.py") if not path.name.startswith("_"))


@pytest.mark.parametrize("bench", BENCHMARKS, ids=[path.stem for path in BENCHMARKS])
def test_the_benchmark_takes_quick(bench: Path) -> None:
    shown = subprocess.run(
        [sys.executable, str(bench), "--help"], cwd=BENCH, capture_output=True, text=True, timeout=120, check=False
    )
    assert shown.returncode == 0, shown.stderr[-500:]
    assert "--quick" in shown.stdout
