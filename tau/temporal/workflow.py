"""`RunWorkflow` (workflow type `tau.run`): one tau run as a Temporal workflow. Deterministic code only: it imports
temporalio, the standard library and `tau.temporal.wire`, reads no clock and does no I/O.

The workflow executes one activity (`tau.execute_run`, `activity.py`) that runs the whole run with tau's own driver
in a worker, and is the run's mailbox in between:
- signal `events` (from the activity): batches of protocol events, appended in order with `seq` stamped here; a batch
  from an attempt older than the newest one seen is dropped (a worker that lost its activity cannot write anymore),
  and so is everything after the terminal event `run.completed` (`Progress.finished`: a later attempt only returns;
  an activity lost after it does not fail the run);
- signal `control` (from front ends): cancel / inject, kept in order; the activity long-polls them with the update
  `controls(after)`; a cancel that arrives before any attempt ran is still seen by the first one;
- signal `base` (from the first attempt): the session's history length before the run touched it;
- update `events(after)`: long-poll of front ends: returns once there are events after `after` or the run ended
  (query `page(after)` answers the same without waiting, also after the workflow closed);
- query `progress`: what a retrying attempt needs to continue without repeating events, and how many controls the
  activity has applied (`taken`: a front end that must know an injection arrived asks it).
The activity retries (bounded: `RunInput.max_attempts`, heartbeats) on a lost worker; start-up failures are final.
Locality (locality.py): when a locality worker claims the run (the activity answers its own queue), the attempts run
as `tau.execute_local` on that queue, one at a time, numbered here; a lost one (schedule-to-start or heartbeat
timeout) is placed again with `tau.place` on the shared queue, at most `max_attempts` attempts in all.
The workflow's result is the `Failure` or None (the terminal event is the last of the events).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from tau.temporal.locality import LOCAL_ACTIVITY, MIN_SCHEDULE_TO_START, PLACE_ACTIVITY, Placement
    from tau.temporal.wire import (
        ACTIVITY,
        START_FAILURES,
        TERMINAL,
        WORKFLOW,
        Control,
        EventBatch,
        Failure,
        Page,
        Progress,
        RunInput,
    )


@workflow.defn(name=WORKFLOW)
class RunWorkflow:
    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []
        self.controls: list[Control] = []
        self.attempt = 0
        self.base: int | None = None
        self.taken = 0  # controls the activity has applied (it asks for the ones after them)
        self.done = False
        self.finished = False  # the run's terminal event was delivered (a later attempt only returns)
        self.failure: Failure | None = None

    @workflow.run
    async def run(self, run: RunInput) -> Failure | None:
        try:
            queue = await workflow.execute_activity(
                ACTIVITY,
                run,
                start_to_close_timeout=timedelta(seconds=run.start_to_close_seconds),
                heartbeat_timeout=timedelta(seconds=run.heartbeat_seconds),
                retry_policy=_policy(max(1, run.max_attempts)),
            )
            if isinstance(queue, str) and queue:  # a locality worker claimed the run
                await self._run_local(run, queue)
        except ActivityError as error:
            self.failure = None if self.finished else _failure_of(error)  # a run that ended lost only its return
        self.done = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.failure

    async def _run_local(self, run: RunInput, queue: str) -> None:
        """Attempts on the claiming worker's own queue; a lost attempt is placed again on the shared queue (any
        live locality worker claims it and restores the workspace there). Raises the last attempt's error."""
        attempts = max(1, run.max_attempts)
        attempt = 1
        while True:
            try:
                await workflow.execute_activity(
                    LOCAL_ACTIVITY,
                    args=[run, Placement(queue, attempt)],
                    task_queue=queue,
                    schedule_to_start_timeout=timedelta(seconds=max(MIN_SCHEDULE_TO_START, run.heartbeat_seconds)),
                    start_to_close_timeout=timedelta(seconds=run.start_to_close_seconds),
                    heartbeat_timeout=timedelta(seconds=run.heartbeat_seconds),
                    retry_policy=RetryPolicy(maximum_attempts=1),
                )
                return
            except ActivityError as error:
                if attempt >= attempts or not _retryable(error):
                    raise
            attempt += 1
            await workflow.sleep(timedelta(seconds=1))
            placed = await workflow.execute_activity(
                PLACE_ACTIVITY,
                start_to_close_timeout=timedelta(seconds=max(MIN_SCHEDULE_TO_START, run.heartbeat_seconds)),
                retry_policy=_policy(0),
            )
            queue = str(placed or queue)

    @workflow.signal(name="events")
    def add_events(self, batch: EventBatch) -> None:
        if batch.attempt < self.attempt or self.finished:
            return
        self.attempt = batch.attempt
        for event in batch.events:
            event["seq"] = len(self.events)
            self.events.append(event)
            if event.get("type") == TERMINAL:  # nothing follows a terminal event
                self.finished = True
                return

    @workflow.signal(name="control")
    def add_control(self, control: Control) -> None:
        if not self.done:
            self.controls.append(control)

    @workflow.signal(name="base")
    def set_base(self, base: int) -> None:
        if self.base is None:
            self.base = base

    @workflow.update(name="events")
    async def follow(self, after: int) -> Page:
        await workflow.wait_condition(lambda: len(self.events) > after or self.done)
        return self.page(after)

    @workflow.query(name="page")
    def page(self, after: int) -> Page:
        return Page(self.events[max(0, after) :], self.done, self.failure)

    @workflow.update(name="controls")
    async def next_controls(self, after: int) -> list[Control]:
        self.taken = max(self.taken, after)
        await workflow.wait_condition(lambda: len(self.controls) > after or self.done)
        return self.controls[after:]

    @workflow.query(name="progress")
    def progress(self) -> Progress:
        cancel = next((control for control in self.controls if control.kind == "cancel"), None)
        return Progress(len(self.events), self.base, self.attempt, cancel, self.taken, self.finished)


def _policy(attempts: int) -> RetryPolicy:
    """Bounded retries with backoff (0: unbounded, for the placement of a lost run's next attempt)."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=max(0, attempts),
        non_retryable_error_types=list(START_FAILURES),
    )


def _retryable(error: ActivityError) -> bool:
    """A lost attempt (a timeout: the worker died) or a retryable failure (a session still locked)."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return not cause.non_retryable and cause.type not in START_FAILURES
    return True


def _failure_of(error: ActivityError) -> Failure:
    """A start-up failure as the activity raised it (type, message, exit code, reason), else a lost run."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type:
        details = list(cause.details)
        exit_code = int(details[0]) if details and isinstance(details[0], int) else 1
        reason = str(details[1]) if len(details) > 1 else "error"
        return Failure(cause.type, cause.message, exit_code, reason)
    detail = str(cause) if cause is not None else str(error)
    return Failure("RunError", f"the run was lost with its worker ({detail})", 1, "error")
