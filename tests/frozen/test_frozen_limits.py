"""The frozen binary's start-up counts against `--timeout`, and a closed stdout ends it quietly (issue #13).

In the one-file binary the clock starts at the launcher (the pid the user holds), before the payload is unpacked, so
these are the cases where "counted from launch" differs most from "counted from the agent loop":

- a SessionStart hook or an MCP server that takes longer than the limit ends the run `timeout` (exit 124) before any
  model request — the fault server's request log stays empty — and the slow start-up work is cut off;
- `tau schema events` and `tau run -o stream-json` into a pipe whose reader is gone: exit 141, nothing on stderr,
  the run still stored, and the unpack folder removed (the exit is an exit, not a signal death: exit handlers run).

No assertion measures time: start-up is made longer than the limit by a sleep that would leave a marker file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))

from provider_faults import FaultServer, Text, serve

pytestmark = pytest.mark.frozen


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with serve() as server:
        yield server


def _running(needle: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if f"\0{needle}\0".encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _gone(needle: str, bound: float = 10.0) -> bool:
    deadline = time.monotonic() + bound
    while _running(needle):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _sleeper(tag: str, then: str) -> str:
    return f"perl -e 'sleep 30' {tag} && touch {then}"


def _tag(name: str) -> str:
    return f"tau-frozen-limits-{name}-{os.getpid()}-{time.monotonic_ns()}"


def _run(
    tau_binary: Path, env: dict[str, str], cwd: Path, *args: str, stdout: int = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tau_binary), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )


def _model(faults: FaultServer, key: str) -> list[str]:
    tag = faults.script(key, Text("never asked"))
    return ["-p", f"{tag} go", "--model", "openai-chat:m", "--base-url", faults.base_url]


def test_a_start_up_hook_longer_than_the_timeout(
    tau_binary: Path, hermetic_env: dict[str, str], tmp_path: Path, faults: FaultServer
) -> None:
    work = tmp_path / "work"
    (work / ".tau").mkdir(parents=True)
    tag = _tag("hook")
    hook = {"hooks": {"SessionStart": [{"hooks": [{"command": _sleeper(tag, "hook-finished"), "timeout": 600}]}]}}
    (work / ".tau" / "settings.json").write_text(json.dumps(hook))
    args = [*_model(faults, "frozen-hook"), "--trust-workspace", "--timeout", "5", "-o", "stream-json"]
    result = _run(tau_binary, hermetic_env, work, "run", *args)
    assert result.returncode == 124, result
    assert faults.bodies("frozen-hook") == []
    assert not (work / "hook-finished").exists()
    assert _gone(tag), "the SessionStart hook outlived the run"
    if result.stdout:
        last = json.loads(result.stdout.splitlines()[-1])
        assert (last["terminal_reason"], last["error"], last["usage"]["requests"]) == (
            "timeout",
            "run exceeded --timeout 5s",
            0,
        )
        assert result.stderr == ""
    else:  # 5 s went by before the session began (a loaded machine): ended while starting
        assert result.stderr.splitlines() == ["tau: run exceeded --timeout 5s (while starting)"]


def test_an_mcp_server_slower_to_start_than_the_timeout(
    tau_binary: Path, hermetic_env: dict[str, str], tmp_path: Path, faults: FaultServer
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    tag = _tag("mcp")
    config = json.dumps({"mcpServers": {"slow": {"command": "sh", "args": ["-c", _sleeper(tag, "mcp-started")]}}})
    args = [*_model(faults, "frozen-mcp"), "--mcp-config", config, "--timeout", "3", "-o", "stream-json"]
    result = _run(tau_binary, hermetic_env, work, "run", *args)
    assert result.returncode == 124, result
    assert (result.stdout, result.stderr.splitlines()) == ("", ["tau: run exceeded --timeout 3s (while starting)"])
    assert faults.bodies("frozen-mcp") == []
    assert not (work / "mcp-started").exists()
    assert _gone(tag), "the MCP server outlived the run"


def _unpack_dirs(tmp: Path) -> list[str]:
    return sorted(name for name in os.listdir(tmp) if name.startswith("_MEI"))


def test_a_closed_stdout_ends_the_binary_quietly(
    tau_binary: Path, hermetic_env: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**hermetic_env, "TMPDIR": str(tmp)}
    state = tmp_path / "state"
    for args in (("schema", "events"), ("run", "-p", "hello", "--model", "test:m", "-o", "stream-json")):
        process = subprocess.Popen(
            [str(tau_binary), *args, *(("--state-dir", str(state)) if args[0] == "run" else ())],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        stderr = process.stderr.read()
        process.wait(120)
        assert (process.returncode, stderr.decode()) == (141, ""), args
    assert _unpack_dirs(tmp) == []
    listing = _run(tau_binary, env, work, "sessions", "ls", "--json", "--state-dir", str(state))
    assert listing.returncode == 0, listing
    assert [json.loads(line)["status"] for line in listing.stdout.splitlines()] == ["completed"]
