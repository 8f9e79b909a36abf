"""`Runtime.submit`'s own rules (tests/parity shows the front ends agree on the happy paths): every precondition is
checked before any run starts (the model is never asked), a cancel sent before a run exists ends that run before it
starts and does not outlive it, and Inject/Cancel reach only runs of this process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic_ai.models import Model

from tau.config import JobSpec
from tau.config.spec import EnvironmentSpec, ModelSpec, PermissionsSpec
from tau.errors import ConfigError, Interrupted
from tau.runtime import (
    Answer,
    Answers,
    Cancel,
    Continue,
    Fork,
    Inject,
    NotSupported,
    ReviewPlan,
    Runtime,
    Start,
)
from tau.sessions import FileSessionStore, InMemorySessionStore, SessionNotFoundError, SessionStore
from tau.testing import reply, scripted_model

pytestmark = pytest.mark.anyio


def job_in(workspace: Path) -> JobSpec:
    return JobSpec(
        source="<test>",
        prompt="Say hi.",
        model=ModelSpec(provider="test", name="scripted"),
        environment=EnvironmentSpec(workspace=str(workspace)),
        permissions=PermissionsSpec(mode="default"),
    )


class Replies:
    """A model factory answering every run with one reply; counts the runs that reached a model."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, job: JobSpec) -> Model:
        self.runs += 1
        model, _ = scripted_model([reply(f"reply {self.runs}")])
        return model


def runtime_on(store: SessionStore, workspace: Path, replies: Replies) -> Runtime:
    return Runtime(store, env={"HOME": str(workspace)}, cwd=workspace, model_factory=replies)


async def test_preconditions_are_checked_before_any_run(tmp_path: Path) -> None:
    replies = Replies()
    store = FileSessionStore(tmp_path / "state")
    runtime = runtime_on(store, tmp_path, replies)
    done = await runtime.submit(Start(job_in(tmp_path), "a"))
    assert (done.status, done.result, replies.runs) == ("completed", "reply 1", 1)
    refused = {
        "already exists": Start(job_in(tmp_path), "a"),
        "is not waiting on any call": Continue("a"),
        "has no pending calls": Answer("a", Answers(approve=("call_9",))),
        "is not awaiting plan approval (its status is completed)": ReviewPlan("a", "approve"),
        "names a snapshot, not a session": Continue(store.head("a")[:12], "again"),
    }
    for problem, op in refused.items():
        with pytest.raises(ConfigError, match=re.escape(problem)):
            await runtime.submit(op)
    with pytest.raises(SessionNotFoundError, match="is not a snapshot of session 'a'"):
        await runtime.submit(Fork("a", "b", at="0000000000", run=False))
    assert replies.runs == 1  # nothing above reached a model
    again = await runtime.submit(Continue("a", "Again."))
    assert (again.status, again.result) == ("completed", "reply 2")


async def test_forks_and_stored_jobs_need_a_persistent_store(tmp_path: Path) -> None:
    replies = Replies()
    runtime = runtime_on(InMemorySessionStore(), tmp_path, replies)
    assert not runtime.persistent
    await runtime.submit(Start(job_in(tmp_path), "m"))
    with pytest.raises(NotSupported):
        await runtime.submit(Fork("m", "m2", run=False))
    with pytest.raises(NotSupported, match="keeps no jobs"):
        await runtime.submit(Continue("m", "again"))
    done = await runtime.submit(Continue("m", "again", job=job_in(tmp_path)))  # a front end that keeps the job
    assert (done.status, done.result) == ("completed", "reply 2")


async def test_a_cancel_before_the_run_exists_ends_it_before_it_starts(tmp_path: Path) -> None:
    replies = Replies()
    runtime = runtime_on(InMemorySessionStore(), tmp_path, replies)
    runtime.control("s")  # a front end that starts runs as tasks reserves the control first
    assert (await runtime.submit(Cancel("s", "stopped early", signal="SIGTERM"))).delivered
    with pytest.raises(Interrupted, match="stopped early") as cut:
        await runtime.submit(Start(job_in(tmp_path), "s"))
    assert (cut.value.reason, int(cut.value.exit_code)) == ("terminated", 143)
    assert replies.runs == 0
    done = await runtime.submit(Start(job_in(tmp_path), "s"))  # the cancel went with the run it was meant for
    assert done.status == "completed"


async def test_a_cancel_for_a_run_that_cannot_start_does_not_stop_the_next(tmp_path: Path) -> None:
    replies = Replies()
    runtime = runtime_on(InMemorySessionStore(), tmp_path, replies)
    runtime.control("t")
    assert (await runtime.submit(Cancel("t", "never mind"))).delivered
    with pytest.raises(NotSupported):
        await runtime.submit(Continue("t", "again"))  # refused before it ran: its reserved control is dropped
    done = await runtime.submit(Start(job_in(tmp_path), "t"))
    assert done.status == "completed"


async def test_inject_and_cancel_reach_only_runs_of_this_process(tmp_path: Path) -> None:
    runtime = runtime_on(InMemorySessionStore(), tmp_path, Replies())
    assert not (await runtime.submit(Inject("elsewhere", ("hello",)))).delivered
    assert not (await runtime.submit(Cancel("elsewhere", "stop"))).delivered
    await runtime.submit(Start(job_in(tmp_path), "here"))
    assert not (await runtime.submit(Inject("here", ("too late",)))).delivered  # its run has ended
    assert not runtime.running("here")
