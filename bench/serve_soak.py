"""Soak `tau serve`: does one server stay flat over many runs? Prints JSON.

One real `tau serve` subprocess (the CLI, with a token file and a file session store) and a real model over HTTP:
the `openai-chat:` provider against a local OpenAI-compatible server (npm `@copilotkit/aimock`, the tests' partner,
answering every request with a short text), since what leaked was the provider's HTTP client. Three phases:

- `sequential`: one session, N runs one after the other (1,000; `--quick`: 200);
- `back_to_back`: S sessions x M runs (20 x 20; `--quick`: 5 x 5), the sessions concurrently, each session's next
  Run sent as soon as its previous Final arrived (the race that gave `session_locked`);
- `rotating`: 400 (`--quick`: 100) sequential runs on a new session every 10 runs: what one run leaves behind when
  no session grows long (reported beside the others, not budgeted).

Every run must complete (status `completed`); failures are counted by their error text. The server's RSS, open
descriptors and sockets (all; in CLOSE-WAIT; by kind: `inbound` from clients, `to_model` pooled connections to the
model server, `other`) are read from /proc every `--sample-every` runs of the sequential phases and after each round
of the back-to-back phase. Slopes per 100 runs are least-squares fits over the samples after the warm-up: the first
`--warmup` runs (default a fifth) of the sequential phase, the first round of the back-to-back phase. Budget (issue
13), for both the sequential and the back-to-back phase: <= 2 MB of RSS and 0 sockets per 100 runs (a fitted socket
slope under 0.5: a pooled keep-alive connection may be open at one sample and not the next, a leak would be +100),
and no socket in CLOSE-WAIT. `within_budget` says which held. Exit status: 1 when a run did not complete; in full
mode also when the budget was exceeded (`--quick`, what CI runs, is too short to judge a slope: it reports).

What a run leaves behind, by design: its record in the session (`RunState`: number, idempotency key, seqs) and its
events in the session's bounded event log (10,000 events; kept serialized, ~2 KB per run here), and one entry in the
store's snapshot cache. What the sequential phase adds: every run loads a history two messages longer; the C
allocator's free memory is returned after each run (`tau.rpc.allocator`), so that growth shows only while a run
holds it. `--server-env NAME=VALUE` passes allocator settings (MALLOC_ARENA_MAX=2, ...) to compare.
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
from dataclasses import dataclass
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
_LISTEN = "0A"


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
def tau_serve(root: Path, base_url: str, extra_env: dict[str, str]) -> Iterator[tuple[str, Served]]:
    (root / "ws").mkdir()
    (root / "home").mkdir()
    token_file = root / "token"
    token_file.write_text(TOKEN + "\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root / "home"),
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "soak-key",
        **extra_env,
    }
    command = [sys.executable, "-m", "tau", "serve", "--port", "0", "--state-dir", str(root / "state")]
    command += ["--token-file", str(token_file)]
    process = subprocess.Popen(
        command, cwd=root / "ws", env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        url = _read_line(process.stderr, _SERVE_LISTENING, "tau serve", process)
        yield url, Served(process.pid, _port(url), _port(base_url))
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def _port(url: str) -> int:
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


@dataclass(frozen=True)
class Served:
    """The `tau serve` under test: its pid, the port it listens on, the port of the model server it calls."""

    pid: int
    port: int
    model_port: int


def _tcp_sockets(pid: int) -> dict[str, tuple[int, int, str]]:
    """The process's view of TCP sockets: inode -> (local port, remote port, state)."""
    sockets: dict[str, tuple[int, int, str]] = {}
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9:
                local, remote = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
                sockets[fields[9]] = (local, remote, fields[3])
    return sockets


def server_stats(server: Served) -> dict[str, float]:
    """RSS (MB), open descriptors and sockets of the server: all of them, in CLOSE-WAIT, and by kind — `inbound`
    (client connections to the server), `to_model` (the provider's pooled connections to the model server), and
    `other` (the listening socket, anything else)."""
    rss_kb = 0
    for line in Path(f"/proc/{server.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    inodes: set[str] = set()
    fds = 0
    for fd in Path(f"/proc/{server.pid}/fd").iterdir():
        fds += 1
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    tcp = _tcp_sockets(server.pid)
    kinds: Counter[str] = Counter()
    for inode in inodes:
        local, remote, state = tcp.get(inode, (0, 0, ""))
        kinds["close_wait"] += state == _CLOSE_WAIT
        if local == server.port and state != _LISTEN:
            kinds["inbound"] += 1
        elif remote == server.model_port:
            kinds["to_model"] += 1
        else:
            kinds["other"] += 1
    counts = {key: kinds[key] for key in ("close_wait", "inbound", "to_model", "other")}
    return {"rss_mb": round(rss_kb / 1024, 2), "fds": fds, "sockets": len(inodes), **counts}


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


_SLOPE_KEYS = ("rss_mb", "fds", "sockets", "close_wait", "inbound", "to_model")


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
    url: str, server: Served, runs: int, every: int, *, per_session: int = 0, tag: str = "seq"
) -> dict[str, Any]:
    """`runs` runs one after the other: all on one session, or (`per_session`) on a new session every so many."""
    outcomes: Counter[str] = Counter()
    samples = [{"runs": 0, **server_stats(server)}]
    started = time.perf_counter()
    async with RuntimeServiceClient(url, timeout_ms=600_000) as client:
        session = ""
        for number in range(1, runs + 1):
            if not session or (per_session and (number - 1) % per_session == 0):
                session = f"soak-{tag}-{number}"
                await create(client, session)
            outcomes[await one_run(client, session, f"soak run {number}")] += 1
            if number % every == 0 or number == runs:
                samples.append({"runs": number, **server_stats(server)})
    return {
        "runs": runs,
        "completed": outcomes.pop("completed", 0),
        "failures": dict(outcomes),
        "seconds": round(time.perf_counter() - started, 1),
        "samples": samples,
    }


