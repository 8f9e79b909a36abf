#!/usr/bin/env bash
# What the session viewer's tests and the terminal-progress tests need on this machine (STACK.md "A real browser for
# the viewer"): Debian's chromium (Playwright drives it as /usr/bin/chromium; no browser is ever downloaded), fonts
# for its screenshots, and tmux (a real terminal for `tau run`'s status line). Idempotent: installs only what is
# missing. The Playwright Python package comes with the dev dependencies (scripts/bootstrap).
set -euo pipefail

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || missing+=(fonts-dejavu-core)
[[ -d /usr/share/fonts/truetype/liberation ]] || missing+=(fonts-liberation)
if ((${#missing[@]})); then
    echo "install-browser: installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null | head -1  # the wrapper script may print a harmless warning on stderr
tmux -V
