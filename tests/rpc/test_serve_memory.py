"""What a long-lived `tau serve` keeps per run (issue #13's soak, `bench/serve_soak.py`, measures the RSS): object
counts after many runs of one session, the event log's serialized form, the allocator release."""

from __future__ import annotations

import gc
import platform
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse
from rpc_helpers import Served
from serve_process import wait_for

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.allocator import release_free_memory
from tau.rpc.eventlog import EventLog, LogGap
from tau.rpc.registry import RunState
from tau.testing import reply, scripted_model

WATCHED = (pb.RunResponse, ModelRequest, ModelResponse, RunState)


def _live() -> Counter[str]:
    gc.collect()
    return Counter(type(o).__name__ for o in gc.get_objects() if isinstance(o, WATCHED))


def _run(served: Served, session_id: str, count: int) -> list[str]:
    statuses = []
    with served.client() as client:
        for number in range(count):
            request = pb.RunRequest(session_id=session_id, prompt=f"prompt {number} " + "x" * 1000)
            finals = [e.final.status for e in client.run(request, headers=served.headers) if e.HasField("final")]
            statuses.extend(finals)
    runs = served.service._runs  # the server's run tasks: settled (trimmed, timers dropped) before counting
    wait_for(lambda: not runs.tasks, "the runs' tasks to end")
    return statuses


def test_runs_of_one_session_leave_their_record_only(serve: Callable[..., Served], tmp_path: Path) -> None:
    """After 5 runs and after 25 more on one session (file store, journal): no more events as messages, no more
    model messages (the growing history is not kept between runs), one `RunState` per run, one prompt kept."""
    served = serve(lambda job: scripted_model([reply("done")])[0], state_dir=tmp_path / "state")
    with served.client() as client:
        session_id = served.create(client, session_id="long")
    assert _run(served, session_id, 5) == ["completed"] * 5
    before = _live()
    assert _run(served, session_id, 25) == ["completed"] * 25
    after = _live()
    growth = {name: after[name] - before[name] for name in ("RunResponse", "ModelRequest", "ModelResponse", "RunState")}
    assert growth == {"RunResponse": 0, "ModelRequest": 0, "ModelResponse": 0, "RunState": 25}
    session = served.service._registry.get(session_id)
    assert [run.prompt != "" for run in session.runs] == [False] * 29 + [True]
    assert session.log.last_seq == len(session.log) and len(session.log) >= 30 * 5


def _event(seq: int, text: str = "") -> pb.RunResponse:
    return pb.RunResponse(seq=seq, run=1, event_json=text or f'{{"n": {seq}}}')


def test_event_log_keeps_the_wire_form_and_counts_seqs_past_its_capacity() -> None:
    journaled: list[bytes] = []
    log = EventLog(3, on_append=journaled.append)
    for number in range(1, 6):
        assert log.append(_event).seq == number
    assert [pb.RunResponse.FromString(raw).seq for raw in journaled] == [1, 2, 3, 4, 5]
    assert (log.first_seq, log.last_seq, len(log)) == (3, 5, 3)
    assert log.since(2) == [_event(3), _event(4), _event(5)]
    assert log.since(4) == [_event(5)] and log.since(5) == []
    with pytest.raises(LogGap, match=r"events 2\.\.2 were dropped"):
        log.since(1)


def test_event_log_restored_keeps_its_tail_and_refuses_gaps() -> None:
    restored = [_event(seq) for seq in range(7, 12)]
    log = EventLog(3, restored=restored, last_seq=11)
    assert (log.first_seq, log.last_seq) == (9, 11)
    assert log.since(8) == restored[2:]
    assert log.append(lambda seq: _event(seq, "next")).seq == 12
    assert EventLog(3, last_seq=4).first_seq == 5  # empty: nothing retained, seqs go on
    with pytest.raises(ValueError, match="contiguous"):
        EventLog(10, restored=[_event(1), _event(3)], last_seq=3)
    with pytest.raises(ValueError, match="before the last seq"):
        EventLog(10, restored=[_event(1), _event(2)], last_seq=5)


def test_release_free_memory_calls_glibc_malloc_trim_where_there_is_one() -> None:
    assert release_free_memory() is (platform.libc_ver()[0] == "glibc")
