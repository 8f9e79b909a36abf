"""Plan mode, clarification and steering through the real `tau` CLI, as subprocesses in a hermetic box (HOME, XDG dirs
and, except for the plan flow, TAU_STATE_DIR under tmp).

The model is played by cassettes recorded in-process first (`RecordingModel` over a scripted model, the job parsed
exactly as `tau run ARGS` parses it, one cassette per run), then replayed with `-m replay:FILE`. Replay checks every
request against the recording — user prompts, tool results, tools offered — so a subprocess run that passes proves
the model received the same plan review, answer or injected message as in the recording.
"""

from __future__ import annotations

import json
import os
import pty
import queue
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from controlsupport import user_prompts
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo

from tau.config import JobSpec, load_job
from tau.models.cassette import RecordingModel
from tau.protocol import Event, RunCompleted
from tau.runtime import Answers, Continuation, RunDriver, RunEntry, prepare_run
from tau.runtime.features.clarify import NO_HUMAN
from tau.runtime.features.plan import PlanReview, approval_prompt, execute_plan_prompt, rejection_prompt
from tau.runtime.features.steering import STOPPED, inbox_dir, pending_requests
from tau.sessions import FileSessionStore
from tau.testing import Turn, calls, reply, scripted_model

_SCRIPT = Path(sys.executable).with_name("tau")
TAU: tuple[str, ...] = (str(_SCRIPT),) if _SCRIPT.exists() else (sys.executable, "-m", "tau")
TIMEOUT = 60

PLAN = "# Plan\n\n1. Create `out.txt` containing `done`."
PLAN_2 = "# Plan\n\n1. Create `out.txt` containing `done`.\n2. Verify it with `cat out.txt`."
ASK = ("ask_user", {"question": "Which colour?", "choices": ["red", "blue"]})


