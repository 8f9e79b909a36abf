"""Benchmark `tau serve` under concurrency: N = 10 / 100 concurrent scripted runs through the real HTTP server
(uvicorn, in-process, in its own thread and event loop) and the connectrpc async client. Prints JSON.

- completion_s: wall time from the first Run call to the last Final event, for all N runs;
- latency_ms p50/p99: from the scripted model yielding a text chunk (it embeds `time.perf_counter_ns()` in the chunk)
  to the client receiving the RunResponse carrying it — the whole path: driver, event mapping, session log, HTTP;
- idle_session_bytes: server RSS growth per idle session (1,000 CreateSession calls, RSS delta / 1,000);
- restart: how long a new service takes to bring back every session of the run above from the serve journal.
The server uses a file session store, as `tau serve` does (snapshots and the serve journal on disk). It first waits
(at most 60 s) for the load left by earlier CI steps to settle (`settle` in the JSON).
Budgets (DESIGN/issue 7): p99 <= 50 ms at N = 100; <= 1 MB per idle session. `--quick` keeps it under ~30 s.

The model is pydantic-ai's `FunctionModel` streaming timestamped chunks with a small pause (a scripted model with a
clock; `tau.testing.scripted_model` cannot expose the moment of each yield).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import _quiet as quiet
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tau.config import JobSpec
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClient
from tau.rpc.server import RuntimeServer
from tau.rpc.service import RuntimeServiceImpl, ServiceLimits

STAMP = re.compile(r"<(\d+)>")
BUDGET_P99_MS = 50.0
BUDGET_IDLE_BYTES = 1024 * 1024


def stamped_model(chunks: int, pause: float) -> Model:
    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for _ in range(chunks):
            await asyncio.sleep(pause)
            yield f"<{time.perf_counter_ns()}>"

    return FunctionModel(stream_function=stream)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def new_service(root: Path, chunks: int, pause: float) -> RuntimeServiceImpl:
    def factory(job: JobSpec) -> Model:
        return stamped_model(chunks, pause)

    home = root / "home"
    return RuntimeServiceImpl(
        env={"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")},
        cwd=root / "ws",
        model_factory=factory,
        state_dir=root / "state",
        limits=ServiceLimits(max_sessions=100_000),
    )


def start_server(root: Path, chunks: int, pause: float) -> tuple[RuntimeServer, threading.Thread]:
    service = new_service(root, chunks, pause)
    server = RuntimeServer(service, host="127.0.0.1", port=0)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    if not server.started.wait(30):
        raise RuntimeError("server did not start")
    return server, thread


async def one_run(client: RuntimeServiceClient, index: int, tag: str, latencies: list[float]) -> None:
    created = await client.create_session(
        pb.CreateSessionRequest(session_id=f"{tag}-{index}", model="test:bench", job=pb.JobOptions(tools=["read"]))
    )
    finals = 0
    async for event in client.run(pb.RunRequest(session_id=created.session_id, prompt="go")):
        received = time.perf_counter_ns()
        if event.HasField("token"):
            latencies.extend((received - int(stamp)) / 1e6 for stamp in STAMP.findall(event.token.text))
        if event.HasField("final"):
            finals += 1
            if event.final.status != "completed":
                raise RuntimeError(f"run {index} ended {event.final.status}: {event.final.error}")
    if finals != 1:
        raise RuntimeError(f"run {index} had {finals} final events")


async def concurrent_runs(url: str, n: int, tag: str) -> dict[str, Any]:
    latencies: list[float] = []
    async with RuntimeServiceClient(url, timeout_ms=300_000) as client:
        await one_run(client, 0, f"warm-{tag}", [])  # imports and first-run costs out of the measurement
        started = time.perf_counter()
        await asyncio.gather(*(one_run(client, i, tag, latencies) for i in range(n)))
        completion = time.perf_counter() - started
    return {
        "runs": n,
        "completion_s": round(completion, 3),
        "events_measured": len(latencies),
        "latency_ms": {
            "p50": round(statistics.median(latencies), 3),
            "p99": round(percentile(latencies, 99), 3),
            "max": round(max(latencies), 3),
        },
    }


async def idle_sessions(url: str, count: int) -> dict[str, Any]:
    async with RuntimeServiceClient(url, timeout_ms=300_000) as client:
        await client.create_session(pb.CreateSessionRequest(session_id="idle-warm", model="test:bench"))
        gc.collect()
        before = rss_bytes()
        for start in range(0, count, 50):
            await asyncio.gather(
                *(
                    client.create_session(pb.CreateSessionRequest(session_id=f"idle-{i}", model="test:bench"))
                    for i in range(start, min(count, start + 50))
                )
            )
        gc.collect()
        after = rss_bytes()
    return {"sessions": count, "rss_delta_bytes": after - before, "bytes_per_session": (after - before) / count}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer chunks per run (about 30 s in all)")
    args = parser.parse_args()
    chunks = 10 if args.quick else 40
    pause = 0.01
    settle = quiet.settle()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "ws").mkdir()
        (root / "home" / ".config").mkdir(parents=True)
        server, thread = start_server(root, chunks, pause)
        try:
            n10 = asyncio.run(concurrent_runs(server.url, 10, "n10"))
            n100 = asyncio.run(concurrent_runs(server.url, 100, "n100"))
            idle = asyncio.run(idle_sessions(server.url, 1000))
        finally:
            server.stop()
            thread.join(30)
        started = time.perf_counter()
        restored = new_service(root, chunks, pause).restored
        restart = {"sessions": restored, "seconds": round(time.perf_counter() - started, 3)}
    report = {
        "benchmark": "serve_concurrency",
        "quick": args.quick,
        "chunks_per_run": chunks,
        "chunk_pause_ms": pause * 1000,
        "n10": n10,
        "n100": n100,
        "idle_sessions": idle,
        "restart": restart,
        "settle": settle,
        "budgets": {"p99_ms_at_n100": BUDGET_P99_MS, "bytes_per_idle_session": BUDGET_IDLE_BYTES},
        "within_budget": {
            "p99_at_n100": n100["latency_ms"]["p99"] <= BUDGET_P99_MS,
            "idle_session_rss": idle["bytes_per_session"] <= BUDGET_IDLE_BYTES,
        },
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
