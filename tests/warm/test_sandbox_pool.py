"""The warm server's sandbox container pool (issue #19 item 3): real Docker, a real `tau serve --local`, `tau run`
handed to it (`Traced.remote`), the model played by the stdlib scripted OpenAI-compatible server of tests/security
(it answers whatever the tools returned, so a run that finds junk is not a replay mismatch).

Reuse is proven by container id (the run's `session.started` event names its container) and by the server's log lines
(one per container made, reset or removed), never by time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tau_e2e import TIMEOUT, Sandbox
from warm_helpers import PYTHON_TAU, LocalServer, processes_with_cwd, run_traced, start_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "security"))

from sec_model import ScriptServer, serve

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def image() -> str:
    from tau.environment.docker import DockerEngine
    from tau.environment.sandbox import image_present, image_tag

    if not DockerEngine().ping():
        pytest.skip("no Docker daemon answers (run scripts/install-docker.sh)")
    tag = image_tag()
    if not image_present(tag):
        pytest.skip(f"the sandbox image {tag} is not built (tau sandbox build)")
    return tag


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptServer]:
    with serve() as server:
        yield server


def _env(sandbox: Sandbox, model: ScriptServer, **extra: str) -> dict[str, str]:
    return {**sandbox.env, "TAU_BASE_URL": model.base_url, **extra}


def _run(
    sandbox: Sandbox, model: ScriptServer, key: str, command: str, *, policy: str = "full", **extra: str
) -> tuple[str, str]:
    """One warm `tau run` in the docker sandbox whose model runs `command` with bash; (container id, its output).
    `policy` "full": bypassPermissions (no binds); "workspace-write": bash allowed by a rule (protected paths such
    as `.git/hooks` bound read-only, commands behind Landlock)."""
    tag = model.script(key, [[("bash", {"command": command})], "done"])
    args = ["run", "-p", f"{tag} go", "--model", "openai-chat:scripted", "--sandbox", "docker", "-o", "stream-json"]
    args += ["--permission-mode", "bypassPermissions"] if policy == "full" else ["--allow", "Bash"]
    result = run_traced(*args, env=_env(sandbox, model, **extra), cwd=sandbox.work)
    assert result.remote, result.stderr
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    started = next(event for event in events if event["type"] == "session.started")
    outputs = [str(e.get("output")) for e in events if e["type"] == "tool.completed"]
    assert len(outputs) == 1, events
    return started["environment"]["container"], outputs[0]


def _pool_lines(server: LocalServer, what: str) -> list[str]:
    return [line for line in server.lines if "pooled sandbox container" in line and what in line]


def _pooled_containers(server: LocalServer) -> list[str]:
    pid = server.banner.rsplit("(pid ", 1)[1].split(")")[0]
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=tau.pool=1", "--filter", f"label=tau.owner_pid={pid}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


@pytest.mark.parametrize("policy", ["full", "workspace-write"])
def test_a_sandboxed_jobs_second_run_reuses_the_pooled_container(
    sandbox: Sandbox, model: ScriptServer, image: str, policy: str
) -> None:
    subprocess.run(
        ["git", "init", "-q", str(sandbox.work)], check=True
    )  # `.git/hooks`: a read-only bind (workspace-write)
    with start_server(_env(sandbox, model, TAU_SANDBOX_POOL="1"), cwd=sandbox.root) as server:
        first, out = _run(sandbox, model, f"reuse-1-{policy}", "echo hi > out.txt; cat out.txt", policy=policy)
        assert "hi" in out
        second, _ = _run(sandbox, model, f"reuse-2-{policy}", "cat out.txt; touch .git/hooks/planted", policy=policy)
        assert second == first, server.lines  # the same container: not made again
        assert (sandbox.work / ".git" / "hooks" / "planted").exists() == (
            policy == "full"
        )  # its walls are the run's own
        assert len(_pool_lines(server, "created")) == 1, server.lines
        assert _pool_lines(server, "removed") == [], server.lines
        assert _pooled_containers(server) == [first[:12]]
        server.stop()
        assert _pooled_containers(server) == []  # removed when the server stops


def test_junk_left_by_a_run_does_not_reach_the_next(sandbox: Sandbox, model: ScriptServer, image: str) -> None:
    junk = (
        "nohup sleep 1000 >/dev/null 2>&1 & echo junk > /tmp/junk; echo junk > /dev/shm/junk;"
        " echo 'export LEAKED=yes' >> ~/.profile; export LEAKED=yes; echo planted"
    )
    look = "ls -A /tmp /dev/shm; ps -eo args; . ~/.profile 2>/dev/null; echo LEAKED=$LEAKED"
    with start_server(_env(sandbox, model, TAU_SANDBOX_POOL="1"), cwd=sandbox.root) as server:
        first, out = _run(sandbox, model, "junk-1", junk)
        assert "planted" in out
        second, seen = _run(sandbox, model, "junk-2", look)
        assert second != first  # the dirty container was removed, not reused
        assert "junk" not in seen and "sleep 1000" not in seen and "LEAKED=yes" not in seen, seen
        removed = _pool_lines(server, "removed")
        assert len(removed) == 1 and "dirty" in removed[0] and "sleep 1000" in removed[0], server.lines
        third, _ = _run(sandbox, model, "junk-3", "true")
        assert third == second  # a clean run's container is reused


@pytest.mark.parametrize("where", ["server", "run"])
def test_tau_sandbox_pool_0_makes_each_run_create_its_own(
    sandbox: Sandbox, model: ScriptServer, image: str, where: str
) -> None:
    server_env, run_env = ({"TAU_SANDBOX_POOL": "0"}, {}) if where == "server" else ({}, {"TAU_SANDBOX_POOL": "0"})
    with start_server(_env(sandbox, model, **server_env), cwd=sandbox.root) as server:
        first, _ = _run(sandbox, model, f"off-1-{where}", "true", **run_env)
        second, _ = _run(sandbox, model, f"off-2-{where}", "true", **run_env)
        assert first != second
        assert _pool_lines(server, "") == [], server.lines
        for container in (first, second):  # removed at the end of its run, as without a server
            assert subprocess.run(["docker", "inspect", container], capture_output=True, check=False).returncode != 0


def test_an_idle_container_is_removed_after_tau_sandbox_pool_idle(
    sandbox: Sandbox, model: ScriptServer, image: str
) -> None:
    env = _env(sandbox, model, TAU_SANDBOX_POOL="1", TAU_SANDBOX_POOL_IDLE="1")
    with start_server(env, cwd=sandbox.root) as server:
        first, _ = _run(sandbox, model, "idle", "true")
        _wait_for(lambda: any("(idle)" in line for line in _pool_lines(server, "removed")))
        assert subprocess.run(["docker", "inspect", first], capture_output=True, check=False).returncode != 0


def test_a_container_whose_run_was_killed_is_removed(sandbox: Sandbox, model: ScriptServer, image: str) -> None:
    tag = model.script("killed", [[("bash", {"command": "touch started; sleep 1000"})], "done"])
    args = ["run", "-p", f"{tag} go", "--model", "openai-chat:scripted", "--sandbox", "docker", "-o", "stream-json"]
    args += ["--permission-mode", "bypassPermissions"]
    env = _env(sandbox, model, TAU_SANDBOX_POOL="1")
    with start_server(env, cwd=sandbox.root) as server:
        client = subprocess.Popen(
            [*PYTHON_TAU, *args], cwd=sandbox.work, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert client.stdout is not None
        first = ""
        for raw in client.stdout:
            event = json.loads(raw)
            first = event["environment"]["container"] if event["type"] == "session.started" else first
            if event["type"] == "tool.started":
                break
        _wait_for((sandbox.work / "started").exists)
        runs = processes_with_cwd(sandbox.work, [part.encode() for part in (*PYTHON_TAU, "serve", "--local")])
        assert len(runs) == 1, runs  # the server's forked child that is the run
        os.kill(runs[0], signal.SIGKILL)  # no give-back: the server must not trust what it left
        client.wait(timeout=TIMEOUT)
        client.stdout.close()
        _wait_for(lambda: any("ended holding it" in line for line in _pool_lines(server, "removed")))
        second, _ = _run(sandbox, model, "after-kill", "ps -eo args")
        assert first and second != first
        assert subprocess.run(["docker", "inspect", first], capture_output=True, check=False).returncode != 0


def _wait_for(condition: Callable[[], bool]) -> None:
    """Wait for an event the test cannot be told about (a file, a log line); fails after TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "the awaited event never happened"
        time.sleep(0.05)