@dataclass
class Box:
    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def scratch(self) -> Path:
        """The store recordings use (the CLI runs get a fresh one)."""
        return self.root / "scratch"

    def env(self, *, state_dir: bool = True) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
        }
        if state_dir:
            env["TAU_STATE_DIR"] = str(self.state)
        return env

    def tau(self, *args: str, state_dir: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*TAU, *args],
            cwd=self.work,
            env=self.env(state_dir=state_dir),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def start(self, *args: str) -> Running:
        proc = subprocess.Popen(
            [*TAU, *args],
            cwd=self.work,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return Running(proc)


class Running:
    """A `tau run -o stream-json` in the background; its stdout lines are read by a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr.append(self.proc.stderr.read())

    def wait_for(self, kind: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {kind} event; saw {[line['type'] for line in self.lines]}"
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"run ended before a {kind} event: {self.finish()}"
            event: dict[str, Any] = json.loads(line)
            self.lines.append(event)
            if event["type"] == kind:
                return event

    def finish(self) -> tuple[int, str]:
        """Wait for the exit; every stdout line is in `lines` afterwards. (exit code, stderr)."""
        code = self.proc.wait(timeout=TIMEOUT)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(json.loads(line))
        deadline = time.monotonic() + 5
        while not self._stderr and time.monotonic() < deadline:
            time.sleep(0.01)
        return code, "".join(self._stderr)


@pytest.fixture
def box(tmp_path: Path) -> Box:
    made = Box(tmp_path)
    for directory in (made.home / ".config", made.work):
        directory.mkdir(parents=True, exist_ok=True)
    return made


def stream(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def load(box: Box, *args: str) -> JobSpec:
    """The job `tau run ARGS` runs (with the scripted model), parsed by the same click command and helpers."""
    from tau.cli.engines import pop_engine
    from tau.cli.main import run_command
    from tau.cli.run import _PLAN_PLACEHOLDER, _executing_plan, _flag_values, _plan_flags

    params = dict(run_command.make_context("run", [*args, "--model", "test:scripted"]).params)
    job_file, prompt_text = params.pop("job_file"), params.pop("prompt_text")
    params.pop("quiet"), params.pop("state_dir")
    pop_engine(params)  # --engine and friends are not job settings
    flags, plan_file = _plan_flags(params)
    own = job_file is not None or prompt_text is not None
    job = load_job(
        job_path=job_file,
        prompt_text=prompt_text if own or plan_file is None else _PLAN_PLACEHOLDER,
        flags=_flag_values(flags),
        env=box.env(),
        cwd=box.work,
    )
    return job if plan_file is None else _executing_plan(job, plan_file, own_prompt=own)


def record(
    box: Box,
    job: JobSpec,
    steps: Sequence[Any],
    cassette: Path,
    *,
    session_id: str,
    continuation: Continuation | None = None,
    interactive: bool = False,
    drivers: list[RunDriver] | None = None,
) -> tuple[RunCompleted, list[Event]]:
    """Run `job` in-process with the scripted `steps`, recording `cassette`, in the scratch store."""
    model, _ = scripted_model(list(steps))
    recording = RecordingModel(model, cassette, workspace=job.environment.workspace)
    events: list[Event] = []

    async def main() -> RunCompleted:
        driver = await prepare_run(
            job,
            sinks=[events.append],
            model=recording,
            store=FileSessionStore(box.scratch),
            entry=RunEntry(session_id, continuation, interactive=interactive),
        )
        if drivers is not None:
            drivers.append(driver)
        try:
            return await driver.run()
        finally:
            await driver.close()

    return anyio.run(main), events


def with_mode(job: JobSpec, mode: Any) -> JobSpec:
    return job.model_copy(update={"permissions": job.permissions.model_copy(update={"mode": mode})})


def clean(box: Box, *names: str) -> None:
    for name in (".tau", *names):
        path = box.work / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


# -- plan mode -------------------------------------------------------------------------------------------------


def expect_prompt(text: str, turn: Turn) -> Any:
    def step(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        assert user_prompts(messages)[-1] == text
        return turn

    return step


def test_plan_reject_approve_end_to_end(box: Box, tmp_path: Path) -> None:
    """`tau run --plan`: the write is denied, the plan file appears, exit 4; `tau plan reject` sends the reason and
    the model plans again (exit 4); `tau plan approve` executes the plan file and writes (exit 0). No TAU_STATE_DIR:
    the store stays in $XDG_STATE_HOME although the run creates `.tau/plans/` in the workspace."""
    args = ("-p", "Create out.txt containing done.", "--plan", "--session-id", "p")
    job = load(box, *args)
    assert job.permissions.mode == "plan"
    planned, rejected, approved = tmp_path / "plan.json", tmp_path / "reject.json", tmp_path / "approve.json"
    write = ("write", {"file_path": "out.txt", "content": "done"})
    first, events = record(box, job, [calls(write), calls(("submit_plan", {"plan": PLAN}))], planned, session_id="p")
    assert (first.exit_code, first.terminal_reason) == (4, "awaiting_plan_approval"), events
    reason = "add a verification step"
    record(
        box,
        job,
        [expect_prompt(rejection_prompt(reason), calls(("submit_plan", {"plan": PLAN_2})))],
        rejected,
        session_id="p",
        continuation=Continuation(None, plan_review=PlanReview("reject", reason)),
    )
    record(
        box,
        with_mode(job, "acceptEdits"),
        [expect_prompt(approval_prompt(PLAN_2), calls(write)), reply("Created out.txt.")],
        approved,
        session_id="p",
        continuation=Continuation(None, plan_review=PlanReview("approve")),
    )
    clean(box, "out.txt")

    ran = box.tau("run", *args, "-m", f"replay:{planned}", "-o", "stream-json", state_dir=False)
    assert ran.returncode == 4, ran.stderr
    lines = stream(ran)
    [denied] = [line for line in lines if line["type"] == "permission.decided" and line["tool"] == "write"]
    assert denied["resolution"] == "denied" and "plan mode" in denied["reason"]
    assert not (box.work / "out.txt").exists()
    plan_event, last = lines[-2], lines[-1]
    assert (plan_event["type"], plan_event["path"], plan_event["plan"]) == ("plan.submitted", ".tau/plans/p.md", PLAN)
    assert (last["status"], last["terminal_reason"], last["exit_code"], last["result"]) == (
        "suspended",
        "awaiting_plan_approval",
        4,
        PLAN,
    )
    assert (box.work / ".tau/plans/p.md").read_text() == PLAN + "\n"
    assert (box.home / ".local/state/tau/refs/sessions/p").is_file()
    assert not (box.work / ".tau/state").exists()

    again = box.tau(
        "plan", "reject", "p", "--reason", reason, "-m", f"replay:{rejected}", "-o", "text", state_dir=False
    )
    assert again.returncode == 4, again.stderr
    assert again.stdout == PLAN_2 + "\n"
    assert "tau: plan written to .tau/plans/p.md — approve: tau plan approve p" in again.stderr
    assert (box.work / ".tau/plans/p.md").read_text() == PLAN_2 + "\n"
    assert not (box.work / "out.txt").exists()

    done = box.tau("plan", "approve", "p", "-m", f"replay:{approved}", "-o", "json", state_dir=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == "Created out.txt."
    assert (box.work / "out.txt").read_text() == "done"


def test_execute_plan_file(box: Box, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tau run JOB --execute-plan FILE`: the plan is the prompt (the job's body adds context); a job in plan mode
    (frontmatter `mode: plan`) executes in acceptEdits."""
    monkeypatch.chdir(box.work)
    (box.work / "approved.md").write_text(PLAN + "\n")
    (box.work / "job.md").write_text("---\nmode: plan\n---\nKeep it short.\n")
    assert load(box, "job.md").permissions.mode == "plan"
    job = load(box, "job.md", "--execute-plan", "approved.md")
    assert (job.prompt, job.permissions.mode) == (execute_plan_prompt(PLAN, "Keep it short."), "acceptEdits")
    cassette = tmp_path / "execute.json"
    steps = [calls(("write", {"file_path": "out.txt", "content": "done"})), reply("Executed.")]
    record(box, job, steps, cassette, session_id="x")
    clean(box, "out.txt")

    ran = box.tau("run", "job.md", "--execute-plan", "approved.md", "-m", f"replay:{cassette}")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "Executed.\n"
    assert (box.work / "out.txt").read_text() == "done"
    bare = load(box, "--execute-plan", "approved.md")  # no job file: the plan alone, in the configured mode
    assert (bare.prompt, bare.permissions.mode, bare.source) == (
        execute_plan_prompt(PLAN),
        "default",
        str(box.work / "approved.md"),
    )


def test_plan_commands_refuse_sessions_not_awaiting_approval(box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process (`tau.cli.main.cli`, no subprocess needed): exit 2 with one line, before any run."""
    from click.testing import CliRunner

    from tau.cli.main import cli

    monkeypatch.chdir(box.work)
    env = box.env()
    runner = CliRunner()
    assert runner.invoke(cli, ["run", "-p", "hi", "-m", "test:x", "--session-id", "c"], env=env).exit_code == 0
    for args in (["plan", "approve", "c"], ["resume", "c", "--approve-plan"], ["plan", "reject", "c", "--reason", "x"]):
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 2, result.output
        assert "not awaiting plan approval (its status is completed)" in result.stderr
    both = runner.invoke(cli, ["run", "-p", "x", "-m", "test:x", "--plan", "--execute-plan", "f.md"], env=env)
    assert both.exit_code == 2 and "give one of them" in both.stderr


# -- clarification ---------------------------------------------------------------------------------------------


def test_clarification_suspend_then_answer(box: Box, tmp_path: Path) -> None:
    args = ("-p", "Paint the fence.", "--on-ask", "suspend", "--session-id", "q")
    job = load(box, *args)
    asked, answered = tmp_path / "ask.json", tmp_path / "answer.json"
    record(box, job, [calls(ASK)], asked, session_id="q")
    record(
        box,
        job,
        [reply("Painting it blue.")],
        answered,
        session_id="q",
        continuation=Continuation(None, Answers(answer={"call_1_0": "blue"})),
    )

    ran = box.tau("run", *args, "-m", f"replay:{asked}", "-o", "stream-json")
    assert ran.returncode == 4, ran.stderr
    lines = stream(ran)
    assert [line["type"] for line in lines[-3:]] == ["snapshot.created", "clarification.requested", "run.completed"]
    question = lines[-2]
    assert (question["call_id"], question["question"], question["choices"]) == (
        "call_1_0",
        "Which colour?",
        ["red", "blue"],
    )
    assert (lines[-1]["status"], lines[-1]["terminal_reason"], lines[-1]["exit_code"]) == (
        "suspended",
        "needs_input",
        4,
    )
    assert not [line for line in lines if line["type"] == "approval.requested"]

    resumed = box.tau("resume", "q", "--answer", "call_1_0=blue", "-m", f"replay:{answered}", "-o", "text")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == "Painting it blue.\n"


@pytest.mark.parametrize("policy", ["deny", "tty"])
def test_clarification_without_a_human(box: Box, tmp_path: Path, policy: str) -> None:
    """`deny`, and `tty` with a stdin that is not a terminal: the model is told no human is available."""
    cassette = tmp_path / "deny.json"
    args = ("-p", "Paint the fence.", "--on-ask", policy)

    def answer(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        assert NO_HUMAN in str(messages[-1])
        return reply("Assuming red.")

    record(box, load(box, *args), [calls(ASK), answer], cassette, session_id="d")
    ran = box.tau("run", *args, "-m", f"replay:{cassette}")
    assert (ran.returncode, ran.stdout) == (0, "Assuming red.\n"), ran.stderr
    assert "Which colour?" not in ran.stderr


def test_clarification_on_a_tty(box: Box, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--on-ask tty` with a pty as stdin and stderr: the question is shown, a typed choice number answers it."""
    import tau.runtime.features.clarify as clarify

    async def typed(*args: Any, **kwargs: Any) -> str:
        return "blue"

    monkeypatch.setattr(clarify, "ask_on_terminal", typed)  # the recording's "human"
    args = ("-p", "Paint the fence.", "--on-ask", "tty")
    cassette = tmp_path / "tty.json"
    record(box, load(box, *args), [calls(ASK), reply("Painting it blue.")], cassette, session_id="t", interactive=True)

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [*TAU, "run", *args, "-m", f"replay:{cassette}"],
            cwd=box.work,
            env=box.env(),
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=slave,
        )
        os.close(slave)
        shown = b""
        deadline = time.monotonic() + TIMEOUT
        while b"tau: answer (a number or text): " not in shown:
            assert time.monotonic() < deadline, shown
            readable, _, _ = select.select([master], [], [], 1)
            if readable:
                shown += os.read(master, 4096)
        assert b"Which colour?" in shown and b"2) blue" in shown
        os.write(master, b"2\n")
        out, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert out == b"Painting it blue.\n"


# -- steering --------------------------------------------------------------------------------------------------

WAIT = "for i in $(seq 400); do [ -e delivered ] && exit 0; sleep 0.05; done; exit 1"
STEER = "use tabs, not spaces"


def test_inject_from_a_second_process(box: Box, tmp_path: Path) -> None:
    """`tau inject` while the run's bash step waits: the message reaches the model's next request."""
    args = ("-p", "Wait for the signal.", "--permission-mode", "bypassPermissions", "--session-id", "s1")
    cassette = tmp_path / "inject.json"
    drivers: list[RunDriver] = []

    def first(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        drivers[0].inject(STEER)
        return calls(("bash", {"command": WAIT}))

    def second(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        assert user_prompts(messages)[-1] == STEER
        return reply("Using tabs.")

    (box.work / "delivered").touch()
    record(box, load(box, *args), [first, second], cassette, session_id="s1", drivers=drivers)
    clean(box, "delivered")

    run = box.start("run", *args, "-m", f"replay:{cassette}", "-o", "stream-json")
    try:
        run.wait_for("tool.started")
        sent = box.tau("inject", "s1", STEER)
        assert sent.returncode == 0, sent.stderr
        assert "queued for running session s1" in sent.stderr
        deadline = time.monotonic() + 10
        while pending_requests(inbox_dir(box.state, "s1")):  # consumed = handed to the run
            assert time.monotonic() < deadline, "the running process never took the message"
            time.sleep(0.05)
        (box.work / "delivered").touch()
        code, err = run.finish()
    finally:
        run.proc.kill()
    assert code == 0, (err, run.lines[-1])
    assert run.lines[-1]["result"] == "Using tabs."


def test_stop_from_a_second_process(box: Box, tmp_path: Path) -> None:
    args = ("-p", "Sleep.", "--permission-mode", "bypassPermissions", "--session-id", "s2")
    cassette = tmp_path / "stop.json"
    record(
        box,
        load(box, *args, "--timeout", "0.5s"),
        [calls(("bash", {"command": "sleep 20"}))],
        cassette,
        session_id="s2",
    )

    run = box.start("run", *args, "-m", f"replay:{cassette}", "-o", "stream-json")
    try:
        run.wait_for("tool.started")
        started = time.monotonic()
        stopped = box.tau("stop", "s2", "--wait", "20")
        assert stopped.returncode == 0, stopped.stderr
        assert "session s2 stopped" in stopped.stderr
        assert time.monotonic() - started < 15  # the bash step sleeps 20 s
        code, err = run.finish()
    finally:
        run.proc.kill()
    assert code == 130, err
    last = run.lines[-1]
    assert (last["type"], last["terminal_reason"], last["exit_code"], last["error"]) == (
        "run.completed",
        "interrupted",
        130,
        STOPPED,
    )
    assert run.lines[-2]["type"] == "snapshot.created"
    assert FileSessionStore(box.state).refs.read("s2") == run.lines[-2]["snapshot_id"]


# -- the text renderer -----------------------------------------------------------------------------------------


def test_text_renderer_says_how_to_continue() -> None:
    import io

    from tau.cli.render import TextRenderer
    from tau.protocol import ClarificationRequested, PlanSubmitted

    def render(*events: Event) -> tuple[str, str]:
        out, err = io.StringIO(), io.StringIO()
        renderer = TextRenderer(out, err, tty=False, quiet=True)
        for event in events:
            renderer(event)
        return out.getvalue(), err.getvalue()

    def suspended(reason: str, result: str | None = None) -> RunCompleted:
        return RunCompleted(status="suspended", terminal_reason=reason, exit_code=4, session_id="s9", result=result)

    plan = PlanSubmitted(path=".tau/plans/s9.md", plan=PLAN)
    assert render(plan, suspended("awaiting_plan_approval", PLAN)) == (
        PLAN + "\n",
        "tau: plan written to .tau/plans/s9.md — approve: tau plan approve s9\n"
        "tau: or ask for another plan: tau plan reject s9 --reason TEXT\n",
    )
    question = ClarificationRequested(call_id="call_1_0", question="Which colour?", choices=["red", "blue"])
    assert render(question, suspended("needs_input")) == (
        "",
        "tau: the agent asks (call_1_0): Which colour? [red / blue]\n"
        "tau: answer: tau resume s9 --answer call_1_0=TEXT\n",
    )


def test_control_settings(box: Box) -> None:
    from tau.errors import ConfigError

    (box.work / "job.md").write_text("---\nmode: plan\nplan: {dir: docs/plans}\nlimits: {ask_timeout: 90s}\n---\nGo.\n")
    job = load(box, "job.md")
    assert (job.permissions.mode, job.plan.dir, job.limits.ask_timeout) == ("plan", "docs/plans", 90.0)
    assert load(box, "-p", "Go.").plan.dir == ".tau/plans"
    (box.work / "clash.md").write_text("---\nmode: plan\npermissions: {mode: default}\n---\nGo.\n")
    with pytest.raises(ConfigError, match="disagree"):
        load(box, "clash.md")
    with pytest.raises(ConfigError, match="--plan conflicts with --permission-mode default"):
        load(box, "-p", "Go.", "--plan", "--permission-mode", "default")
