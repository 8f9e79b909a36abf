"""A real `tau serve` subprocess for the acceptance tests (plain gRPC, kill semantics), and what they share:

- `ServeProcess.start(tmp, ...)`: `python -m tau serve --port 0 --token-file ... --state-dir ...` in its own workspace
  and HOME; the URL comes from its "listening on" line; `stop()` terminates it (SIGTERM, then SIGKILL);
- `record_sleep_cassette(...)`: a cassette (`replay:` provider) whose one step calls `bash` with `SLEEP`, recorded
  in-process through the same job an RPC session of these tests resolves to (so replay's fingerprint matches);
- `processes_with(argv)`: pids whose command line is exactly `argv` (to find the sleep a run started).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tau.rpc._gen import runtime_pb2 as pb

TOKEN = "grpc-acceptance-token"
SLEEP = ["sleep", "61.75"]  # a duration nothing else on the machine uses
BOUND = 30.0  # the longest any wait here may take
_LISTENING = re.compile(r"listening on (\S+)")


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    url: str
    workspace: Path
    home: Path
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @classmethod
    def start(cls, root: Path, *extra: str) -> ServeProcess:
        workspace, home = root / "ws", root / "home"
        workspace.mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        token_file = root / "token"
        token_file.write_text(TOKEN + "\n")
        command = [sys.executable, "-m", "tau", "serve", "--port", "0", "--token-file", str(token_file)]
        command += ["--state-dir", str(root / "state"), *extra]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
        process = subprocess.Popen(
            command, cwd=workspace, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stderr is not None
        lines: list[str] = []
        while True:
            line = process.stderr.readline()
            if not line:
                raise AssertionError(f"tau serve exited with {process.wait()}: {''.join(lines)}")
            lines.append(line)
            match = _LISTENING.search(line)
            if match:
                return cls(process, match.group(1), workspace, home, lines)

    def stop(self) -> str:
        """Terminate the server (if still running); everything it wrote on stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(BOUND)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(BOUND)
        assert self.process.stderr is not None
        rest = self.process.stderr.read()
        self.process.stderr.close()
        return "".join(self.stderr_lines) + rest


def session_request(model: str, **fields: object) -> pb.CreateSessionRequest:
    """The CreateSession of a host session that may run any Bash command (acceptEdits + Bash(*))."""
    permissions = pb.Permissions(mode="acceptEdits", allow=["Bash(*)"])
    return pb.CreateSessionRequest(model=model, permissions=permissions, **fields)  # type: ignore[arg-type]


def record_sleep_cassette(cassette: Path, workspace: Path, home: Path, prompt: str) -> None:
    """Record a cassette whose first step runs `SLEEP` with bash, through the job `session_request` resolves to
    (the recording run itself is stopped by a 1 s timeout, its sleep with it)."""
    import anyio

    from tau.models.cassette import RecordingModel
    from tau.rpc.jobs import build_session_job
    from tau.runtime import prepare_run
    from tau.testing import calls, reply, scripted_model

    request = session_request("test:scripted", job=pb.JobOptions(timeout=1.0))
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    job = build_session_job(request, env=env, cwd=workspace).for_run(prompt, session_id="recording")
    model, _ = scripted_model([calls(("bash", {"command": " ".join(SLEEP)}), text="Sleeping."), reply("Awake.")])
    recording = RecordingModel(model, cassette, workspace=str(workspace))

    async def main() -> None:
        driver = await prepare_run(job, model=recording, environ=env)
        try:
            await driver.run()
        finally:
            await driver.close()

    anyio.run(main)
    assert cassette.is_file()


def processes_with(argv: list[str]) -> list[int]:
    wanted = "\0".join(argv) + "\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "cmdline").read_text() == wanted:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_for(predicate: object, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + BOUND
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
