#!/usr/bin/env bash
# Install the observability partners tau's telemetry tests talk to: Debian's `prometheus` (the server that scrapes
# `tau serve`'s /metrics in tests/telemetry). The OTLP receiver of those tests is Python (opentelemetry-proto, a dev
# dependency); nothing else is needed.
# Idempotent: installs only when `prometheus` is missing. The tests never use a system service: each starts a private
# server on a free loopback port with a temporary config and data directory.
set -euo pipefail

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

if command -v prometheus >/dev/null 2>&1; then
    echo "install-observability: prometheus already installed ($(prometheus --version 2>&1 | head -n 1))"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-observability: apt-get not found: install Prometheus >= 2.42 by hand" >&2
    exit 1
fi
echo "install-observability: installing prometheus"
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
echo "install-observability: $(prometheus --version 2>&1 | head -n 1)"
