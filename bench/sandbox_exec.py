"""Sandbox exec: the `bash` tool's round trip (`workspace.run(cmd, shell=True, timeout=...)`) on three paths, and the
host sandbox's cost per command.

Host sandbox (`host_sandbox`, measured first, needs no daemon): `true` through `HostBackend.run` plainly and behind
bubblewrap under each policy, interleaved, median of 200 (`--quick`: 50); budget: <= 5 ms added per command. Also the
deny-mask walk on a 20,000-file tree (first walk, then the per-command re-check of an unchanged tree, and a command
with masks active) and the one-time hard-link scan of the same tree. It first waits (at most 60 s) for the load
average to drop below 1 (`settle` in the JSON).

Paths: the host backend, the docker backend through its long-lived in-container executor, and a raw per-call
`docker exec` (SDK exec create + start + inspect, what the no-python3 fallback does), each for `true` and `echo hi`,
median of 200 (`--quick`: 50). Also: container cold start (create + start + executor, to the first command's answer),
reuse of a session's running container (a new backend, to the first answer), and the executor transport (a ping over
the SDK attach socket vs a `docker exec -i` subprocess). Budgets (DESIGN.md §6): executor <= 2x host, and >= 10x
faster than per-call exec. Prints JSON; exits 0 even over budget (the `ok` fields say), 2 without a daemon or image.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import _quiet as quiet

from tau.environment import HostBackend
from tau.environment.docker import DockerBackend, DockerEngine
from tau.environment.executor_protocol import BOOTSTRAP, ExecutorChannel, executor_source
from tau.environment.masks import DenyWalk, LinkScan
from tau.environment.policy import SandboxConfig
from tau.environment.sandbox import SandboxSpec, build_image, image_tag, remove

COMMANDS = ("true", "echo hi")


async def _median_ms(call: Callable[[], Awaitable[Any]], n: int) -> float:
    await call()  # warm
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return round(statistics.median(samples) * 1000, 3)


async def _round_trips(host: HostBackend, docker: DockerBackend, engine: DockerEngine, n: int) -> dict[str, Any]:
    live = await docker._ready()
    out: dict[str, Any] = {}
    for command in COMMANDS:

        async def on_host(command: str = command) -> None:
            await host.run(command, shell=True, timeout=60)

        async def on_docker(command: str = command) -> None:
            await docker.run(command, shell=True, timeout=60)

        async def per_call(command: str = command) -> None:
            argv = ["/bin/sh", "-c", command]
            await asyncio.to_thread(engine.exec_demux, live.id, argv, user=live.user, workdir=live.workdir)

        out[command] = {
            "host_ms": await _median_ms(on_host, n),
            "docker_executor_ms": await _median_ms(on_docker, n),
            "docker_exec_per_call_ms": await _median_ms(per_call, max(10, n // 2) if n < 200 else n),
        }
    return out


def _transports(engine: DockerEngine, container: str, user: str, n: int) -> dict[str, float]:
    """Median ping round trip of one executor over the SDK attach socket and over a `docker exec -i` subprocess."""
    source = executor_source()
    _, sock, raw = engine.open_exec(container, ["python3", "-c", BOOTSTRAP], user=user)
    channel = ExecutorChannel(raw)
    channel.send_source(source)

    def socket_ping() -> None:
        channel.submit({"op": "ping"})[1].result(timeout=10)

    cli = subprocess.Popen(
        ["docker", "exec", "-i", "-u", user, container, "python3", "-c", BOOTSTRAP],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert cli.stdin is not None and cli.stdout is not None
    cli.stdin.write((json.dumps(source) + "\n").encode())

    def cli_ping() -> None:
        assert cli.stdin is not None and cli.stdout is not None
        cli.stdin.write(b'{"id": 1, "op": "ping"}\n')
        cli.stdin.flush()
        cli.stdout.readline()

    result = {}
    for name, ping in (("attach_socket_ping_ms", socket_ping), ("exec_i_subprocess_ping_ms", cli_ping)):
        ping()
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            ping()
            samples.append(time.perf_counter() - start)
        result[name] = round(statistics.median(samples) * 1000, 3)
    channel.close()
    del sock
    cli.stdin.close()
    cli.wait(timeout=10)
    return result


async def _start_times(image: str, root: str, repeats: int) -> dict[str, float]:
    cold, reuse = [], []
    for _ in range(repeats):
        session = f"bench-{uuid.uuid4().hex[:8]}"
        start = time.perf_counter()
        first = DockerBackend(root, session=session, spec=SandboxSpec(image=image))
        await first.run(["true"])
        cold.append(time.perf_counter() - start)
        first.close()
        start = time.perf_counter()
        second = DockerBackend(root, session=session, spec=SandboxSpec(image=image))
        await second.run(["true"])
        reuse.append(time.perf_counter() - start)
        second.close()
        assert second.ref is not None
        remove(second.ref.id)
    return {
        "container_cold_start_ms": round(statistics.median(cold) * 1000, 1),
        "container_reuse_ms": round(statistics.median(reuse) * 1000, 1),
    }


def _budgets(trips: dict[str, Any]) -> dict[str, Any]:
    budgets: dict[str, Any] = {}
    for command, row in trips.items():
        vs_host = row["docker_executor_ms"] / row["host_ms"]
        speedup = row["docker_exec_per_call_ms"] / row["docker_executor_ms"]
        budgets[command] = {
            "executor_vs_host": round(vs_host, 2),
            "executor_vs_host_ok": vs_host <= 2.0,
            "per_call_vs_executor": round(speedup, 1),
            "per_call_vs_executor_ok": speedup >= 10.0,
        }
    budgets["ok"] = all(row["executor_vs_host_ok"] and row["per_call_vs_executor_ok"] for row in budgets.values())
    return budgets


HOST_BUDGET_MS = 5.0
POLICIES = ("read-only", "workspace-write", "full")


def _tree(root: str, files: int = 20_000, per_dir: int = 50) -> None:
    for index in range(files):
        directory = os.path.join(root, f"d{index // per_dir // 20}", f"e{index // per_dir}")
        os.makedirs(directory, exist_ok=True)
        name = ".env" if index % 997 == 0 else f"f{index}.txt"
        with open(os.path.join(directory, name), "w") as handle:
            handle.write("x")


def _timed_ms(call: Callable[[], Any], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return round(statistics.median(samples) * 1000, 3)


async def _host_sandbox(n: int) -> dict[str, Any]:
    """Per-command cost of the host sandbox: plain `HostBackend` vs each policy, interleaved; plus the mask walk."""
    from tau.environment.bwrap import find_launcher

    report = find_launcher()
    if report.launcher is None:
        return {"error": f"no host sandbox here: {report.cause}"}
    settled = quiet.settle()
    with tempfile.TemporaryDirectory(prefix="tau-bench-host-", dir="/var/tmp") as root:
        backends = {"plain": HostBackend(root)}
        backends |= {policy: HostBackend(root, sandbox=SandboxConfig(policy=policy)) for policy in POLICIES}
        samples: dict[str, list[float]] = {name: [] for name in backends}
        for backend in backends.values():
            await backend.run("true", shell=True, timeout=60)  # warm: probe, private dir
        for _ in range(n):
            for name, backend in backends.items():
                start = time.perf_counter()
                await backend.run("true", shell=True, timeout=60)
                samples[name].append(time.perf_counter() - start)
        medians = {name: round(statistics.median(values) * 1000, 3) for name, values in samples.items()}
        masks = await _mask_costs(root, n)
        for backend in backends.values():
            await backend.aclose()
    added = {policy: round(medians[policy] - medians["plain"], 3) for policy in POLICIES}
    return {
        "launcher": {"path": report.launcher.path, "version": report.launcher.version},
        "settle": settled,
        "command": "true",
        "samples": n,
        "median_ms": medians,
        "added_ms": added,
        "budget_added_ms": HOST_BUDGET_MS,
        "ok": all(value <= HOST_BUDGET_MS for value in added.values()),
        "masks_20k_files": masks,
    }


async def _mask_costs(root: str, n: int) -> dict[str, Any]:
    tree = os.path.join(root, "tree")
    _tree(tree)

    def deny(path: str) -> bool:
        return path.endswith("/.env")

    walk = DenyWalk((tree,), deny, None)
    start = time.perf_counter()
    found = walk.find()
    first = round((time.perf_counter() - start) * 1000, 3)
    recheck = _timed_ms(walk.find, max(10, n // 4))
    start = time.perf_counter()
    LinkScan(tree).find()
    link_scan = round((time.perf_counter() - start) * 1000, 3)
    masked = HostBackend(tree, sandbox=SandboxConfig(deny_read=deny, mask_roots=(tree,)))
    plain = HostBackend(tree, sandbox=SandboxConfig())
    await masked.run("true", shell=True, timeout=60)
    await plain.run("true", shell=True, timeout=60)
    with_masks, without = [], []
    for _ in range(max(10, n // 4)):
        for backend, into in ((masked, with_masks), (plain, without)):
            start = time.perf_counter()
            await backend.run("true", shell=True, timeout=60)
            into.append(time.perf_counter() - start)
    await masked.aclose()
    await plain.aclose()
    return {
        "files": 20_000,
        "masked_paths": len(found.read_files),
        "first_walk_ms": first,
        "recheck_unchanged_ms": recheck,
        "hard_link_scan_once_ms": link_scan,
        "command_with_masks_ms": round(statistics.median(with_masks) * 1000, 3),
        "command_without_masks_ms": round(statistics.median(without) * 1000, 3),
    }


async def main(quick: bool) -> dict[str, Any]:
    n = 50 if quick else 200
    host_sandbox = await _host_sandbox(n)
    engine = DockerEngine()
    if not engine.ping():
        print(
            json.dumps({"benchmark": "sandbox_exec", "host_sandbox": host_sandbox, "error": "no Docker daemon answers"})
        )
        sys.exit(2)
    image = image_tag()
    if (
        engine.find(image) is None
        and subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode
    ):
        image = build_image()
    with tempfile.TemporaryDirectory(prefix="tau-bench-") as root:
        os.chmod(root, 0o755)
        host = HostBackend(root)
        docker = DockerBackend(root, spec=SandboxSpec(image=image), engine=engine)
        try:
            trips = await _round_trips(host, docker, engine, n)
            live = await docker._ready()
            transports = await asyncio.to_thread(_transports, engine, live.id, live.user, n)
            starts = await _start_times(image, root, 2 if quick else 5)
        finally:
            docker.close()
            if docker.ref is not None:
                remove(docker.ref.id)
    return {
        "benchmark": "sandbox_exec",
        "host_sandbox": host_sandbox,
        "samples": n,
        "image": image,
        "round_trip": trips,
        "transport": transports,
        **starts,
        "budget": _budgets(trips),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="50 samples instead of 200")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.quick)), indent=2))
