"""Step durability cost: what committing every finished tool call costs (tau.runtime.results).

A scripted run of `steps` steps, each one model response with `calls` parallel `read` calls on a small file, the last
answering with text, through tau's runtime on the on-disk store (`FileSessionStore`, fsync on: what `tau run` does)
and on the in-memory store (the loop without I/O). Reported per step: the store commits (counted by a subclass of
the store, the only change to it) and the wall time, the median of `repeats` runs. A step commits its response once
it arrives and its finished calls at once (calls finishing while a commit is written go together in the next one:
between 1 + 1 and 1 + calls commits); before that change a step committed once.

Run it against another checkout to compare (`PYTHONPATH=/path/to/old/checkout python bench/step_durability.py`):
it uses only `prepare_run` and the stores' `commit`, which both have.

Prints one JSON object. `--quick` (CI): 20 steps, 1 and 4 calls, 2 repeats.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from tau.config.spec import EnvironmentSpec, JobSpec, LimitsSpec, ModelSpec, PermissionsSpec
from tau.runtime import prepare_run
from tau.sessions import FileSessionStore, InMemorySessionStore, SessionStore, StepRecord
from tau.testing import Turn, calls, reply, scripted_model


class CountingFileStore(FileSessionStore):
    commits = 0

    async def commit(self, session_id: str, record: StepRecord) -> str:
        self.commits += 1
        return await super().commit(session_id, record)


class CountingMemoryStore(InMemorySessionStore):
    commits = 0

    async def commit(self, session_id: str, record: StepRecord) -> str:
        self.commits += 1
        return await super().commit(session_id, record)


def _script(steps: int, width: int) -> list[Turn]:
    step = calls(*[("read", {"file_path": "data.txt"}) for _ in range(width)])
    return [step for _ in range(steps - 1)] + [reply("done")]


async def _run(workspace: str, steps: int, width: int, store: SessionStore) -> float:
    model, _ = scripted_model(_script(steps, width))
    job = JobSpec(
        source="<bench>",
        prompt="go",
        model=ModelSpec(provider="test", name="scripted"),
        environment=EnvironmentSpec(workspace=workspace),
        permissions=PermissionsSpec(mode="acceptEdits"),
        limits=LimitsSpec(max_turns=None),
    )
    driver = await prepare_run(job, model=model, store=store)
    gc.collect()
    started = time.perf_counter()
    result = await driver.run()
    elapsed = time.perf_counter() - started
    await driver.close()
    if result.status != "completed":
        raise SystemExit(f"tau run failed: {result.error}")
    return elapsed


async def _measure(steps: int, widths: list[int], repeats: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workspace = str(Path(tmp, "ws").resolve())
        Path(workspace).mkdir()
        Path(workspace, "data.txt").write_text("alpha\nbeta\ngamma\n")
        await _run(workspace, 3, 1, InMemorySessionStore())  # warm imports and caches
        for width in widths:
            for kind in ("file", "memory"):
                timings, commits = [], 0
                for index in range(repeats):
                    store: CountingFileStore | CountingMemoryStore
                    if kind == "file":
                        store = CountingFileStore(Path(tmp, f"state-{width}-{index}"))
                    else:
                        store = CountingMemoryStore()
                    timings.append(await _run(workspace, steps, width, store))
                    commits = store.commits
                rows.append(
                    {
                        "store": kind,
                        "calls_per_step": width,
                        "commits_per_step": round(commits / steps, 2),
                        "ms_per_step": round(statistics.median(timings) / steps * 1000, 3),
                    }
                )
    return {"benchmark": "step_durability", "steps": steps, "repeats": repeats, "cpus": os.cpu_count(), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 steps, 1 and 4 calls per step, 2 repeats (CI)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    steps, widths, repeats = (20, [1, 4], 2) if args.quick else (args.steps, args.calls, args.repeats)
    print(json.dumps(anyio.run(_measure, steps, widths, repeats)))


if __name__ == "__main__":
    main()
