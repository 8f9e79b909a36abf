"""Soak `tau serve`: does one server stay flat over many runs? Prints JSON.

One real `tau serve` subprocess (the CLI, with a token file and a file session store) and a real model over HTTP:
the `openai-chat:` provider against a local OpenAI-compatible server (npm `@copilotkit/aimock`, the tests' partner,
answering every request with a short text), since what leaked was the provider's HTTP client. Two phases:

- `sequential`: one session, N runs one after the other (1,000; `--quick`: 200);
- `back_to_back`: S sessions x M runs (20 x 20; `--quick`: 5 x 5), the sessions concurrently, each session's next
  Run sent as soon as its previous Final arrived (the race that gave `session_locked`);
- `rotating`: 400 (`--quick`: 100) sequential runs on a new session every 10 runs: what one run leaves behind when
  the session does not grow without end (its slope per 100 runs is reported beside the sequential one).

Every run must complete (status `completed`); failures are counted by their error text. The server's RSS, open
descriptors, sockets, and sockets in CLOSE-WAIT (from /proc) are sampled every `--sample-every` runs of the
sequential phase and after each round of the back-to-back phase. The slope per 100 runs is a least-squares fit over
the sequential samples after the warm-up (the first `--warmup` runs). Budget (issue 13): <= 2 MB of RSS and 0
sockets per 100 runs after warm-up, and 0 sockets in CLOSE-WAIT; `within_budget` says whether the run met it;
the exit status is 1 only when a run did not complete (RSS slopes are measurements, not assertions).

What still grows, by design, in the sequential phase: the session's bounded event log (10,000 events, ~2 KB per
run here) and the session itself (every run loads a history two messages longer, so the allocator's high-water mark
creeps up); the back-to-back phase, with short sessions, shows the flat line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _quiet as quiet

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClient

ROOT = Path(__file__).resolve().parents[1]
AIMOCK_CLI = ROOT / "tests" / "partners" / "node_modules" / "@copilotkit" / "aimock" / "dist" / "cli.js"
TOKEN = "soak-token"
BUDGET_RSS_MB_PER_100 = 2.0
BUDGET_SOCKETS_PER_100 = 0.0
_AIMOCK_LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+)")
_SERVE_LISTENING = re.compile(r"listening on (\S+)")
_CLOSE_WAIT = "08"


def fixture_file(root: Path) -> Path:
    path = root / "aimock.json"
    path.write_text(json.dumps({"fixtures": [{"match": {}, "response": {"content": "Soaked and done."}}]}))
    return path


def _read_line(stream: Any, pattern: re.Pattern[Any], what: str, process: subprocess.Popen[Any]) -> str:
    deadline = time.monotonic() + 60
    seen: list[Any] = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            raise RuntimeError(f"{what} exited with {process.wait()}: {seen}")
        seen.append(line)
        match = pattern.search(line)
        if match:
            return str(match.group(1).decode() if isinstance(match.group(1), bytes) else match.group(1))
    raise RuntimeError(f"{what} did not start: {seen}")


@contextmanager
def aimock(root: Path) -> Iterator[str]:
    if not AIMOCK_CLI.exists():
        raise SystemExit("serve_soak: npm test partners missing: run scripts/install-test-partners.sh")
    command = ["node", str(AIMOCK_CLI), "-p", "0", "-h", "127.0.0.1", "-f", str(fixture_file(root))]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield _read_line(process.stdout, _AIMOCK_LISTENING, "aimock", process) + "/v1"
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def tau_serve(root: Path, base_url: str) -> Iterator[tuple[str, int]]:
    (root / "ws").mkdir()
    (root / "home").mkdir()
    token_file = root / "token"
    token_file.write_text(TOKEN + "\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root / "home"),
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "soak-key",
    }
    command = [sys.executable, "-m", "tau", "serve", "--port", "0", "--state-dir", str(root / "state")]
    command += ["--token-file", str(token_file)]
    process = subprocess.Popen(
        command, cwd=root / "ws", env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        url = _read_line(process.stderr, _SERVE_LISTENING, "tau serve", process)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def server_stats(pid: int) -> dict[str, float]:
    """RSS (MB), open descriptors, sockets and sockets in CLOSE-WAIT of process `pid`."""
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    inodes: set[str] = set()
    fds = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        fds += 1
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    close_wait = 0
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _CLOSE_WAIT and fields[9] in inodes:
                close_wait += 1
    return {"rss_mb": round(rss_kb / 1024, 2), "fds": fds, "sockets": len(inodes), "close_wait": close_wait}


async def one_run(client: RuntimeServiceClient, session_id: str, prompt: str) -> str:
    """The final status of one Run ('completed' when all went well), or the error that ended it."""
    headers = {"authorization": f"Bearer {TOKEN}"}
    status = "no final event"
    try:
        async for event in client.run(pb.RunRequest(session_id=session_id, prompt=prompt), headers=headers):
            if event.HasField("final"):
                status = event.final.status if event.final.status == "completed" else f"final: {event.final.error}"
    except Exception as error:  # a refused Run (session_locked, FAILED_PRECONDITION, ...) is a result here
        status = f"{type(error).__name__}: {error}"
    return status


async def create(client: RuntimeServiceClient, session_id: str) -> None:
    request = pb.CreateSessionRequest(session_id=session_id, model="openai-chat:soak-model")
    await client.create_session(request, headers={"authorization": f"Bearer {TOKEN}"})


def slope_per_100(samples: list[dict[str, float]], key: str, warmup: int) -> float:
    points = [(s["runs"], s[key]) for s in samples if s["runs"] >= warmup]
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return round(100 * cov / var, 3) if var else 0.0


async def sequential(
    url: str, pid: int, runs: int, every: int, *, per_session: int = 0, tag: str = "seq"
) -> dict[str, Any]:
    """`runs` runs one after the other: all on one session, or (`per_session`) on a new session every so many."""
    outcomes: Counter[str] = Counter()
    samples = [{"runs": 0, **server_stats(pid)}]
    started = time.perf_counter()
    async with RuntimeServiceClient(url, timeout_ms=600_000) as client:
        session = ""
        for number in range(1, runs + 1):
            if not session or (per_session and (number - 1) % per_session == 0):
                session = f"soak-{tag}-{number}"
                await create(client, session)
            outcomes[await one_run(client, session, f"soak run {number}")] += 1
            if number % every == 0 or number == runs:
                samples.append({"runs": number, **server_stats(pid)})
    return {
        "runs": runs,
        "completed": outcomes.pop("completed", 0),
        "failures": dict(outcomes),
        "seconds": round(time.perf_counter() - started, 1),
        "samples": samples,
    }


async def back_to_back(url: str, pid: int, sessions: int, runs: int) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    samples = [{"round": 0, **server_stats(pid)}]
    started = time.perf_counter()
    async with RuntimeServiceClient(url, timeout_ms=600_000) as client:
        names = [f"soak-b2b-{index}" for index in range(sessions)]
        await asyncio.gather(*(create(client, name) for name in names))

        async def session_runs(name: str, round_done: list[asyncio.Event]) -> None:
            for number in range(runs):
                outcomes[await one_run(client, name, f"soak {name} run {number}")] += 1
                round_done[number].set()

        per_session = [[asyncio.Event() for _ in range(runs)] for _ in names]
        tasks = [asyncio.create_task(session_runs(name, done)) for name, done in zip(names, per_session, strict=True)]
        for number in range(runs):
            await asyncio.gather(*(done[number].wait() for done in per_session))
            samples.append({"round": number + 1, **server_stats(pid)})
        await asyncio.gather(*tasks)
    return {
        "sessions": sessions,
        "runs_per_session": runs,
        "completed": outcomes.pop("completed", 0),
        "failures": {text[:200]: count for text, count in outcomes.items()},
        "seconds": round(time.perf_counter() - started, 1),
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 sequential runs and 5 x 5 back-to-back (CI)")
    parser.add_argument("--runs", type=int, help="sequential runs (default 1000, quick 200)")
    parser.add_argument("--sessions", type=int, help="back-to-back sessions (default 20, quick 5)")
    parser.add_argument("--session-runs", type=int, help="runs per back-to-back session (default 20, quick 5)")
    parser.add_argument("--sample-every", type=int, default=25, help="sample the server every N sequential runs")
    parser.add_argument("--warmup", type=int, help="runs left out of the slope (default: a fifth of the runs)")
    args = parser.parse_args()
    runs = args.runs or (200 if args.quick else 1000)
    sessions = args.sessions or (5 if args.quick else 20)
    session_runs = args.session_runs or (5 if args.quick else 20)
    rotating_runs = 100 if args.quick else 400
    warmup = args.warmup if args.warmup is not None else max(runs // 5, args.sample_every)
    settle = quiet.settle()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with aimock(root) as base_url, tau_serve(root, base_url) as (url, pid):
            seq = asyncio.run(sequential(url, pid, runs, args.sample_every))
            b2b = asyncio.run(back_to_back(url, pid, sessions, session_runs))
            rotating = asyncio.run(sequential(url, pid, rotating_runs, args.sample_every, per_session=10, tag="rot"))
    samples = seq["samples"]
    slopes = {key: slope_per_100(samples, key, warmup) for key in ("rss_mb", "fds", "sockets", "close_wait")}
    rotating["slope_per_100_runs"] = {key: slope_per_100(rotating["samples"], key, 0) for key in ("rss_mb", "sockets")}
    last = b2b["samples"][-1]
    completed = seq["completed"] + b2b["completed"] + rotating["completed"]
    within = {
        "all_runs_completed": completed == runs + sessions * session_runs + rotating_runs,
        "rss_mb_per_100_runs": slopes["rss_mb"] <= BUDGET_RSS_MB_PER_100,
        # < 0.5: the pooled keep-alive connection to the model server may be counted or not at a sample (5 or 6)
        "sockets_per_100_runs": slopes["sockets"] < BUDGET_SOCKETS_PER_100 + 0.5,
        "no_close_wait": last["close_wait"] == 0 and samples[-1]["close_wait"] == 0,
    }
    report = {
        "benchmark": "serve_soak",
        "quick": args.quick,
        "warmup_runs": warmup,
        "sequential": seq,
        "back_to_back": b2b,
        "rotating": rotating,
        "slope_per_100_runs": slopes,
        "settle": settle,
        "budgets": {"rss_mb_per_100_runs": BUDGET_RSS_MB_PER_100, "sockets_per_100_runs": BUDGET_SOCKETS_PER_100},
        "within_budget": within,
        "ok": all(within.values()),
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if within["all_runs_completed"] else 1  # a run that did not complete is a bug, not noise


if __name__ == "__main__":
    sys.exit(main())
