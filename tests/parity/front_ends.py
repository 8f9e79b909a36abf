"""The front ends of the parity test, each driven as its users drive it: `tau` as a subprocess (replaying the
reference's cassettes), a real RPC server with a Connect client, and `tau watch` with a job file dropped into its inbox.
Each returns the events of every run of a scenario, as stream-json objects (the RPC's `event_json`, the watch job's
events.jsonl).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from parity_kit import (
    FORKED,
    SESSION,
    TIMEOUT,
    Box,
    Scenario,
    Scripts,
    Step,
    cassette,
    cli_flags,
    flags,
    runs_of,
    started_tool,
    wait_for,
)

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync
from tau.runtime.features.steering import inbox_dir, pending_requests
from tau.sessions import FileSessionStore

_SCRIPT = Path(sys.executable).with_name("tau")
TAU: tuple[str, ...] = (str(_SCRIPT),) if _SCRIPT.exists() else (sys.executable, "-m", "tau")


# -- the CLI: `tau` as a subprocess, replaying the reference's cassettes ------------------------------------------


class Running:
    """A `tau` subprocess whose stdout lines (stream-json events) are read by a thread as they come."""

    def __init__(self, args: Sequence[str], box: Box) -> None:
        self.proc = subprocess.Popen(
            [*TAU, *args],
            cwd=box.work,
            env=box.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def until(self, kind: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not any(line["type"] == kind for line in self.lines):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {kind} event; saw {[line['type'] for line in self.lines]}"
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"the run ended before a {kind} event: {self.finish()}"
            self.lines.append(json.loads(line))

    def finish(self) -> tuple[int, str]:
        """Wait for the exit; every stdout line is in `lines` afterwards. (exit code, stderr)."""
        code = self.proc.wait(timeout=TIMEOUT)
        while (line := self._queue.get(timeout=TIMEOUT)) is not None:
            self.lines.append(json.loads(line))
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read()


def tau(box: Box, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TAU, *args], cwd=box.work, env=box.env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def through_cli(scenario: Scenario, box: Box, cassettes: Path) -> list[list[dict[str, Any]]]:
    runs: list[list[dict[str, Any]]] = []
    for number, step in enumerate(scenario.steps, start=1):
        common = [
            "--model",
            f"replay:{cassette(cassettes, number)}",
            "-o",
            "stream-json",
            "--state-dir",
            str(box.state),
        ]
        if step.op in ("inject", "cancel"):
            runs.append(_cli_steered(scenario, box, step, common))
            continue
        args = _cli_args(scenario, step, common)
        done = tau(box, *args)
        assert done.returncode in (0, 4), (args, done.returncode, done.stderr)
        runs.append([json.loads(line) for line in done.stdout.splitlines()])
    return runs


def _cli_args(scenario: Scenario, step: Step, common: list[str]) -> list[str]:
    if step.op == "start":
        return ["run", "-p", step.text, *cli_flags(scenario), "--session-id", SESSION, *common]
    if step.op == "continue":
        return ["resume", SESSION, "-p", step.text, *common]
    if step.op == "approve":
        return ["resume", SESSION, "--approve", step.call, *common]
    if step.op == "deny":
        return ["resume", SESSION, "--deny-call", f"{step.call}={step.text}", *common]
    if step.op == "answer":
        return ["resume", SESSION, "--answer", f"{step.call}={step.text}", *common]
    if step.op == "plan-approve":
        return ["plan", "approve", SESSION, *common]
    if step.op == "plan-reject":
        return ["plan", "reject", SESSION, "--reason", step.text, *common]
    if step.op == "fork":
        return ["fork", SESSION, "-p", step.text, "--session-id", FORKED, *common]
    raise AssertionError(f"unknown step {step.op}")


def _cli_steered(scenario: Scenario, box: Box, step: Step, common: list[str]) -> list[dict[str, Any]]:
    """`tau run` caught while its tool waits: `tau inject` (then the gate opens) or `tau stop`."""
    running = Running(["run", "-p", step.text, *cli_flags(scenario), "--session-id", SESSION, *common], box)
    running.until("tool.started")
    if step.op == "inject":
        sent = tau(box, "inject", SESSION, step.note, "--state-dir", str(box.state))
        assert sent.returncode == 0, sent.stderr
        inbox = inbox_dir(box.state, SESSION)
        deadline = time.monotonic() + TIMEOUT
        while pending_requests(inbox):  # consumed = handed to the run
            assert time.monotonic() < deadline, "the run never took the injected message"
            time.sleep(0.02)
        box.open_gate()
    else:
        stopped = tau(box, "stop", SESSION, "--state-dir", str(box.state))
        assert stopped.returncode == 0, stopped.stderr
    code, err = running.finish()
    assert code in (0, 130), (code, err)
    return running.lines


# -- the RPC service: an in-process server and a Connect client ----------------------------------------------------


@contextlib.contextmanager
def rpc_client(box: Box, model_factory: Scripts) -> Iterator[RuntimeServiceClientSync]:
    """A real `tau serve` service on 127.0.0.1 (its own thread and event loop) over the box's store."""
    from tau.rpc.server import RuntimeServer
    from tau.rpc.service import RuntimeServiceImpl

    service = RuntimeServiceImpl(env=box.env, cwd=box.work, model_factory=model_factory, state_dir=box.state)
    server = RuntimeServer(service, host="127.0.0.1", port=0)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True, name="tau-serve-parity")
    thread.start()
    assert server.started.wait(15), "server did not start"
    try:
        with RuntimeServiceClientSync(server.url, timeout_ms=120_000) as client:
            yield client
    finally:
        server.stop()
        thread.join(20)


