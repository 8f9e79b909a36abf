"""tau.mcp.warm_pool, driven directly with real processes (`cat` stands in for a stdio server: it echoes what it
is sent, so a test can see which process answers): a crashed pooled process is replaced, an idle one expires, a dirty
or unreleased one is killed, and another definition never gets it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tau.mcp.warm_pool import McpPool


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pool() -> Iterator[McpPool]:
    lines: list[str] = []
    made = McpPool(lines.append, idle_s=60, clock=Clock())
    yield made
    made.close()


def _definition(tmp_path: Path, **env: str) -> dict[str, object]:
    return {"command": "cat", "args": [], "env": {"PATH": os.environ["PATH"], **env}, "cwd": str(tmp_path)}


def _talk(fds: list[int], text: bytes) -> bytes:
    sock = socket.socket(fileno=os.dup(fds[0]))
    try:
        sock.setblocking(True)
        sock.settimeout(60)
        sock.sendall(text)
        return sock.recv(len(text))
    finally:
        sock.close()


def _pid(pool: McpPool, number: int) -> int:
    return pool._leases[number].process.pid


def test_a_clean_release_is_reused_and_a_dead_process_replaced(pool: McpPool, tmp_path: Path) -> None:
    answer, fds = pool.lease(_definition(tmp_path), holder=1)
    assert _talk(fds, b"one\n") == b"one\n"
    first = _pid(pool, answer["lease"])
    pool.release(answer["lease"], clean=True, holder=1)
    answer, fds = pool.lease(_definition(tmp_path), holder=2)
    assert _pid(pool, answer["lease"]) == first and pool.started == 1
    pool._leases[answer["lease"]].process.kill()
    pool._leases[answer["lease"]].process.wait()
    pool.release(answer["lease"], clean=True, holder=2)  # found dead: not kept
    answer, fds = pool.lease(_definition(tmp_path), holder=3)
    assert _pid(pool, answer["lease"]) != first and pool.started == 2
    assert _talk(fds, b"two\n") == b"two\n"


def test_dirty_unreleased_and_other_definitions_get_new_processes(pool: McpPool, tmp_path: Path) -> None:
    answer, _ = pool.lease(_definition(tmp_path), holder=1)
    pool.release(answer["lease"], clean=False, holder=1)
    answer, _ = pool.lease(_definition(tmp_path), holder=2)
    pool.run_ended(2)  # ended holding it
    answer, _ = pool.lease(_definition(tmp_path), holder=3)
    pool.release(answer["lease"], clean=True, holder=3)
    pool.lease(_definition(tmp_path, OTHER="1"), holder=4)  # another environment: another process
    assert pool.started == 4


def test_an_idle_process_expires(pool: McpPool, tmp_path: Path) -> None:
    answer, _ = pool.lease(_definition(tmp_path), holder=1)
    process = pool._leases[answer["lease"]].process
    pool.release(answer["lease"], clean=True, holder=1)
    assert pool.next_timeout() == 60
    pool.clock.now += 61  # type: ignore[attr-defined]
    pool.expire()
    assert process.poll() is not None and pool.next_timeout() is None


def test_a_malformed_definition_is_refused(pool: McpPool) -> None:
    assert pool.lease({"command": "", "args": [], "env": {}, "cwd": "/"}, holder=1) == (
        {"refused": "malformed definition"},
        [],
    )
    assert pool.lease(["cat"], holder=1)[0] == {"refused": "malformed definition"}
