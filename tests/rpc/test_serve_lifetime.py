"""What a long-lived `tau serve` must not leave behind (issue 13): tool processes after a SIGKILL of the server, a
locked session for the Run sent right after a Final, finished runs in memory (cancelled timers holding their
context), and model providers (one per configuration, shared, closed with the server)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import signal
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from rpc_helpers import Served
from serve_process import (
    SLEEP,
    TOKEN,
    ServeProcess,
    kill_all,
    processes_with,
    record_sleep_cassette,
    session_request,
    wait_for,
)

from tau.config.spec import ModelSpec
from tau.models.build import build_model
from tau.models.providers import ProviderPool
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync
from tau.rpc.timers import drop_cancelled_timers
from tau.testing import reply, scripted_model


def _descendants(root: int) -> dict[int, str]:
    """pid -> command line of every process below `root`."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = commands.get(pid, "")
                frontier.append(pid)
    return found


def _alive(pid: int, command: str) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text() == command and "Z" not in _state(pid)
    except OSError:
        return False


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_sigkill_of_tau_serve_during_a_sleep_leaves_no_process(tmp_path: Path) -> None:
    served = ServeProcess.start(tmp_path)
    headers = {"authorization": f"Bearer {TOKEN}"}
    try:
        cassette = tmp_path / "sleep.cassette.json"
        record_sleep_cassette(cassette, served.workspace, served.home, "Sleep.")
        assert processes_with(SLEEP) == []  # the recording's own sleep ended with its 1 s timeout
        client = RuntimeServiceClientSync(served.url, timeout_ms=120_000)
        session_id = client.create_session(session_request(f"replay:{cassette}"), headers=headers).session_id
        seen: list[str] = []

        def follow() -> None:
            try:
                for event in client.run(pb.RunRequest(session_id=session_id, prompt="Sleep."), headers=headers):
                    seen.append(event.WhichOneof("event") or "")
            except Exception:  # the server is killed under the stream
                seen.append("<cut>")

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        wait_for(lambda: len(processes_with(SLEEP)) == 1, "the run's bash sleep")
        below = _descendants(served.process.pid)
        assert any(command.split("\0")[:2] == SLEEP for command in below.values()), below
        served.process.send_signal(signal.SIGKILL)
        served.process.wait(30)
        reader.join(30)
        assert "tool_call" in seen and "final" not in seen, seen
        # the kernel tears the sandbox down asynchronously: a bounded wait, then the assertion
        with contextlib.suppress(AssertionError):
            wait_for(lambda: not any(_alive(pid, c) for pid, c in below.items()), "the run's processes to end")
        assert {pid: command for pid, command in below.items() if _alive(pid, command)} == {}
        assert processes_with(SLEEP) == []
    finally:
        kill_all(processes_with(SLEEP))
        served.stop()


def test_a_run_sent_right_after_final_never_finds_the_session_locked(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    """N sessions x M back-to-back runs on a file store (real store locks): every run completes."""
    sessions, runs = 6, 8
    served = serve(lambda job: scripted_model([reply("ok")])[0], state_dir=tmp_path / "state")
    outcomes: list[str] = []

    def one_session(index: int) -> None:
        with served.client() as client:
            session_id = served.create(client, session_id=f"b2b-{index}")
            for number in range(runs):
                status = "no final"
                try:
                    request = pb.RunRequest(session_id=session_id, prompt=f"run {number}")
                    for event in client.run(request, headers=served.headers):
                        if event.HasField("final"):
                            status = event.final.status if event.final.status == "completed" else event.final.error
                except Exception as error:
                    status = f"{type(error).__name__}: {error}"
                outcomes.append(status)

    threads = [threading.Thread(target=one_session, args=(index,)) for index in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert [o for o in outcomes if o != "completed"] == []
    assert len(outcomes) == sessions * runs


def test_drop_cancelled_timers_frees_what_their_context_held() -> None:
    holder: contextvars.ContextVar[object] = contextvars.ContextVar("holder")

    class History:
        pass

    async def main() -> tuple[int, bool]:
        loop = asyncio.get_running_loop()
        box = [History()]
        alive = weakref.ref(box[0])

        def schedule() -> asyncio.TimerHandle:
            holder.set(box[0])
            return loop.call_later(600, lambda: None)

        contextvars.copy_context().run(schedule).cancel()  # what a finished run leaves: a cancelled 600 s timer
        keep = loop.call_later(600, lambda: None)
        box.clear()
        gc.collect()
        assert alive() is not None  # the cancelled handle still holds the run's context
        dropped = drop_cancelled_timers(loop)
        gc.collect()
        still_scheduled = not keep.cancelled() and keep in loop._scheduled  # type: ignore[attr-defined]
        keep.cancel()
        return dropped, alive() is None and still_scheduled

    assert asyncio.run(main()) == (1, True)


def _spec(**fields: object) -> ModelSpec:
    values: dict[str, object] = {"provider": "openai-chat", "name": "m", "base_url": "http://127.0.0.1:9/v1"}
    values.update(fields)
    return ModelSpec(**values)  # type: ignore[arg-type]


def _client_of(model: object) -> object:
    provider = model.wrapped._provider  # type: ignore[attr-defined]  # RetryingModel -> OpenAIChatModel
    return provider.client._client


@pytest.mark.anyio
async def test_runs_share_one_provider_per_configuration_and_the_pool_closes_them() -> None:
    pool = ProviderPool(max_idle=1)
    async with pool.lease():
        first, again = build_model(_spec()), build_model(_spec())
        other_key = build_model(_spec(api_key="another-key"))
    shared = _client_of(first)
    assert isinstance(shared, httpx2.AsyncClient)
    assert _client_of(again) is shared
    assert _client_of(other_key) is not shared
    assert len(pool) == 1  # two idle configurations, max_idle 1: the older one was closed and forgotten
    assert shared.is_closed and not _client_of(other_key).is_closed  # type: ignore[attr-defined]
    async with pool.lease():
        assert _client_of(build_model(_spec(api_key="another-key"))) is _client_of(other_key)
    outside = [_client_of(build_model(_spec())) for _ in range(2)]
    assert outside[0] is not outside[1]  # no lease (tau run): each model its own provider and client
    await pool.aclose()
    assert _client_of(other_key).is_closed  # type: ignore[attr-defined]
    assert len(pool) == 0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