def through_rpc(scenario: Scenario, box: Box) -> list[list[dict[str, Any]]]:
    runs: list[list[dict[str, Any]]] = []
    with rpc_client(box, Scripts(runs_of(scenario))) as client:
        rpc = _Rpc(client)
        permissions = pb.Permissions(mode=scenario.mode, on_ask="suspend", allow=["Bash"])
        client.create_session(
            pb.CreateSessionRequest(session_id=SESSION, model="test:scripted", permissions=permissions)
        )
        for step in scenario.steps:
            runs.append(rpc.step(step, box))
    return runs


class _Rpc:
    """One scenario's RPCs; remembers the last seq seen and the run count of each session."""

    def __init__(self, client: RuntimeServiceClientSync) -> None:
        self.client = client
        self.seq: dict[str, int] = {}
        self.runs: dict[str, int] = {}

    def step(self, step: Step, box: Box) -> list[dict[str, Any]]:
        if step.op in ("start", "continue"):
            return self._run(SESSION, step.text)
        if step.op == "fork":
            self.client.fork_session(pb.ForkSessionRequest(session_id=SESSION, new_session_id=FORKED))
            return self._run(FORKED, step.text)
        if step.op in ("inject", "cancel"):
            return self._steered(step, box)
        request = pb.RespondRequest(session_id=SESSION, request_id=step.call)
        if step.op == "approve":
            request.approval.CopyFrom(pb.Approval(approved=True))
        elif step.op == "deny":
            request.approval.CopyFrom(pb.Approval(approved=False, message=step.text))
        elif step.op == "answer":
            request.answer.CopyFrom(pb.Answer(text=step.text))
        else:
            request.request_id = f"plan-{self.runs[SESSION]}"
            decision = pb.PLAN_DECISION_APPROVE if step.op == "plan-approve" else pb.PLAN_DECISION_REJECT
            request.plan.CopyFrom(pb.PlanResponse(decision=decision, feedback=step.text))
        self.client.respond(request)
        followed = self.client.stream_events(
            pb.StreamEventsRequest(session_id=SESSION, after_seq=self.seq.get(SESSION, 0), follow=False)
        )
        return self._events(SESSION, followed)

    def _run(self, session: str, prompt: str) -> list[dict[str, Any]]:
        return self._events(session, self.client.run(pb.RunRequest(session_id=session, prompt=prompt)))

    def _events(self, session: str, responses: Iterator[Any]) -> list[dict[str, Any]]:
        events = []
        for response in responses:
            self.seq[session] = max(self.seq.get(session, 0), response.seq)
            if response.event_json:
                events.append(json.loads(response.event_json))
            if response.HasField("final"):
                break
        self.runs[session] = self.runs.get(session, 0) + 1
        return events

    def _steered(self, step: Step, box: Box) -> list[dict[str, Any]]:
        """A Run caught while its tool waits: InjectContext (then the gate opens) or CancelRun."""
        responses = iter(self.client.run(pb.RunRequest(session_id=SESSION, prompt=step.text)))
        events: list[dict[str, Any]] = []
        while not started_tool(events):
            response = next(responses)
            if response.event_json:
                events.append(json.loads(response.event_json))
        if step.op == "inject":
            entry = pb.ContextEntry(key="note", content="The gate is open now.")
            injected = self.client.inject_context(pb.InjectContextRequest(session_id=SESSION, entries=[entry]))
            assert injected.delivered
            box.open_gate()
        else:
            assert self.client.cancel_run(pb.CancelRunRequest(session_id=SESSION, reason="stop")).cancelled
        return events + self._events(SESSION, responses)


# -- tau watch: a job file dropped into a watched inbox --------------------------------------------------------------


def through_watch(scenario: Scenario, box: Box) -> list[list[dict[str, Any]]]:
    """The scenario's one run as a job file: started by the watcher, or stopped by it (`Watcher.stop`, as on SIGINT)
    while its tool waits."""
    from tau.watch import JobRunner, WatchConfig, Watcher

    [step] = scenario.steps
    inbox = box.root / "inbox"
    inbox.mkdir()
    runner = JobRunner(
        env=box.env,
        cwd=box.work,
        flags={**flags(scenario), "session_id": SESSION},
        model_factory=Scripts(runs_of(scenario)),
        store=FileSessionStore(box.state),
    )
    temp = inbox / ".job.md.tmp"
    temp.write_text(f"---\nmodel: test:scripted\n---\n{step.text}\n", encoding="utf-8")
    temp.rename(inbox / "job.md")
    watcher = Watcher(WatchConfig(inbox=inbox, once=True, settle=0.05), runner)

    async def main() -> None:
        task = asyncio.ensure_future(watcher.run())
        if step.op == "cancel":
            log = inbox / "processing" / "job" / "events.jsonl"
            await wait_for(lambda: log.is_file() and started_tool(lines_of(log)), "tool.started in events.jsonl")
            watcher.stop("SIGINT")
        await task

    asyncio.run(main())
    [outcome] = watcher.report.jobs
    return [lines_of(outcome.destination / "events.jsonl")]


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
