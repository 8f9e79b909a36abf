"""The `tau watch` loop: find settled job files, claim them, run up to `concurrency` at once, commit the results.

The inbox scan is the source of truth; watchfiles only wakes the loop (at once on any change in the inbox, which is
watched non-recursively), and the loop rescans every `rescan_interval` anyway, so a missed notification delays a job
but never loses it. While files are settling the loop looks again when the next one may have settled. A job is
claimed (moved into `processing/`) only when a slot is free, so jobs still waiting in the inbox at shutdown simply
run after a restart.

Order per job: load (ConfigError -> failed/, exit code 2, without running) -> claim -> run (events.jsonl) -> outcome
files -> commit to done/ (exit code 0) or failed/ (anything else). At start, under the inbox lock, `processing/`
leftovers are recovered first (`layout.WatchLayout.recover`: finished ones committed, half-run ones failed as
`interrupted`, never re-run).

`stop(signal_name)` (the CLI's SIGINT/SIGTERM handler; call it on the loop's thread) stops claiming, cancels running
jobs through their drivers (each ends with its terminal event, `terminated`/143 or `interrupted`/130, and is committed
to failed/), waits up to `drain_timeout`, then cancels what is left (still committed, with a synthesized terminal
event). A second `stop` skips the wait. `once=True` processes the files present at start and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau.config import JobSpec
from tau.errors import ConfigError, Interrupted, TauError
from tau.protocol import RunCompleted
from tau.watch.layout import JobDir, Recovered, WatchLayout
from tau.watch.runner import JobRunner, RunControl, event_line, failure_event
from tau.watch.settle import SettleTracker

INTERRUPTED_ERROR = (
    "tau watch stopped while this job was running (found in processing/ at start); it was not re-run: "
    "drop the job file into the inbox again to retry"
)


@dataclass(frozen=True)
class WatchConfig:
    inbox: Path
    done_dir: Path | None = None
    failed_dir: Path | None = None
    concurrency: int = 2
    settle: float = 1.0
    once: bool = False
    drain_timeout: float = 10.0
    rescan_interval: float = 30.0


@dataclass(frozen=True)
class JobOutcome:
    name: str
    status: str
    terminal_reason: str
    exit_code: int
    destination: Path


@dataclass
class WatchReport:
    jobs: list[JobOutcome] = field(default_factory=list)
    recovered: list[Recovered] = field(default_factory=list)
    stopped_by: str | None = None

    @property
    def failed(self) -> list[JobOutcome]:
        return [job for job in self.jobs if job.exit_code != 0]

    @property
    def any_failed(self) -> bool:
        """A job of this pass failed, or recovery failed a job cut off by an earlier crash."""
        return bool(self.failed) or any(item.action == "interrupted" for item in self.recovered)


@dataclass
class _Active:
    control: RunControl
    task: asyncio.Task[None] | None = None


class Watcher:
    def __init__(self, config: WatchConfig, runner: JobRunner, *, log: Callable[[str], None] | None = None) -> None:
        if config.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1", source="tau watch")
        self.config = config
        self.runner = runner
        self.layout = WatchLayout(config.inbox, done=config.done_dir, failed=config.failed_dir)
        self.report = WatchReport()
        self._log = log or (lambda line: None)
        self._tracker = SettleTracker(config.settle)
        self._active: dict[str, _Active] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._forced = False
        self._fs_stop = asyncio.Event()

    # -- control -------------------------------------------------------------------------------------------------

    def stop(self, signal_name: str = "SIGTERM") -> None:
        """Stop claiming jobs and cancel the running ones (see the module docstring). Idempotent; a second call
        stops waiting for them."""
        if self._stopping:
            self._forced = True
            for active in self._active.values():
                if active.task is not None:
                    active.task.cancel()
            return
        self._stopping = True
        self.report.stopped_by = signal_name
        error = Interrupted(f"tau watch received {signal_name}", signal_name=signal_name)
        for active in self._active.values():
            active.control.cancel(error)
        self._wake.set()

    # -- the loop ------------------------------------------------------------------------------------------------

    async def run(self) -> WatchReport:
        self.layout.ensure()  # before the lock: a missing inbox is a one-line ConfigError, not a failed open
        with self.layout.locked():
            self._recover()
            backlog = {path.name for path in self.layout.inbox_entries()} if self.config.once else None
            watching = None if self.config.once else asyncio.get_running_loop().create_task(self._watch_fs())
            self._log(f"watching {self.config.inbox} (concurrency {self.config.concurrency})")
            try:
                await self._loop(backlog)
            finally:
                self._fs_stop.set()
                await self._drain()
                if watching is not None:
                    await _finish(watching)
        return self.report

    async def _loop(self, backlog: set[str] | None) -> None:
        last_scan = 0.0
        while not self._stopping:
            self._wake.clear()
            entries = [
                path
                for path in self.layout.inbox_entries()
                if (backlog is None or path.name in backlog) and path.name not in self._active
            ]
            last_scan = time.monotonic()
            for path in self._tracker.observe(entries):
                if len(self._active) >= self.config.concurrency or self._stopping:
                    break
                self._start(path)
            if backlog is not None and not self._active and not entries:
                return
            await self._sleep(last_scan)

    async def _sleep(self, last_scan: float) -> None:
        timeout = self.config.rescan_interval - (time.monotonic() - last_scan)
        settling = self._tracker.next_ready_in()
        if settling is not None:
            timeout = min(timeout, settling + 0.01)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(timeout, 0.0))

    async def _watch_fs(self) -> None:
        from watchfiles import awatch

        async for _ in awatch(
            self.layout.inbox,
            watch_filter=None,
            recursive=False,
            debounce=200,
            step=20,
            rust_timeout=1000,
            stop_event=self._fs_stop,
        ):
            self._wake.set()

    def _recover(self) -> None:
        interrupted = failure_event(Interrupted(INTERRUPTED_ERROR))
        for item in self.layout.recover(self.runner.result_object(interrupted)):
            self.report.recovered.append(item)
            where = f" -> {item.destination}" if item.destination is not None else ""
            self._log(f"recovered {item.name}: {item.action}{where}")

    # -- one job -------------------------------------------------------------------------------------------------

    def _start(self, path: Path) -> None:
        job: JobSpec | None = None
        problem: ConfigError | None = None
        try:
            job = self.runner.load(path)
        except ConfigError as error:
            problem = error
        claimed = self.layout.claim(path)
        self._tracker.forget(path)
        if claimed is None:
            return
        active = _Active(RunControl())
        self._active[path.name] = active
        task = asyncio.get_running_loop().create_task(self._process(path.name, claimed, job, problem, active.control))
        active.task = task
        self._log(f"{path.name}: started")

    async def _process(
        self, name: str, claimed: JobDir, job: JobSpec | None, problem: TauError | None, control: RunControl
    ) -> None:
        try:
            if job is None or problem is not None:
                completed = failure_event(problem or ConfigError("the job could not be loaded"))
                claimed.events.write_text(event_line(completed), encoding="utf-8")
            else:
                completed = await self.runner.run(job, claimed.events, control)
            self._commit(name, claimed, completed)
        except asyncio.CancelledError:
            cut = control.cancel_error or Interrupted("job task cancelled", signal_name="SIGTERM")
            self._commit(name, claimed, failure_event(cut))
            raise
        finally:
            self._active.pop(name, None)
            self._wake.set()

    def _commit(self, name: str, claimed: JobDir, completed: RunCompleted) -> None:
        if claimed.result.exists():
            return
        error = None if completed.exit_code == 0 else (completed.error or completed.terminal_reason)
        claimed.write_outcome(self.runner.result_object(completed), session_id=completed.session_id, error=error)
        destination = self.layout.commit(claimed, succeeded=completed.exit_code == 0)
        outcome = JobOutcome(name, completed.status, completed.terminal_reason, completed.exit_code, destination)
        self.report.jobs.append(outcome)
        self._log(
            f"{name}: {completed.status} ({completed.terminal_reason}, exit {completed.exit_code}) -> {destination}"
        )

    async def _drain(self) -> None:
        tasks = [active.task for active in self._active.values() if active.task is not None]
        if not tasks:
            return
        if not self._forced:
            await asyncio.wait(tasks, timeout=self.config.drain_timeout)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _finish(task: asyncio.Task[Any]) -> None:
    try:
        await asyncio.wait_for(task, 5)
    except (asyncio.CancelledError, TimeoutError):
        return
