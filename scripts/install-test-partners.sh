#!/usr/bin/env bash
# Install the Node programs tau's tests talk to (tests/partners/package.json, pinned by package-lock.json).
# Idempotent: does nothing when node_modules already matches the lock file. Needs node >= 20.15 and npm.
set -euo pipefail

cd "$(dirname "$0")/../tests/partners"

if ! command -v npm >/dev/null 2>&1; then
    echo "install-test-partners: npm not found (install Node.js >= 20.15)" >&2
    exit 1
fi

marker=node_modules/.package-lock.json
have_all=true
for bin in aimock buf conformance mcp-server-everything; do
    [[ -x node_modules/.bin/$bin ]] || have_all=false
done
if [[ -f "$marker" && "$marker" -nt package-lock.json ]] && $have_all; then
    echo "install-test-partners: up to date"
    exit 0
fi

# `npm install`, not `npm ci`: the registry reachable here lacks some of @bufbuild/buf's optional per-platform
# packages at the pinned version, so the lock cannot list them and `npm ci` refuses; install still honours the lock.
npm install --no-audit --no-fund --loglevel=error
echo "install-test-partners: installed $(node -p "Object.keys(require('./package.json').dependencies).join(', ')")"
