"""Peers: tau cold and warm against `claude -p --bare` and `codex exec` on the same 2-step scripted task. Prints JSON.

The task (issue #19): "Create out.txt containing hi." The model, a local scripted OpenAI/Anthropic-compatible server
(npm `@copilotkit/aimock`, the tests' partner), answers the first request of each runner with one shell call that
writes out.txt and the second (the one carrying the tool result) with a short text. Fixtures are told apart by the
model name each runner sends, so one server serves all of them. A run counts only when it exits 0 and out.txt holds
"hi"; a runner whose runs do not is reported with its error and no median.

Runners (each: one untimed warm-up, then the median of `--runs`, default 7, `--quick` 3, in a fresh temp dir):

- `tau_onefile`: dist/tau (scripts/build-binary), `--no-server`;
- `tau_onedir`: dist/tau-onedir/tau when built (`scripts/build-binary --onedir`; `--build-onedir` builds it);
- `tau_warm`: dist/tau through `dist/tau serve --local` (a server on a runtime dir of the bench's own); the client
  is still a one-file start: the bootloader unpacks libpython and the stdlib archive (the rest waits for its first
  import, and a warm client imports five small modules: docs/binary.md, "lazy unpacking");
- `tau_warm_onedir`: the same with dist/tau-onedir/tau as client and server (no unpack);
- `tau_venv_cold`, `tau_venv_warm`: the same with this checkout's venv (`python -m tau`), for reference;
- `claude_bare`: `claude -p --bare` (npm `@anthropic-ai/claude-code`), Bash allowed;
- `codex_exec`: `codex exec` (npm `@openai/codex`), a custom provider (Responses API) on the scripted server, its
  workspace-write sandbox, `--ephemeral`.

Permissions, alike in spirit: tau `--allow "Bash(echo *)" --permission-mode acceptEdits` (the redirect is an edit
inside the workspace), claude `--allowedTools Bash`, codex's default `approval: never` in exec mode.

The peers are taken from PATH, else from the bench's npm cache (`--peers-dir`, default ~/.cache/tau-bench-peers),
installed there with `npm install` when `--install-peers` is given and the registry is reachable; missing peers are
skipped (their entry says why). Budgets (ratios of medians in this run): tau cold one-file <= 1.0x claude --bare;
tau warm <= 1.0x codex exec (judged for the one-file client and, separately, the one-directory client).
`within_budget` is null for a budget whose peer did not run. The load average is reported before and after
(`settle`): on a busy machine every number is inflated; the ratios less so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _quiet as quiet
from serve_soak import _AIMOCK_LISTENING, AIMOCK_CLI, _read_line

ROOT = Path(__file__).resolve().parents[1]
ONEFILE = ROOT / "dist" / "tau"
ONEDIR = ROOT / "dist" / "tau-onedir" / "tau"
PEERS_DIR = Path.home() / ".cache" / "tau-bench-peers"
PEER_PACKAGES = {"claude": "@anthropic-ai/claude-code@2.1.328", "codex": "@openai/codex@0.169.0"}
PROMPT = "Create out.txt containing hi."
COMMAND = "echo hi > out.txt"
BUDGETS = {"tau_onefile / claude_bare": 1.0, "tau_warm / codex_exec": 1.0, "tau_warm_onedir / codex_exec": 1.0}
TIMEOUT_S = 120


def _fixtures(path: Path) -> None:
    """Per runner (by model name): the shell call first, then a text once the tool result is in."""
    calls = {
        "bench-tau": {"name": "bash", "arguments": {"command": COMMAND}},
        "bench-claude": {"name": "Bash", "arguments": {"command": COMMAND, "description": "Write out.txt"}},
        "bench-codex": {"name": "exec_command", "arguments": {"cmd": COMMAND}},
    }
    fixtures: list[dict[str, Any]] = []
    for model, call in calls.items():
        fixtures.append({"match": {"model": model, "hasToolResult": False}, "response": {"toolCalls": [call]}})
        fixtures.append({"match": {"model": model, "hasToolResult": True}, "response": {"content": "Done."}})
    fixtures.append({"match": {}, "response": {"content": "Done."}})  # side requests (titles, quotas)
    path.write_text(json.dumps({"fixtures": fixtures}))


@contextlib.contextmanager
def _aimock(root: Path) -> Iterator[str]:
    fixture = root / "fixtures.json"
    _fixtures(fixture)
    command = ["node", str(AIMOCK_CLI), "-p", "0", "-h", "127.0.0.1", "-f", str(fixture)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield _read_line(process.stdout, _AIMOCK_LISTENING, "aimock", process)
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def _base_env(root: Path) -> dict[str, str]:
    home = root / "home"
    home.mkdir(exist_ok=True)
    runtime = root / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }


def _tau_argv(exe: list[str], url: str, *, local: bool) -> tuple[list[str], dict[str, str]]:
    argv = [*exe, "run", "-p", PROMPT, "--model", "openai-chat:bench-tau", "--base-url", f"{url}/v1"]
    argv += ["--allow", "Bash(echo *)", "--permission-mode", "acceptEdits", "-q"]
    if local:
        argv.append("--no-server")
    return argv, {"OPENAI_API_KEY": "bench-key"}


def _claude_argv(exe: str, url: str) -> tuple[list[str], dict[str, str]]:
    argv = [exe, "-p", PROMPT, "--bare", "--model", "bench-claude", "--allowedTools", "Bash", "--max-turns", "4"]
    env = {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "bench-key", "DISABLE_TELEMETRY": "1"}
    env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
    return argv, env


def _codex_argv(exe: str, url: str) -> tuple[list[str], dict[str, str]]:
    provider = {
        "model_provider": "bench",
        "model_providers.bench.name": "bench",
        "model_providers.bench.base_url": f"{url}/v1",
        "model_providers.bench.env_key": "BENCH_API_KEY",
        "model_providers.bench.wire_api": "responses",
    }
    argv = [exe, "exec", "--skip-git-repo-check", "-s", "workspace-write", "--ephemeral", "-m", "bench-codex"]
    for key, value in provider.items():
        argv += ["-c", f"{key}={json.dumps(value)}"]
    argv.append(PROMPT)
    return argv, {"BENCH_API_KEY": "bench-key"}


def _once(argv: list[str], env: dict[str, str], root: Path) -> tuple[float, str | None]:
    """(wall seconds, problem or None) of one run in a fresh work dir."""
    work = Path(tempfile.mkdtemp(prefix="w-", dir=root))
    started = time.perf_counter()
    result = subprocess.run(
        argv, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT_S, check=False
    )
    elapsed = time.perf_counter() - started
    out = work / "out.txt"
    problem = None
    if result.returncode != 0 or not out.is_file() or out.read_text().strip() != "hi":
        tail = (result.stderr or result.stdout).decode(errors="replace").strip().splitlines()[-3:]
        problem = f"exit {result.returncode}, out.txt {'present' if out.is_file() else 'missing'}: {' | '.join(tail)}"
    shutil.rmtree(work, ignore_errors=True)
    return elapsed, problem


def _measure(argv: list[str], env: dict[str, str], root: Path, runs: int) -> dict[str, Any]:
    times = []
    for attempt in range(runs + 1):
        elapsed, problem = _once(argv, env, root)
        if problem is not None:
            return {"error": problem}
        if attempt:
            times.append(elapsed)
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3), "runs": runs}


@contextlib.contextmanager
def _local_server(exe: list[str], env: dict[str, str], root: Path) -> Iterator[None]:
    process = subprocess.Popen(
        [*exe, "serve", "--local"], cwd=root, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        if not banner.startswith("tau: local server on "):
            raise RuntimeError(f"tau serve --local did not start: {banner}{process.stderr.read()[-500:]}")
        threading.Thread(target=process.stderr.read, daemon=True).start()  # one line per run: keep the pipe empty
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        if process.stderr is not None:
            process.stderr.close()


def _peer(name: str, peers_dir: Path) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidate = peers_dir / "node_modules" / ".bin" / name
    return str(candidate) if candidate.exists() else None


def _install_peers(peers_dir: Path) -> str | None:
    peers_dir.mkdir(parents=True, exist_ok=True)
    command = ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(peers_dir), *PEER_PACKAGES.values()]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"npm install failed: {error}"
    return None if result.returncode == 0 else f"npm install exited {result.returncode}: {result.stderr[-300:]}"


def _tau_targets(runs: int, root: Path, url: str, env: dict[str, str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    venv = [sys.executable, "-m", "tau"]
    binaries = {"tau_onefile": [str(ONEFILE)] if ONEFILE.exists() else None}
    binaries["tau_onedir"] = [str(ONEDIR)] if ONEDIR.exists() else None
    for name, exe in binaries.items():
        if exe is None:
            results[name] = {"skipped": "not built (scripts/build-binary --both)"}
            continue
        argv, extra = _tau_argv(exe, url, local=True)
        results[name] = _measure(argv, {**env, **extra}, root, runs)
    warm = (("tau_warm", binaries["tau_onefile"]), ("tau_warm_onedir", binaries["tau_onedir"]), ("tau_venv_warm", venv))
    for name, exe in warm:  # client and server are the same build (the server refuses another)
        if exe is None:
            results[name] = {"skipped": "not built (scripts/build-binary --both)"}
            continue
        argv, extra = _tau_argv(exe, url, local=False)
        with _local_server(exe, {**env, **extra}, root):
            results[name] = _measure(argv, {**env, **extra}, root, runs)
    argv, extra = _tau_argv(venv, url, local=True)
    results["tau_venv_cold"] = _measure(argv, {**env, **extra}, root, runs)
    return results


def _peer_targets(runs: int, root: Path, url: str, env: dict[str, str], peers_dir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, exe_name, build in (("claude_bare", "claude", _claude_argv), ("codex_exec", "codex", _codex_argv)):
        exe = _peer(exe_name, peers_dir)
        if exe is None:
            results[name] = {"skipped": f"{exe_name} not installed (--install-peers, or on PATH)"}
            continue
        argv, extra = build(exe, url)
        results[name] = _measure(argv, {**env, **extra}, root, runs)
        results[name]["path"] = exe
    return results


def _ratios(results: dict[str, Any]) -> dict[str, Any]:
    ratios: dict[str, Any] = {}
    taus = [name for name in results if name.startswith("tau_")]
    peers = [name for name in results if not name.startswith("tau_")]
    for tau in taus:
        for peer in peers:
            a, b = results[tau].get("median_s"), results[peer].get("median_s")
            ratios[f"{tau} / {peer}"] = round(a / b, 2) if a and b else None
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 runs per runner instead of 7")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--peers-dir", type=Path, default=PEERS_DIR, help="npm prefix holding claude and codex")
    parser.add_argument("--install-peers", action="store_true", help="npm install the peers into --peers-dir first")
    parser.add_argument("--no-settle", action="store_true", help="do not wait for a quiet machine")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    if not AIMOCK_CLI.exists():
        raise SystemExit("peers bench: npm test partners missing: run scripts/install-test-partners.sh")
    report: dict[str, Any] = {"benchmark": "peers", "task": PROMPT, "runs": runs}
    if args.install_peers:
        report["install"] = _install_peers(args.peers_dir) or "ok"
    report["settle"] = {"skipped": True} if args.no_settle else quiet.settle()
    with tempfile.TemporaryDirectory(prefix="tau-peers-") as tmp, _aimock(Path(tmp)) as url:
        root = Path(tmp)
        env = _base_env(root)
        results = _tau_targets(runs, root, url, env)
        results.update(_peer_targets(runs, root, url, env, args.peers_dir))
    report["load_after"] = round(os.getloadavg()[0], 2)
    report["results"] = results
    report["ratios"] = _ratios(results)
    report["budgets"] = {
        name: {
            "ratio": report["ratios"].get(name),
            "max": limit,
            "within_budget": None if report["ratios"].get(name) is None else report["ratios"][name] <= limit,
        }
        for name, limit in BUDGETS.items()
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