async def back_to_back(url: str, server: Served, sessions: int, runs: int) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    samples = [{"round": 0, "runs": 0, **server_stats(server)}]
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
            samples.append({"round": number + 1, "runs": (number + 1) * sessions, **server_stats(server)})
        await asyncio.gather(*tasks)
    return {
        "sessions": sessions,
        "runs_per_session": runs,
        "completed": outcomes.pop("completed", 0),
        "failures": {text[:200]: count for text, count in outcomes.items()},
        "seconds": round(time.perf_counter() - started, 1),
        "samples": samples,
    }


def slopes(samples: list[dict[str, float]], warmup: int) -> dict[str, float]:
    return {key: slope_per_100(samples, key, warmup) for key in _SLOPE_KEYS}


def budget_checks(seq: dict[str, Any], b2b: dict[str, Any], warmup: int, expected_runs: int) -> dict[str, bool]:
    """Issue 13's budget, after warm-up, for both scenarios: RSS and sockets per 100 runs, no CLOSE-WAIT."""
    checks = {"all_runs_completed": seq["completed"] + b2b["completed"] == expected_runs}
    for name, phase, skip in (("sequential", seq, warmup), ("back_to_back", b2b, b2b["sessions"])):
        slope = phase["slope_per_100_runs"]
        checks[f"{name}_rss_mb_per_100_runs"] = slope["rss_mb"] <= BUDGET_RSS_MB_PER_100
        # sockets are counts: a pooled keep-alive connection open at one sample and closed at the next moves the
        # fitted line by a fraction; a leak of one socket per run would be +100 per 100 runs
        checks[f"{name}_sockets_per_100_runs"] = slope["sockets"] < BUDGET_SOCKETS_PER_100 + 0.5
        checks[f"{name}_no_close_wait"] = all(s["close_wait"] == 0 for s in phase["samples"] if s["runs"] >= skip)
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 sequential runs and 5 x 5 back-to-back (CI)")
    parser.add_argument("--runs", type=int, help="sequential runs (default 1000, quick 200)")
    parser.add_argument("--sessions", type=int, help="back-to-back sessions (default 20, quick 5)")
    parser.add_argument("--session-runs", type=int, help="runs per back-to-back session (default 20, quick 5)")
    parser.add_argument("--sample-every", type=int, default=25, help="sample the server every N sequential runs")
    parser.add_argument("--warmup", type=int, help="runs left out of the slope (default: a fifth of the runs)")
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="NAME=VALUE",
        help="an extra environment variable for tau serve (allocator experiments: MALLOC_ARENA_MAX=2)",
    )  # fmt: skip
    args = parser.parse_args()
    runs = args.runs or (200 if args.quick else 1000)
    sessions = args.sessions or (5 if args.quick else 20)
    session_runs = args.session_runs or (5 if args.quick else 20)
    rotating_runs = 100 if args.quick else 400
    warmup = args.warmup if args.warmup is not None else max(runs // 5, args.sample_every)
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    settle = quiet.settle()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with aimock(root) as base_url, tau_serve(root, base_url, extra_env) as (url, server):
            seq = asyncio.run(sequential(url, server, runs, args.sample_every))
            b2b = asyncio.run(back_to_back(url, server, sessions, session_runs))
            rotating = asyncio.run(sequential(url, server, rotating_runs, args.sample_every, per_session=10, tag="rot"))
    seq["slope_per_100_runs"] = slopes(seq["samples"], warmup)
    b2b["slope_per_100_runs"] = slopes(b2b["samples"], sessions)  # after the first round (one run per session)
    rotating["slope_per_100_runs"] = slopes(rotating["samples"], 0)
    within = budget_checks(seq, b2b, warmup, runs + sessions * session_runs)
    within["all_runs_completed"] = within["all_runs_completed"] and rotating["completed"] == rotating_runs
    report = {
        "benchmark": "serve_soak",
        "quick": args.quick,
        "warmup_runs": warmup,
        "server_env": extra_env,
        "sequential": seq,
        "back_to_back": b2b,
        "rotating": rotating,
        "slope_per_100_runs": seq["slope_per_100_runs"],
        "summary": summary(seq, b2b, rotating),
        "settle": settle,
        "budgets": {"rss_mb_per_100_runs": BUDGET_RSS_MB_PER_100, "sockets_per_100_runs": BUDGET_SOCKETS_PER_100},
        "within_budget": within,
        "ok": all(within.values()),
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    if not within["all_runs_completed"]:
        return 1  # a run that did not complete is a bug, not noise
    return 0 if args.quick or report["ok"] else 1  # the budget is enforced in full mode (quick: too short to judge)


def summary(seq: dict[str, Any], b2b: dict[str, Any], rotating: dict[str, Any]) -> dict[str, Any]:
    """One line per phase: RSS and descriptors at start and end, the slopes."""
    out: dict[str, Any] = {}
    for name, phase in (("sequential", seq), ("back_to_back", b2b), ("rotating", rotating)):
        first, last = phase["samples"][0], phase["samples"][-1]
        out[name] = {
            "runs": last["runs"],
            "rss_mb": [first["rss_mb"], last["rss_mb"]],
            "fds": [first["fds"], last["fds"]],
            "sockets": [first["sockets"], last["sockets"]],
            "slope_per_100_runs": {key: phase["slope_per_100_runs"][key] for key in ("rss_mb", "sockets")},
        }
    return out


if __name__ == "__main__":
    sys.exit(main())
