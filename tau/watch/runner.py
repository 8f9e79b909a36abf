"""One watched job, run exactly as `tau run FILE` runs it: `tau.config.load_job`, then a `Start` submitted to the
runtime (`tau.runtime.Runtime`, one per runner).

`JobRunner.load(path)` resolves the job file where it was dropped (so relative paths in its frontmatter — `cwd`,
`output.schema`, a `replay:` cassette — resolve against the inbox, as with `tau run DIR/job.md`), with the watcher's
flags, environment and working directory standing in for `tau run`'s. `JobRunner.run(job, events, control)` runs it
headless (no TTY asker), writing every event as a `stream-json` line to `events` as it happens, and returns the
terminal `RunCompleted` — always: a run that cannot start (ConfigError, PreflightError) or dies unexpectedly gets a
terminal event made by `tau.runtime.failure_event`, also appended to the log, so every event log ends with one.
`RunControl` (the runtime's) is how the watcher cancels a run, also one still being prepared.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, Any

from tau import telemetry
from tau.config import JobSpec, load_job
from tau.errors import InternalError, Interrupted, TauError
from tau.protocol import Event, RunCompleted
from tau.runtime import RunControl, Runtime, Start, failure_event
from tau.runtime.engine import ModelFactory
from tau.sessions import InMemorySessionStore, SessionStore

__all__ = ["JobRunner", "RunControl", "event_line", "failure_event", "full_result"]

ResultObject = Callable[[RunCompleted], dict[str, Any]]


def full_result(event: RunCompleted) -> dict[str, Any]:
    """Default result object: the whole terminal event (the CLI passes `--output json`'s object instead)."""
    return event.model_dump(mode="json")


def event_line(event: Event) -> str:
    """One `--output stream-json` line (with its newline)."""
    return json.dumps(event.model_dump(mode="json"), ensure_ascii=False, default=str) + "\n"


@dataclass(frozen=True)
class JobRunner:
    """`flags` are `load_job` flags (as `tau run` hands them over); `env`/`cwd` the watcher's process state;
    `store` where runs commit their snapshots (the CLI passes `tau run`'s file store; None: in memory)."""

    env: Mapping[str, str]
    cwd: Path
    flags: Mapping[str, Any] = field(default_factory=dict)
    result_object: ResultObject = full_result
    model_factory: ModelFactory | None = None
    store: SessionStore | None = None

    @cached_property
    def runtime(self) -> Runtime:
        """The runtime every job of this runner runs in."""
        store = self.store if self.store is not None else InMemorySessionStore()
        return Runtime(store, env=self.env, cwd=self.cwd, model_factory=self.model_factory)

    def load(self, path: Path) -> JobSpec:
        """Raises ConfigError (the job goes to failed/ with exit code 2)."""
        return load_job(job_path=str(path), flags=dict(self.flags), env=self.env, cwd=self.cwd)

    async def run(self, job: JobSpec, events: Path, control: RunControl) -> RunCompleted:
        with events.open("a", encoding="utf-8") as log:
            sink = _LogSink(log)
            completed = await self._drive(job, sink, control)
            if not sink.ended:
                sink(completed)
        return completed

    async def _drive(self, job: JobSpec, sink: _LogSink, control: RunControl) -> RunCompleted:
        if control.cancel_error is not None:
            return failure_event(control.cancel_error, job.session_id or "")
        session_id = job.session_id or str(uuid.uuid4())
        try:
            telemetry.install(job.telemetry)  # the first job decides this watcher's tracing (tau.telemetry)
            return await self.runtime.submit(Start(job, session_id), sinks=[sink], control=control)
        except asyncio.CancelledError:
            cut = control.cancel_error or Interrupted("job task cancelled", signal_name="SIGTERM")
            sink.end(failure_event(cut, session_id if sink.started else job.session_id or ""))
            raise
        except TauError as error:
            return failure_event(error, session_id if sink.started else job.session_id or "")
        except Exception as error:  # a bug: the job still ends with a terminal event
            failed = InternalError(f"internal error: {type(error).__name__}: {error}")
            return failure_event(failed, session_id if sink.started else job.session_id or "")


class _LogSink:
    """Event sink appending stream-json lines, flushed per line; remembers whether the terminal event was written."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self.started = False  # an event was written: the run began its session
        self.ended = False

    def __call__(self, event: Event) -> None:
        if self.ended:
            return
        self.started = True
        self._out.write(event_line(event))
        self._out.flush()
        if isinstance(event, RunCompleted):
            self.ended = True

    def end(self, event: RunCompleted) -> None:
        self(event)
