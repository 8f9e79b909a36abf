#!/usr/bin/env bash
# Make a Docker daemon answer on this machine (STACK.md "Docker on this machine kind"): no systemd, no registry.
# Idempotent: installs docker.io + debootstrap only when missing, reuses a running daemon, removes a stale pid file,
# starts dockerd in the background and polls `docker version` (not the socket file) for a bounded time.
# Env: DOCKER_WAIT_SECONDS (default 60), DOCKERD_LOG (default /var/log/dockerd.log).
set -euo pipefail

wait_seconds=${DOCKER_WAIT_SECONDS:-60}
log=${DOCKERD_LOG:-/var/log/dockerd.log}
pidfile=/var/run/docker.pid

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)  # compose v1: the tau image's smoke test
if ((${#missing[@]})); then
    echo "install-docker: installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
        $(printf '%s\n' "${missing[@]}" | sort -u)
fi

if docker version >/dev/null 2>&1; then
    echo "install-docker: daemon already running ($(docker version --format '{{.Server.Version}}'))"
    exit 0
fi

if [[ -f $pidfile ]]; then
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [[ -n $pid ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null || true) == dockerd ]]; then
        echo "install-docker: dockerd (pid $pid) is starting; waiting for it"
    else
        echo "install-docker: removing stale $pidfile (pid ${pid:-?} is not dockerd)"
        as_root rm -f "$pidfile"
    fi
fi

if ! [[ -f $pidfile ]]; then
    echo "install-docker: starting dockerd (log: $log)"
    as_root sh -c "nohup dockerd >>'$log' 2>&1 </dev/null &"
fi

deadline=$((SECONDS + wait_seconds))
until docker version >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
        echo "install-docker: no daemon answered within ${wait_seconds}s; last log lines:" >&2
        tail -n 20 "$log" >&2 || true
        exit 1
    fi
    sleep 0.2
done
echo "install-docker: daemon up ($(docker version --format '{{.Server.Version}}'))"
