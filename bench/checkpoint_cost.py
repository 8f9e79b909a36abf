"""Workspace checkpoint cost on a 1,000-file workspace (host backend; docker too with --docker when a daemon answers).

Measures, through `CheckpointRecorder` / `scan_tree` into a `FileSessionStore` (durable, fsynced objects):
- tree capture cold (every blob new: the first `bash` call's baseline), warm (nothing changed: one `find` listing,
  no reads), after 10 files changed (10 reads, 10 new blobs), all with one `ScanCache` as the recorder keeps it;
- the same warm capture without the listing (`walk_warm_ms`: list_dir + read + sha256 of every file, the fallback);
- one `bash` call's checkpoint overhead once warm (the after-scan; the before-scan happens only once per run);
- one `write`/`edit` capture pair (before + after of one file);
- a rewind that restores 10 files (plus its no-op check of the other 990).
Files are 200 B - 8 KB of text (a source tree: ~4 MB), older than the 2 s racy window when the first scan runs (as
a checkout is; files changed within 2 s of a scan are read again at the next one). Prints JSON; medians over
`--repeat` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic_ai.workspaces import Workspace, WorkspaceBackend

from tau.checkpoints.recorder import CheckpointRecorder, ScanCache, rewind, scan_tree
from tau.environment import HostBackend
from tau.sessions import FileSessionStore
from tau.sessions.checkpoints import store_objects


def make_tree(root: Path, files: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    total = 0
    for index in range(files):
        directory = root / f"pkg{index % 20}" / f"mod{index % 7}"
        directory.mkdir(parents=True, exist_ok=True)
        text = "".join(f"line {i} {rng.random():.12f}\n" for i in range(rng.randint(8, 300)))
        (directory / f"file{index}.py").write_text(text)
        total += len(text)
    (root / ".gitignore").write_text("__pycache__/\n*.pyc\n")
    return total


def touch(root: Path, count: int, tag: str) -> None:
    for index in range(count):
        path = root / f"pkg{index % 20}" / f"mod{index % 7}" / f"file{index}.py"
        path.write_text(path.read_text() + f"# {tag}\n")


async def timed(coro: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await coro
    return (time.perf_counter() - started) * 1000, result


async def measure(backend: WorkspaceBackend, root: Path, state: Path, repeat: int) -> dict[str, Any]:
    workspace = Workspace(backend)
    out: dict[str, list[float]] = {k: [] for k in ("cold_ms", "warm_ms", "changed10_ms", "walk_warm_ms",
                                                   "bash_overhead_ms", "write_capture_ms", "rewind10_ms")}  # fmt: skip
    for attempt in range(repeat):
        await asyncio.sleep(2.1)  # the tree is older than the racy window, as a checkout is
        store = FileSessionStore(state / f"s{attempt}")
        objects = store_objects(store)
        cache = ScanCache()
        ms, scan = await timed(scan_tree(workspace, objects, cache=cache))
        out["cold_ms"].append(ms)
        stored = {s.blob for s in scan.files.values() if s.blob}
        ms, warm = await timed(scan_tree(workspace, objects, stored=stored, cache=cache))
        assert warm.method == "find" and warm.bytes_read == 0, (warm.method, warm.bytes_read)
        out["warm_ms"].append(ms)
        ms, _ = await timed(scan_tree(workspace, objects, stored=stored, listing=False))
        out["walk_warm_ms"].append(ms)
        touch(root, 10, f"a{attempt}")
        ms, changed = await timed(scan_tree(workspace, objects, stored=stored, cache=cache))
        assert changed.reused == len(scan.files) - 10, changed.reused
        out["changed10_ms"].append(ms)
        recorder = CheckpointRecorder(objects)
        async with recorder.capturing(workspace, "bash", {"command": "true"}):
            pass  # first call: before (baseline) + after
        pin = recorder.current_checkpoint()
        touch(root, 10, f"b{attempt}")
        started = time.perf_counter()
        async with recorder.capturing(workspace, "bash", {"command": "true"}):
            pass
        out["bash_overhead_ms"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        async with recorder.capturing(workspace, "write", {"file_path": "pkg0/mod0/file0.py"}):
            pass
        out["write_capture_ms"].append((time.perf_counter() - started) * 1000)
        ms, report = await timed(rewind(objects, pin, workspace, latest=recorder.current_checkpoint()))
        assert len(report.restored) == 10, report.restored
        out["rewind10_ms"].append(ms)
    return {key: round(statistics.median(values), 1) for key, values in out.items()}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--docker", action="store_true")
    parser.add_argument("--quick", action="store_true", help="CI mode: 300 files, one repeat, host only")
    args = parser.parse_args()
    if args.quick:
        args.files, args.repeat, args.docker = 300, 1, False
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        root.mkdir()
        total = make_tree(root, args.files)
        result: dict[str, Any] = {"benchmark": "checkpoint_cost", "files": args.files, "bytes": total}
        result["host"] = await measure(HostBackend(root), root, Path(tmp) / "state-host", args.repeat)
        if args.docker:
            result["docker"] = await docker_measure(root, Path(tmp) / "state-docker", args.repeat)
    print(json.dumps(result))


async def docker_measure(root: Path, state: Path, repeat: int) -> dict[str, Any]:
    import os

    from tau.environment.docker import DockerBackend, DockerEngine
    from tau.environment.sandbox import SandboxSpec, build_image

    engine = DockerEngine()
    if not engine.ping():
        return {"skipped": "no Docker daemon answers"}
    if os.geteuid() == 0:
        for path in (root, *root.rglob("*")):
            os.chown(path, 1000, 1000)
    backend = DockerBackend(root, spec=SandboxSpec(image=build_image()), engine=engine)
    try:
        return await measure(backend, root, state, repeat)
    finally:
        backend.close()
        if backend.ref is not None:
            engine.remove(backend.ref.id)


if __name__ == "__main__":
    asyncio.run(main())
