"""Sandbox pool: a docker-sandboxed job's warm run through `tau serve --local` with and without the server's sandbox
container pool (issue #19 item 3), and its cold run for reference. Prints JSON.

The task is bench/peers.py's ("Create out.txt containing hi.", one bash call, the npm aimock partner as the model),
run with `--sandbox docker` in one project directory (the pool keeps containers per sandbox definition, which
includes the workspace: a job run again and again in one checkout, as cron or CI steps are). out.txt is removed
between runs. Runners, each one untimed warm-up and then the median of `--runs` (default 5, `--quick` 3):

- `warm_pool`: the venv's `python -m tau` through `python -m tau serve --local` (pool: 2 per definition, or
  `--pool-size`);
- `warm_no_pool`: the same server started with `TAU_SANDBOX_POOL=0` (each run creates and removes its container);
- `cold`: `--no-server` (imports, container create and remove, every run).

Needs a Docker daemon, the sandbox image (`tau sandbox build`) and the test partners (scripts/install-test-
partners.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from peers import TIMEOUT_S, _aimock, _base_env, _local_server, _tau_argv

VENV = [sys.executable, "-m", "tau"]


def _once(argv: list[str], env: dict[str, str], work: Path) -> tuple[float, str | None]:
    (work / "out.txt").unlink(missing_ok=True)
    started = time.perf_counter()
    result = subprocess.run(
        argv, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT_S, check=False
    )
    elapsed = time.perf_counter() - started
    out = work / "out.txt"
    if result.returncode != 0 or not out.is_file() or out.read_text().strip() != "hi":
        tail = (result.stderr or result.stdout).decode(errors="replace").strip().splitlines()[-3:]
        return elapsed, f"exit {result.returncode}: {' | '.join(tail)}"
    return elapsed, None


def _measure(argv: list[str], env: dict[str, str], work: Path, runs: int) -> dict[str, Any]:
    times = []
    for attempt in range(runs + 1):
        elapsed, problem = _once(argv, env, work)
        if problem is not None:
            return {"error": problem}
        if attempt:
            times.append(elapsed)
    return {"median_s": round(statistics.median(times), 3), "times": [round(t, 3) for t in times], "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="timed runs per runner (default 5, --quick 3)")
    parser.add_argument("--quick", action="store_true", help="3 runs per runner (CI)")
    parser.add_argument("--pool-size", default="", help="TAU_SANDBOX_POOL for the warm_pool server (default: 2)")
    options = parser.parse_args()
    runs = options.runs or (3 if options.quick else 5)
    results: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="tau-bench-pool-") as scratch:
        root = Path(scratch)
        work = root / "project"
        work.mkdir()
        with _aimock(root) as url:
            argv, extra = _tau_argv(VENV, url, local=False)
            argv += ["--sandbox", "docker"]
            env = {**_base_env(root), **extra}
            pool = {"TAU_SANDBOX_POOL": options.pool_size} if options.pool_size else {}
            for name, server_env in (("warm_pool", pool), ("warm_no_pool", {"TAU_SANDBOX_POOL": "0"})):
                with _local_server(VENV, {**env, **server_env}, root):
                    results[name] = _measure(argv, env, work, runs)
            results["cold"] = _measure([*argv, "--no-server"], env, work, runs)
    results["load_after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
