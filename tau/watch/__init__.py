"""`tau watch DIR`: directory-driven jobs — drop a job file in, find its result in `done/` or `failed/`.

Modules: `layout` (the on-disk state machine: inbox -> processing/ -> done/ | failed/, each step a rename, and the
recovery of `processing/` leftovers at start), `settle` (when a dropped file is complete enough to pick up),
`runner` (one job through `tau.config.load_job` + a runtime `Start`, exactly the `tau run` path), and
`watcher` (the loop: watchfiles wake-ups, the concurrency limit, graceful stop).

Guarantees: a job is claimed by one atomic rename and committed by one more, so a restart never re-runs a finished
job; a job found half-run in `processing/` at start (the watcher was killed) is moved to `failed/` with reason
`interrupted`, never re-run (at-most-once: agent jobs have side effects). Sits beside `tau.rpc` in the layers: it
imports `tau.runtime`, `tau.config`, `tau.protocol` and `tau.errors`; only the CLI imports it. The CLI owns the event
loop and the signal handlers (`Watcher.stop`).
"""

from tau.watch.layout import JobDir, WatchLayout
from tau.watch.runner import JobRunner
from tau.watch.watcher import JobOutcome, WatchConfig, Watcher, WatchReport

__all__ = ["JobDir", "JobOutcome", "JobRunner", "WatchConfig", "WatchLayout", "WatchReport", "Watcher"]