def test_a_run_finding_every_pooled_container_in_use_makes_its_own(
    sandbox: Sandbox, model: ScriptServer, image: str
) -> None:
    hold = "touch held; while [ ! -e release ]; do sleep 0.1; done"
    tag = model.script("holder", [[("bash", {"command": hold})], "done"])
    args = ["run", "-p", f"{tag} go", "--model", "openai-chat:scripted", "--sandbox", "docker", "-o", "stream-json"]
    args += ["--permission-mode", "bypassPermissions"]
    env = _env(sandbox, model, TAU_SANDBOX_POOL="1")
    with start_server(env, cwd=sandbox.root) as server:
        holder = subprocess.Popen(
            [*PYTHON_TAU, *args], cwd=sandbox.work, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        try:
            _wait_for((sandbox.work / "held").exists)
            pooled = _pooled_containers(server)
            assert len(pooled) == 1  # the holder's
            own, _ = _run(sandbox, model, "while-held", "true")
            assert own[:12] not in pooled  # refused by the pool: made its own, as without a server
            assert subprocess.run(["docker", "inspect", own], capture_output=True, check=False).returncode != 0
        finally:
            (sandbox.work / "release").touch()
            holder.communicate(timeout=TIMEOUT)
        assert holder.returncode == 0
        assert len(_pool_lines(server, "created")) == 1, server.lines
