#!/usr/bin/env bash
# Install PostgreSQL for the Postgres session store's tests (tests/pgstore): Debian's `postgresql` (15 on bookworm).
# Idempotent: installs only when no `/usr/lib/postgresql/*/bin/initdb` exists. The tests never use the system
# service: a session-scoped fixture runs `initdb` + `pg_ctl` as the `postgres` user in a temporary directory on a free
# loopback port and removes it at the end (tests/pgstore/conftest.py).
set -euo pipefail

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "install-postgres: already installed ($(ls -d /usr/lib/postgresql/*/bin/initdb | head -n 1))"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-postgres: apt-get not found: install PostgreSQL >= 15 (initdb, pg_ctl) by hand" >&2
    exit 1
fi
echo "install-postgres: installing postgresql"
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends postgresql >/dev/null
echo "install-postgres: $(ls -d /usr/lib/postgresql/*/bin/initdb | head -n 1)"
