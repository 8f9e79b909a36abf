"""The usage examples in examples/deploy, exercised against the frozen binary where they can run here.

- tau-job.yml (GitHub Actions): parsed; every `run:` step except the download (`id: install-tau`, needs the network)
  is executed with bash exactly as written, in order, with the variables Actions would provide (`TAU` = the binary,
  `TAU_JOB` = the replayed hello example); the artifact's files must exist and the bundle must import elsewhere.
- crontab: the one schedule line's command, with its paths mapped into a temp dir, run by the crontab's SHELL.
- tau-serve.service: `systemd-analyze verify` (when systemd-analyze exists), then its ExecStart command line is
  started directly (paths mapped, port 0), answers a Connect call with the token, and stops cleanly on KillSignal.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from frozen_helpers import stop, systemd_service, wait_for_url

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "examples" / "deploy"
ANSWER = "data.txt has 3 lines and 20 words. I wrote a two-line summary to notes/summary.md."


# -- GitHub Actions workflow ------------------------------------------------------------------------------------------


def _workflow() -> dict[str, Any]:
    document = yaml.safe_load((DEPLOY / "tau-job.yml").read_text())
    assert isinstance(document, dict)
    return document


def test_workflow_is_well_formed() -> None:
    workflow = _workflow()
    assert True in workflow or "on" in workflow  # YAML 1.1 reads a bare `on:` key as True
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    upload = [step for step in steps if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert len(upload) == 1 and upload[0]["if"].startswith("always()")
    paths = upload[0]["with"]["path"].split()
    assert "tau-session.tar.gz" in paths
    for step in steps:
        if "run" in step:
            assert "${{" not in step["run"], f"step {step['name']!r}: keep expressions out of run scripts"


def test_workflow_run_steps_against_the_binary(
    tau_binary: Path, hermetic_env: dict[str, str], hello_dir: Path, tmp_path: Path
) -> None:
    workflow = _workflow()
    (job,) = workflow["jobs"].values()
    github_output = tmp_path / "github_output"
    summary = tmp_path / "step_summary"
    env = {
        **hermetic_env,
        **{key: str(value) for key, value in workflow["env"].items() if "${{" not in str(value)},
        "TAU": str(tau_binary),
        "TAU_JOB": "hello.md",
        "TAU_STATE_DIR": str(tmp_path / "tau-state"),
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_OUTPUT": str(github_output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_WORKSPACE": str(hello_dir),
        "CI": "true",
    }
    ran = []
    for step in job["steps"]:
        if "run" not in step or step.get("id") == "install-tau":
            continue
        step_env = {**env, **{key: "" for key, value in step.get("env", {}).items() if "${{" in str(value)}}
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],  # Actions' `shell: bash`
            cwd=hello_dir,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"step {step['name']!r} exited {result.returncode}:\n{result.stderr}"
        ran.append(step["id"])
    assert ran == ["run", "export"]
    assert "session=gha-4242-1" in github_output.read_text()
    assert "tau: completed (exit 0)" in summary.read_text()
    report = json.loads((hello_dir / "tau-result.json").read_text())
    assert (report["status"], report["result"], report["session_id"]) == ("completed", ANSWER, "gha-4242-1")

    # The artifact is a real bundle: it imports into another store.
    other = {**hermetic_env, "TAU_STATE_DIR": str(tmp_path / "elsewhere")}
    for args in (["sessions", "import", "tau-session.tar.gz"], ["sessions", "ls"]):
        result = subprocess.run(
            [str(tau_binary), *args], cwd=hello_dir, env=other, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
    assert "gha-4242-1" in result.stdout


# -- crontab ---------------------------------------------------------------------------------------------------------

_SCHEDULE = re.compile(r"^\s*(\S+\s+){5}(?P<command>.+)$")


def test_cron_line_runs_once(tau_binary: Path, hermetic_env: dict[str, str], hello_dir: Path, tmp_path: Path) -> None:
    variables: dict[str, str] = {}
    commands: list[str] = []
    for line in (DEPLOY / "crontab").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if match := re.match(r"^([A-Z_]+)=(.*)$", line):
            variables[match.group(1)] = match.group(2)
        elif match := _SCHEDULE.match(line):
            commands.append(match.group("command"))
    assert len(commands) == 1, commands
    command = commands[0]
    assert "%" not in command  # cron would turn it into a newline

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tau").symlink_to(tau_binary)
    logs = tmp_path / "log"
    logs.mkdir()
    env_file = tmp_path / "env"
    env_file.write_text("OPENAI_API_KEY=sk-not-used-by-replay\n")
    (hello_dir / "jobs").mkdir()
    shutil.copy(hello_dir / "hello.md", hello_dir / "jobs" / "nightly.md")
    (hello_dir / "jobs" / "nightly.md").write_text(
        (hello_dir / "hello.md").read_text().replace("cassette.json", "../cassette.json").replace("cwd: .", "cwd: ..")
    )
    mapped = (
        command.replace("/srv/project", str(hello_dir))
        .replace("/var/log/tau", str(logs))
        .replace("/etc/tau/env", str(env_file))
    )
    cron_env = {
        **{k: v for k, v in hermetic_env.items() if k in ("HOME", "XDG_CONFIG_HOME", "LANG")},
        **{k: v for k, v in variables.items() if k not in ("HOME", "SHELL")},
    }
    cron_env["PATH"] = f"{bin_dir}:{variables['PATH']}"
    cron_env["TAU_STATE_DIR"] = str(tmp_path / "state")
    result = subprocess.run(
        [variables.get("SHELL", "/bin/sh"), "-c", mapped],
        env=cron_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (result.stderr, (logs / "nightly.err").read_text())
    lines = (logs / "nightly.jsonl").read_text().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert (report["status"], report["exit_code"], report["result"]) == ("completed", 0, ANSWER)


# -- systemd unit ----------------------------------------------------------------------------------------------------


def _unit() -> dict[str, list[str]]:
    return systemd_service(DEPLOY / "tau-serve.service")


def test_systemd_unit_settings() -> None:
    service = _unit()
    assert service["Restart"] == ["on-failure"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert "--token-file" in shlex.split(service["ExecStart"][0])


def test_systemd_unit_verifies(tau_binary: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt systemd); the unit's ExecStart is still exercised below")
    unit = tmp_path / "tau-serve.service"
    # verify checks that ExecStart's program exists and is executable: point it at the binary under test.
    unit.write_text((DEPLOY / "tau-serve.service").read_text().replace("/usr/local/bin/tau", str(tau_binary)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    tolerated = ("Failed to resolve user", "Failed to resolve group")  # no `tau` user on this machine
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "tau-serve.service" in line and not any(text in line for text in tolerated)
    ]
    assert not problems, result.stdout + result.stderr


def test_systemd_exec_start_serves_and_stops_on_kill_signal(
    tau_binary: Path, hermetic_env: dict[str, str], tmp_path: Path
) -> None:
    service = _unit()
    token = "systemd-example-token"
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    state = tmp_path / "var-lib-tau"
    state.mkdir()
    argv = shlex.split(service["ExecStart"][0])
    assert argv[0] == "/usr/local/bin/tau"
    argv[0] = str(tau_binary)
    argv[argv.index("--token-file") + 1] = str(token_file)
    argv[argv.index("--port") + 1] = "0"  # the documented 7433 may be taken here
    env = dict(hermetic_env)
    for assignment in service.get("Environment", []):
        key, _, value = assignment.partition("=")
        env[key] = value.replace("/var/lib/tau", str(state))
    process = subprocess.Popen(
        argv,
        cwd=service["WorkingDirectory"][0].replace("/var/lib/tau", str(state)),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = wait_for_url(process)
        client = RuntimeServiceClientSync(url, timeout_ms=20_000)
        headers = {"authorization": f"Bearer {token}"}
        client.create_session(pb.CreateSessionRequest(model="test:unit", session_id="from-systemd"), headers=headers)
        listed = client.list_sessions(pb.ListSessionsRequest(), headers=headers).sessions
        assert [item.session_id for item in listed] == ["from-systemd"]
        events = list(client.run(pb.RunRequest(session_id="from-systemd", prompt="hi"), headers=headers))
        assert events[-1].final.exit_code == 0, events[-1]
        assert any((state / "state").iterdir())  # the session store is TAU_STATE_DIR from the unit's Environment=
        process.send_signal(getattr(signal, service["KillSignal"][0]))
        code = process.wait(timeout=float(service["TimeoutStopSec"][0]))
    finally:
        stop(process)
    clean = {0, *(-int(status) + 128 for status in service["SuccessExitStatus"][0].split())}  # 143 -> -15
    assert code in clean, f"exit {code} on {service['KillSignal'][0]} is not a clean stop for systemd"
