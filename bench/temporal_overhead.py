"""Temporal engine overhead: the same scripted N-step run executed inline and on a Temporal worker, and throughput
with 1, 2 and 3 worker processes.

Each step is one model request that calls `read` on a small file; the last answers with text. Both sides go through
`Runtime.submit` with the file session store (as `tau run` does): inline executes in this process (`InlineEngine`);
temporal starts the workflow `tau.run` on a local dev server (`temporal server start-dev`, SQLite, offline) and an
in-process worker executes it while this process follows its events (the same event loop: no network but loopback).

Measurement: inline and temporal runs alternate in pairs after a warm-up of both; `ratio` is the median of the
per-pair ratios (temporal / inline), `overhead_ms_per_step` the median of (temporal - inline) / steps. Throughput:
R runs of N steps submitted at once, executed by 1, 2, then 3 worker subprocesses on one task queue (this script
with `--worker`; one is added between the points), reported as runs/s and model steps/s from the first submit to the
last terminal event. The client that follows every run is this one process (as one `tau serve` front end would be).

Prints one JSON object. `--quick` (CI): 10-step runs, 3 pairs, 6 runs per throughput point (well under a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tau.config import load_job
from tau.runtime import Runtime, Start
from tau.sessions import FileSessionStore
from tau.temporal.devserver import DevServer
from tau.temporal.engine import TemporalEngine
from tau.temporal.worker import make_worker, serve_worker
from tau.testing import Turn, calls, reply, scripted_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _quiet import settle


def _script(steps: int) -> list[Turn]:
    return [calls(("read", {"file_path": "data.txt"})) for _ in range(steps - 1)] + [reply("done")]


def _factory(steps: int) -> Any:
    return lambda job: scripted_model(_script(steps))[0]


def _env(root: Path) -> dict[str, str]:
    home = root / "home"
    (home / ".config").mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
    }


def _job(work: Path, env: dict[str, str]) -> Any:
    flags = {"model": "test:scripted", "permission_mode": "bypassPermissions", "output": "stream-json"}
    return load_job(prompt_text="go", flags=flags, env=env, cwd=work)


async def _timed(runtime: Runtime, job: Any) -> float:
    gc.collect()
    started = time.perf_counter()
    done = await runtime.submit(Start(job, str(uuid.uuid4())))
    elapsed = time.perf_counter() - started
    assert done.exit_code == 0, done
    return elapsed


async def _pairs(address: str, root: Path, steps: int, pairs: int) -> dict[str, Any]:
    from temporalio.client import Client

    work, env = root / "pairs", _env(root)
    work.mkdir()
    (work / "data.txt").write_text("hello\n")
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(address)
    worker = make_worker(
        client, FileSessionStore(root / "state-t"), task_queue=queue, env=env, model_factory=_factory(steps)
    )
    inline = Runtime(FileSessionStore(root / "state-i"), env=env, cwd=work, model_factory=_factory(steps))
    temporal = Runtime(
        FileSessionStore(root / "state-t"), engine=TemporalEngine(address, task_queue=queue), env=env, cwd=work
    )
    job = _job(work, env)
    times: dict[str, list[float]] = {"inline": [], "temporal": []}
    async with worker:
        await _timed(inline, job), await _timed(temporal, job)  # warm-up
        for index in range(pairs):
            order = ("inline", "temporal") if index % 2 == 0 else ("temporal", "inline")
            for side in order:
                times[side].append(await _timed(inline if side == "inline" else temporal, job))
    ratios = [t / i for t, i in zip(times["temporal"], times["inline"], strict=True)]
    per_step = [(t - i) / steps * 1000 for t, i in zip(times["temporal"], times["inline"], strict=True)]
    return {
        "steps": steps,
        "pairs": pairs,
        "inline_ms": round(statistics.median(times["inline"]) * 1000, 1),
        "temporal_ms": round(statistics.median(times["temporal"]) * 1000, 1),
        "ratio": round(statistics.median(ratios), 2),
        "overhead_ms_per_step": round(statistics.median(per_step), 2),
    }


def _spawn_worker(address: str, queue: str, state: Path, steps: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    args = [sys.executable, __file__, "--worker", address, queue, str(state), str(steps)]
    proc = subprocess.Popen(args, env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "ready" once it polls
    if not line:
        raise RuntimeError(f"worker exited with {proc.wait()}")
    return proc


async def _throughput(address: str, root: Path, runs: int, steps: int) -> dict[str, dict[str, float]]:
    """Runs/s with 1, 2, then 3 workers on one task queue (a worker is added between the points)."""
    work, env = root / "throughput", _env(root)
    work.mkdir()
    (work / "data.txt").write_text("hello\n")
    state, queue = root / "state-tp", f"bench-tp-{uuid.uuid4().hex[:8]}"
    runtime = Runtime(FileSessionStore(state), engine=TemporalEngine(address, task_queue=queue), env=env, cwd=work)
    job = _job(work, env)
    procs: list[subprocess.Popen[bytes]] = []
    points: dict[str, dict[str, float]] = {}
    try:
        for workers in (1, 2, 3):
            procs.append(await asyncio.to_thread(_spawn_worker, address, queue, state, steps, env))
            started = time.perf_counter()
            done = await asyncio.gather(*(runtime.submit(Start(job, str(uuid.uuid4()))) for _ in range(runs)))
            elapsed = time.perf_counter() - started
            assert all(item.exit_code == 0 for item in done), [item.error for item in done]
            points[str(workers)] = {
                "runs_per_s": round(runs / elapsed, 2),
                "steps_per_s": round(runs * steps / elapsed, 1),
                "wall_s": round(elapsed, 2),
            }
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
    return points


async def _worker_main(address: str, queue: str, state: str, steps: str) -> None:
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)

    def ready() -> None:
        sys.stdout.write("ready\n")
        sys.stdout.flush()

    store = FileSessionStore(Path(state))
    await serve_worker(address, store, task_queue=queue, model_factory=_factory(int(steps)), stop=stop, on_ready=ready)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", nargs=4, metavar=("ADDRESS", "QUEUE", "STATE", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(_worker_main(*args.worker))
        return
    steps, pairs, runs = (10, 3, 6) if args.quick else (40, 7, 24)
    quiet = settle(max_wait_s=10.0 if args.quick else 60.0)
    with tempfile.TemporaryDirectory() as tmp, DevServer(Path(tmp) / "temporal") as server:
        root = Path(tmp)
        paired = asyncio.run(_pairs(server.address, root, steps, pairs))
        throughput = asyncio.run(_throughput(server.address, root, runs, steps))
    result = {
        "bench": "temporal_overhead",
        "quick": args.quick,
        **paired,
        "throughput_runs": runs,
        "throughput": throughput,
        "settle": quiet,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
