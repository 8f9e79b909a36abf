"""A writer process for the fault tests: opens a session in a FileSessionStore and appends steps in a loop.

usage: python writer.py STATE_DIR SESSION_ID [--steps N] [--hold SECONDS]
Prints `ready` once the session is open, then `committed <step> <snapshot-id>` after each commit (flushed), then
holds the session open for --hold seconds. On SessionLockedError it prints `locked <pid>` and exits 1.

usage: python writer.py --fork-server
Imports once, then for each stdin line `STATE_DIR SESSION_ID OUT_FILE` forks a writer (stdout to OUT_FILE) and prints
its pid: the kill -9 test starts 30 writers without paying 30 interpreter start-ups.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from session_helpers import CONFIG, step_messages

from tau.sessions import FileSessionStore, SessionLockedError, SessionNotFoundError, StepRecord


async def main(state: Path, session_id: str, steps: int, hold: float) -> int:
    store = FileSessionStore(state)
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
    print("ready", flush=True)
    for n in range(done + 1, done + 1 + steps):
        snapshot = await store.commit(session_id, StepRecord(step=n, messages=step_messages(n, 3000)))
        print(f"committed {n} {snapshot}", flush=True)
    time.sleep(hold)
    await store.close(session_id)
    return 0


def fork_server() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    for line in sys.stdin:
        state, session_id, out_file = line.split()
        pid = os.fork()
        if pid == 0:
            fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            code = asyncio.run(main(Path(state), session_id, 1_000_000, 0.0))
            os._exit(code)
        print(pid, flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--fork-server"]:
        fork_server()
        sys.exit(0)
    parser = argparse.ArgumentParser()
    parser.add_argument("state", type=Path)
    parser.add_argument("session")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--hold", type=float, default=0.0)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.state, args.session, args.steps, args.hold)))
