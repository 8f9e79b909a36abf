"""One watched job, run exactly as `tau run FILE` runs it: `tau.config.load_job` + `tau.runtime.prepare_run`.

`JobRunner.load(path)` resolves the job file where it was dropped (so relative paths in its frontmatter — `cwd`,
`output.schema`, a `replay:` cassette — resolve against the inbox, as with `tau run DIR/job.md`), with the watcher's
flags, environment and working directory standing in for `tau run`'s. `JobRunner.run(job, events, control)` runs it
headless (no TTY asker), writing every event as a `stream-json` line to `events` as it happens, and returns the
terminal `RunCompleted` — always: a run that cannot start (ConfigError, PreflightError from `prepare_run`) or dies
unexpectedly gets a synthesized terminal event, also appended to the log, so every event log ends with one.
`RunControl` is how the watcher cancels a run, also one still being prepared.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tau.config import JobSpec, load_job
from tau.errors import InternalError, Interrupted, RunError, TauError
from tau.protocol import Event, RunCompleted
from tau.sessions import SessionStore

if TYPE_CHECKING:
    from pydantic_ai.models import Model

    from tau.runtime import RunDriver

ModelFactory = Callable[[JobSpec], "Model | None"]
ResultObject = Callable[[RunCompleted], dict[str, Any]]


def full_result(event: RunCompleted) -> dict[str, Any]:
    """Default result object: the whole terminal event (the CLI passes `--output json`'s object instead)."""
    return event.model_dump(mode="json")


def event_line(event: Event) -> str:
    """One `--output stream-json` line (with its newline)."""
    return json.dumps(event.model_dump(mode="json"), ensure_ascii=False, default=str) + "\n"


def failure_event(error: TauError, session_id: str = "") -> RunCompleted:
    """The terminal event of a job that could not start or finish by itself."""
    return RunCompleted(
        status="failed",
        terminal_reason=error.reason,
        exit_code=int(error.exit_code),
        session_id=session_id,
        error=error.message,
        error_kind=type(error).__name__,
        retryable=bool(getattr(error, "retryable", False)),
    )


@dataclass
class RunControl:
    """Cancellation of one job: before its driver exists the error is kept and applied as soon as it does."""

    driver: RunDriver | None = None
    cancel_error: RunError | None = None

    def cancel(self, error: RunError) -> None:
        if self.cancel_error is None:
            self.cancel_error = error
        if self.driver is not None:
            self.driver.cancel(error)

    def attach(self, driver: RunDriver) -> None:
        self.driver = driver
        if self.cancel_error is not None:
            driver.cancel(self.cancel_error)


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
        from tau.runtime import prepare_run

        if control.cancel_error is not None:
            return failure_event(control.cancel_error, job.session_id or "")
        driver = None
        try:
            model = self.model_factory(job) if self.model_factory is not None else None
            driver = await prepare_run(job, sinks=[sink], model=model, store=self.store)
            control.attach(driver)
            return await driver.run()
        except asyncio.CancelledError:
            cut = control.cancel_error or Interrupted("job task cancelled", signal_name="SIGTERM")
            sink.end(failure_event(cut, _session(driver, job)))
            raise
        except TauError as error:
            return failure_event(error, _session(driver, job))
        except Exception as error:  # a bug: the job still ends with a terminal event
            return failure_event(
                InternalError(f"internal error: {type(error).__name__}: {error}"), _session(driver, job)
            )
        finally:
            if driver is not None:
                await _close(driver)


def _session(driver: RunDriver | None, job: JobSpec) -> str:
    return driver.session_id if driver is not None else (job.session_id or "")


async def _close(driver: RunDriver) -> None:
    try:
        await driver.close()
    except Exception:  # closing must not turn a finished run into a failed one
        return


class _LogSink:
    """Event sink appending stream-json lines, flushed per line; remembers whether the terminal event was written."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self.ended = False

    def __call__(self, event: Event) -> None:
        if self.ended:
            return
        self._out.write(event_line(event))
        self._out.flush()
        if isinstance(event, RunCompleted):
            self.ended = True

    def end(self, event: RunCompleted) -> None:
        self(event)
