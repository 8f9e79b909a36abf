"""The sandbox through real `tau run` subprocesses: preflight (exit 3 where no sandbox is possible, the explicit
`full` opt-out), and a replayed model whose bash calls try to write under `--sandbox-policy read-only` while the
permission layer lets everything through (`bypassPermissions`): only the kernel stops them."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import pytest
from host_sandbox_helpers import Factory, bash, load_e2e, py

from tau.environment import HostBackend
from tau.environment.bwrap import ProbeReport, find_launcher
from tau.environment.hostsandbox import HostSandbox, in_container
from tau.environment.policy import SandboxConfig

pytestmark = pytest.mark.anyio


def inner_bwrap_fails() -> bool:
    launcher = find_launcher().launcher
    return launcher is not None and launcher.nested_userns_off


PROBE = (
    "from tau.environment.bwrap import find_launcher; r = find_launcher(); print(r.launcher is None); print(r.cause)"
)


async def test_inside_a_sandbox_no_sandbox_is_possible(ws: Path, make_backend: Factory) -> None:
    """The realistic "namespaces refused" machine: tau itself running inside the sandbox (no nested namespaces)."""
    if not inner_bwrap_fails():
        pytest.skip("nested user namespaces stay enabled here")
    result = await make_backend(ws, "workspace-write").run(py(PROBE), shell=True, timeout=60)
    lines = result.stdout.splitlines()
    assert lines[0] == "True", result
    assert "bwrap" in lines[1]


def tau_inside(box: Any, *args: str) -> str:
    e2e = load_e2e()
    env = " ".join(f"{key}={shlex.quote(value)}" for key, value in box.env.items())
    return f"cd {shlex.quote(str(box.work))} && env -i {env} {shlex.join(e2e.tau_command(*args))}"


def _where() -> str:
    """The container hint the line ends with when tests run in a container (CI's machine is one)."""
    if not in_container():
        return ""
    return (
        " (in a container: run it with `--security-opt seccomp=unconfined --security-opt systempaths=unconfined` "
        "so tau can build its sandbox, or let the container be the wall with TAU_SANDBOX_POLICY=full)"
    )


async def test_tau_run_refuses_to_start_without_a_sandbox(base: Path, make_backend: Factory) -> None:
    if not inner_bwrap_fails():
        pytest.skip("nested user namespaces stay enabled here")
    box = load_e2e().Sandbox(base / "box")
    outer = make_backend(box.root, "workspace-write")
    refused = await outer.run(
        bash(tau_inside(box, "run", "-p", "hi", "--model", "test:hello")), shell=True, timeout=120
    )
    assert refused.exit_code == 3, refused
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith("tau: host sandbox unavailable: "), refused
    assert line.endswith("or opt out of the sandbox explicitly with --sandbox-policy full" + _where()), refused
    opted_out = await outer.run(
        bash(tau_inside(box, "run", "-p", "hi", "--model", "test:hello", "--sandbox-policy", "full")),
        shell=True,
        timeout=120,
    )
    assert opted_out.exit_code == 0, opted_out


async def test_without_a_launcher_commands_are_refused_unless_full(ws: Path) -> None:
    report = ProbeReport(None, ("bwrap: setting up uid map: Permission denied",))
    strict = HostBackend(ws, sandbox=SandboxConfig(policy="workspace-write"))
    strict._jail = HostSandbox(SandboxConfig(policy="workspace-write"), report=report)
    refused = await strict.run(bash("echo ran > ran"), shell=True, timeout=30)
    assert refused.exit_code == 126
    assert refused.stderr == (
        "tau sandbox: host sandbox unavailable: bwrap: setting up uid map: Permission denied; run `tau sandbox check` "
        f"for details, or opt out of the sandbox explicitly with --sandbox-policy full{_where()}\n"
    )
    assert not (ws / "ran").exists()
    full = HostBackend(ws, sandbox=SandboxConfig(policy="full"))
    full._jail = HostSandbox(SandboxConfig(policy="full"), report=report)
    ran = await full.run(bash(f"echo $PPID {os.getpid()} > ran"), shell=True, timeout=30)
    assert ran.exit_code == 0
    assert (ws / "ran").exists()


WRITES = [  # deterministic output only: a replay compares tool results (sed -i names a random temp file)
    "sort -o data.txt data.txt",
    "echo pwned >& data.txt",
    "python3 -c \"open('data.txt', 'w').write('pwned')\"",
    "touch /etc/tau-outside",
    "mkdir newdir",
    "ln data.txt hard",
    "chmod 600 data.txt",
]


def test_a_replayed_model_cannot_write_under_read_only(tmp_path: Path) -> None:
    e2e = load_e2e()
    from tau.testing import calls, reply

    box = e2e.Sandbox(tmp_path / "box")
    box.write("data.txt", "alpha\n")
    args = ["-p", "Change data.txt.", "--permission-mode", "bypassPermissions", "--sandbox-policy", "read-only"]
    steps = [calls(*(("bash", {"command": command}) for command in WRITES)), reply("Tried.")]
    cassette = tmp_path / "writes.cassette.json"
    e2e.record_cassette(box, args, steps, cassette)
    box.write("data.txt", "alpha\n")
    before = sorted(os.listdir(box.work)), sorted(os.listdir(box.root))
    result = e2e.run_tau("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json", sandbox=box)
    assert result.returncode == 0, result
    outputs = [line["output"] for line in e2e.by_type(result.lines, "tool.completed")]
    assert len(outputs) == len(WRITES), outputs
    for command, output in zip(WRITES, outputs, strict=True):
        assert "Read-only file system" in json.dumps(output), (command, output)
    assert (box.work / "data.txt").read_text() == "alpha\n"
    assert (sorted(os.listdir(box.work)), sorted(os.listdir(box.root))) == before


def test_sandbox_check_reports_this_machine(tmp_path: Path) -> None:
    e2e = load_e2e()
    box = e2e.Sandbox(tmp_path / "box")
    result = e2e.run_tau("sandbox", "check", "--json", sandbox=box)
    assert result.returncode == 0, result
    report = json.loads(result.stdout)
    launcher = find_launcher().launcher
    assert launcher is not None
    assert report["sandbox_possible"] is True
    assert (report["bwrap"]["path"], report["bwrap"]["version"]) == (launcher.path, launcher.version)
    assert report["seccomp"]["active"] is True
    assert report["network_namespace"]["available"] is True
    assert report["default_policy"]["policy"] == "workspace-write"
    assert isinstance(report["landlock"]["abi"], int | None)
    text = e2e.run_tau("sandbox", "check", sandbox=box)
    assert text.returncode == 0
    assert text.stdout.splitlines()[-1] == "sandboxed runs:     possible"


async def test_sandbox_check_inside_a_sandbox_exits_3(base: Path, make_backend: Factory) -> None:
    if not inner_bwrap_fails():
        pytest.skip("nested user namespaces stay enabled here")
    box = load_e2e().Sandbox(base / "box")
    result = await make_backend(box.root, "workspace-write").run(
        bash(tau_inside(box, "sandbox", "check")), shell=True, timeout=120
    )
    assert result.exit_code == 3, result
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("sandboxed runs:")] == [
        "sandboxed runs:     NOT possible: `tau run` stops with exit 3 unless --sandbox-policy full"
    ], result
    assert any(line.startswith("in a container:     ") for line in lines) == in_container(), result
    assert result.stdout.splitlines()[0].startswith("bwrap:              none working ("), result
