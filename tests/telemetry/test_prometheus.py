"""Acceptance: a real Prometheus (Debian's `prometheus`, scripts/install-observability.sh) scrapes `tau serve`'s
/metrics with the server's bearer token, and PromQL over its HTTP API returns the runs the test made: two completed,
one failed (its replayed model diverged), one suspended on a permission ask (`needs_input`).

Prometheus runs with a private config and data directory on a free loopback port; the test polls its query API
(bounded) until the scraped series arrive — the first scrape lands a few seconds after it starts.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from telemetry_kit import TOKEN, Box, record_session, serve

from tau.rpc._gen import runtime_pb2 as pb
from tau.testing import calls, reply

BOUND = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def prometheus(root: Path, target_port: int) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("prometheus is not installed: scripts/install-observability.sh")
        pytest.skip("prometheus is not installed: run scripts/install-observability.sh")
    token = root / "prometheus-token"
    token.write_text(TOKEN)
    config = root / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: tau\n    scrape_interval: 1s\n    scrape_timeout: 1s\n"
        f"    authorization:\n      type: Bearer\n      credentials_file: {token}\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
    )
    port = _free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={root / 'prometheus-data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def query(api: str, promql: str) -> list[dict[str, object]]:
    try:
        answer = httpx.get(f"{api}/api/v1/query", params={"query": promql}, timeout=5)
    except httpx.TransportError:
        return []  # not listening yet
    if answer.status_code != 200:
        return []
    body = answer.json()
    assert body["status"] == "success", body
    result: list[dict[str, object]] = body["data"]["result"]
    return result


def runs_by_outcome(api: str) -> dict[tuple[str, str], float]:
    rows = query(api, "sum by (status, reason) (tau_runs_total)")
    return {(str(r["metric"]["status"]), str(r["metric"]["reason"])): float(r["value"][1]) for r in rows}  # type: ignore[index]


def test_prometheus_scrapes_tau_serve_and_promql_counts_the_runs(box: Box) -> None:
    asks = pb.Permissions(mode="default")  # bash needs an approval; RPC sessions suspend on asks
    ask_request = pb.CreateSessionRequest(model="test:scripted", permissions=asks)
    asking = record_session(box, ask_request, "touch it", [calls(("bash", {"command": "touch made-by-tau"}))])
    greeting = record_session(box, pb.CreateSessionRequest(model="test:scripted"), "hello", [reply("Hello.")])
    with serve(box) as served:
        outcomes = [
            served.run(served.session("test:one"), "first").status,
            served.run(served.session("test:two"), "second").status,
            served.run(served.session(f"replay:{greeting}"), "not what was recorded").status,
            served.run(served.session(f"replay:{asking}", permissions=asks), "touch it").status,
        ]
        assert outcomes == ["completed", "completed", "failed", "suspended"]
        with prometheus(box.root, served.port) as api:
            deadline = time.monotonic() + BOUND
            while True:
                counts = runs_by_outcome(api)
                if sum(counts.values()) == 4 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            up = query(api, 'up{job="tau"}')
            active = query(api, "tau_sessions_active")
    assert counts[("completed", "completed")] == 2
    assert counts[("suspended", "needs_input")] == 1
    [(failed, value)] = [(reason, n) for (status, reason), n in counts.items() if status == "failed"]
    assert value == 1 and failed
    assert sum(counts.values()) == 4
    assert [float(row["value"][1]) for row in up] == [1.0]  # type: ignore[index]  # scraped with the token
    assert [float(row["value"][1]) for row in active] == [0.0]  # type: ignore[index]
