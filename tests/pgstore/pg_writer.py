"""A writer process for the Postgres lock tests: opens a session in a PostgresSessionStore and commits steps.

usage: python pg_writer.py URL SESSION_ID [--steps N] [--hold]
Prints `ready` once the session is open, `committed <step> <snapshot-id>` after each commit (flushed), then with
--hold `holding` and waits for stdin to close (a SIGKILL ends it there). On SessionLockedError it prints
`locked <pid>` and exits 1 (`refused …` when another writer began it first).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sessions"))

from session_helpers import CONFIG, step_messages

from tau.errors import ConfigError
from tau.sessions import SessionLockedError, SessionNotFoundError, StepRecord
from tau.sessions.postgres import PostgresSessionStore


async def main(url: str, session_id: str, steps: int, hold: bool) -> int:
    store = PostgresSessionStore(url)
    try:
        try:
            resumed = await store.resume(session_id)
            done = len(resumed.messages) // 2
        except SessionNotFoundError:
            await store.begin(session_id, CONFIG)
            done = 0
    except SessionLockedError as error:
        print(f"locked {error.holder_pid}", flush=True)
        return 1
    except ConfigError as error:  # began by another writer between our resume and our begin
        print(f"refused {error}", flush=True)
        return 1
    print("ready", flush=True)
    for n in range(done + 1, done + 1 + steps):
        snapshot = await store.commit(session_id, StepRecord(step=n, messages=step_messages(n)))
        print(f"committed {n} {snapshot}", flush=True)
    if hold:
        print("holding", flush=True)
        await asyncio.to_thread(sys.stdin.read)
    await store.aclose()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("session_id")
    parser.add_argument("--steps", type=int, default=0)
    parser.add_argument("--hold", action="store_true")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.url, args.session_id, args.steps, args.hold)))
