"""Snapshot store scaling: commit cost along one long session, resume (history load) time, bytes on disk.

One session gets 1,000 commits through `FileSessionStore` with realistic step sizes: each step adds a model response
(text plus a tool call) and a request carrying the tool's return (0.5-4 KB of file-like text).

- Commit cost at step n: the median over repeats of one commit on a fork of the session at step n (a fork shares the
  history, so the commit sees exactly an n-step session), lengths interleaved so a busy machine's varying load hits
  each alike. Budget: step 1,000 <= 1.5x step 10 (commit cost independent of session length).
- Resume: `resume()` of the 1,000-step session from a fresh store object. Budget <= 150 ms for "cached" (what a resumed
  session normally finds: `close()` packs its history); "cold" (no packed copy: walks 1,000 snapshots, then leaves a
  packed copy) is reported for the crash case.
- Bytes on disk over objects/ and refs/ against the raw bytes of the step messages (ModelMessagesTypeAdapter JSON),
  plain and zlib-compressed.

Prints JSON. `--quick` (CI, ~20 s) commits without fsync (durable=False: fsync latency is a constant per commit that
only blurs the ratio) and skips the compressed-store run; the full run fsyncs every commit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart

from tau.sessions import FileSessionStore, StepRecord
from tau.sessions.snapshot import encode_messages

_WORDS = ["the", "of", "and", "to", "in", "is", "for", "that", "with", "on", "as", "file", "path", "line", "value"]
CONFIG = {
    "prompt": "Refactor the parser and keep the tests green.\n",
    "model": {"provider": "openai", "name": "gpt-5"},
    "tools": ["read", "write", "edit", "bash", "glob", "grep"],
    "limits": {"max_turns": 2000},
}


def _text(rng: random.Random, size: int) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def _step(rng: random.Random, n: int) -> list[ModelMessage]:
    call_id = f"call_{n:05d}"
    response = ModelResponse(
        parts=[
            TextPart(_text(rng, rng.randint(80, 400))),
            ToolCallPart("read", {"file_path": f"src/module_{n % 37}.py", "offset": n % 50}, tool_call_id=call_id),
        ],
        model_name="gpt-5",
    )
    request = ModelRequest(parts=[ToolReturnPart("read", _text(rng, rng.randint(500, 4000)), tool_call_id=call_id)])
    return [response, request]


def _disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for sub in ("objects", "refs") for p in (root / sub).rglob("*") if p.is_file())


async def _run(root: Path, steps: int, *, compress: bool, durable: bool) -> dict[str, Any]:
    rng = random.Random(7)
    store = FileSessionStore(root, compress=compress, durable=durable)
    await store.begin("bench", CONFIG)
    raw = 0
    for n in range(1, steps + 1):
        messages = _step(rng, n)
        raw += len(encode_messages(messages))
        usage = {"input_tokens": 1000 + n, "output_tokens": 120, "requests": 1}
        await store.commit("bench", StepRecord(step=n, messages=messages, usage=usage))
    await store.close("bench")
    return {"raw": raw, "disk": _disk_bytes(root), "history": len(await store.history("bench"))}


async def _commit_ms(root: Path, at: tuple[int, ...], repeats: int, *, durable: bool) -> dict[int, float]:
    """Median time of one commit on a session `n` steps long, for each n: fork the long session at step n `repeats`
    times and reopen every fork first, then time one commit per fork with the lengths interleaved, so a busy
    machine's varying load hits every length alike."""
    store = FileSessionStore(root, durable=durable, history_cache=False)
    log = await store.log("bench")
    rng = random.Random(11)
    forks = [(n, f"measure-{n}-{r}") for r in range(repeats) for n in at]
    for n, session_id in forks:
        await store.fork(log[n].id, session_id)
        await store.reopen(session_id)
    samples: dict[int, list[float]] = {n: [] for n in at}
    for n, session_id in forks:
        record = StepRecord(step=n + 1, messages=_step(rng, n + 1), usage={"input_tokens": 1000})
        started = time.perf_counter()
        await store.commit(session_id, record)
        samples[n].append(time.perf_counter() - started)
    for _, session_id in forks:
        await store.close(session_id)
        await store.rm(session_id)
    return {n: round(statistics.median(values) * 1000, 3) for n, values in samples.items()}


async def _resume_ms(root: Path, *, cached: bool, repeats: int) -> float:
    samples: list[float] = []
    for _ in range(repeats):
        store = FileSessionStore(root, history_cache=cached)  # fresh object: no in-process snapshot cache
        started = time.perf_counter()
        resumed = await store.resume("bench")
        samples.append((time.perf_counter() - started) * 1000)
        await store.close("bench")
        assert len(resumed.messages) > 0
    return round(statistics.median(samples), 2)


async def main(quick: bool) -> dict[str, Any]:
    steps = 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "plain"
        plain = await _run(root, steps, compress=False, durable=not quick)
        for cache in (root / "cache").glob("history/*"):
            cache.unlink()
        cold = await _resume_ms(root, cached=False, repeats=3)  # no packed copy: walks 1,000 snapshots
        store = FileSessionStore(root)
        await store.resume("bench")
        await store.close("bench")  # leaves the packed history for the head
        cached = await _resume_ms(root, cached=True, repeats=7)
        timed = await _commit_ms(root, (10, 100, 1000), 20 if quick else 40, durable=not quick)
        commit = {f"step_{n}": ms for n, ms in timed.items()}
        result: dict[str, Any] = {
            "benchmark": "snapshot_scaling",
            "steps": steps,
            "durable_fsync": not quick,
            "commit_ms": commit,
            "commit_ratio_1000_vs_10": round(commit["step_1000"] / commit["step_10"], 3),
            "commit_budget_ratio": 1.5,
            "resume_ms": {"cold": cold, "cached": cached},
            "resume_budget_ms": 150,
            "messages_loaded": plain["history"],
            "raw_message_bytes": plain["raw"],
            "disk_bytes": plain["disk"],
            "disk_over_raw": round(plain["disk"] / plain["raw"], 3),
        }
        if not quick:
            packed = await _run(Path(tmp) / "zlib", steps, compress=True, durable=False)
            result["disk_bytes_compressed"] = packed["disk"]
            result["disk_over_raw_compressed"] = round(packed["disk"] / packed["raw"], 3)
        result["load_average_1m"] = round(os.getloadavg()[0], 2)  # this benchmark is sensitive to a busy machine
        result["within_budget"] = result["commit_ratio_1000_vs_10"] <= 1.5 and cached <= 150
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI mode: skip the compressed-store run")
    args = parser.parse_args()
    report = asyncio.run(main(args.quick))
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
