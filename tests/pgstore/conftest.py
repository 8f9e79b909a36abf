"""A throwaway PostgreSQL cluster for the Postgres session store's tests: real Debian binaries, no mocks.

Session-scoped: `initdb` + `pg_ctl start` run as the `postgres` user (they refuse root) in a temporary directory
outside /root, listening on a free loopback port with its socket in the same directory; `fsync=off` (nothing here
must survive a machine crash). Each test gets a fresh database (`CREATE DATABASE ... TEMPLATE tau_template`) and its
URL (`pg_url`). The cluster is stopped and removed at the end. Skipped when PostgreSQL is not installed
(`scripts/install-postgres.sh` installs it; CI runs it).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Cluster:
    directory: str
    port: int

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_postgres(*argv: str) -> None:
    command = list(argv) if os.getuid() != 0 else ["runuser", "-u", "postgres", "--", *argv]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL is not installed (scripts/install-postgres.sh)")
    base = tempfile.mkdtemp(prefix="tau-pg-", dir="/tmp")
    data = os.path.join(base, "data")
    if os.getuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
    port = _free_port()
    try:
        _as_postgres(initdb, "-N", "-D", data, "-U", "postgres", "--auth=trust")
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {base} -c fsync=off -c max_connections=200"
        _as_postgres(pg_ctl, "-w", "-D", data, "-l", os.path.join(base, "log"), "start", "-o", options)
        cluster = Cluster(base, port)
        cluster.admin("CREATE DATABASE tau_template")
        yield cluster
    finally:
        if os.path.isdir(data):
            subprocess.run(
                ["runuser", "-u", "postgres", "--", pg_ctl, "-w", "-D", data, "-m", "immediate", "stop"]
                if os.getuid() == 0
                else [pg_ctl, "-w", "-D", data, "-m", "immediate", "stop"],
                check=False,
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(base, ignore_errors=True)


_numbers = itertools.count(1)


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """The URL of a fresh, empty database of the session's cluster."""
    name = f"tau_test_{os.getpid()}_{next(_numbers)}"
    pg_cluster.admin(f"CREATE DATABASE {name} TEMPLATE tau_template")
    yield pg_cluster.url(name)
    pg_cluster.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
