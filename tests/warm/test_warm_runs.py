"""Warm runs (issue #19 item 2): `tau run` handed to `tau serve --local` behaves exactly as a local run.

Each test starts a real server on a runtime dir inside its tmp dir, runs the real CLI as a subprocess and compares
with the same command run locally (`--no-server`): stdout bytes, stderr (session ids and clock times aside), exit
codes, `-o json|stream-json`, stdin jobs, the working directory and environment tools see, signals, and the session
store. Whether a run went remote is read from the client process's own imports (`Traced.remote`).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from tau_e2e import TIMEOUT, Recordings, Sandbox, by_type, record_cassette, scrub
from warm_helpers import PYTHON_TAU, LocalServer, Traced, processes_with_cwd, run_traced

_VOLATILE_STDERR = (
    (re.compile(r"\[\d\d:\d\d:\d\d\]"), "[hh:mm:ss]"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<session>"),
    (re.compile(r"\b\d+(?:\.\d+)? ?m?s\b"), "<duration>"),
)


def _stable(text: str) -> str:
    for pattern, replacement in _VOLATILE_STDERR:
        text = pattern.sub(replacement, text)
    return text


def _both(box: Sandbox, *args: str, input: bytes = b"") -> tuple[Traced, Traced]:
    warm = run_traced(*args, env=box.env, cwd=box.work, input=input)
    local = run_traced(*args, "--no-server", env=box.env, cwd=box.work, input=input)
    assert warm.remote, warm.stderr
    assert not local.remote
    return warm, local


def test_hello_text_output_is_the_local_runs(sandbox: Sandbox, server: LocalServer) -> None:
    sandbox.copy_hello()
    warm, local = _both(sandbox, "run", "hello.md")
    assert (warm.returncode, warm.stdout) == (local.returncode, local.stdout) == (0, local.stdout)
    assert b"3 lines and 20 words" in warm.stdout
    assert _stable(warm.stderr) == _stable(local.stderr)
    assert (sandbox.work / "notes" / "summary.md").is_file()


@pytest.mark.parametrize("output", ["json", "stream-json"])
def test_json_outputs_match(sandbox: Sandbox, server: LocalServer, recordings: Recordings, output: str) -> None:
    args = recordings.replay_args("greet", sandbox, "-o", output)
    warm, local = _both(sandbox, *args)
    assert warm.returncode == local.returncode == 0
    parse = (lambda raw: [json.loads(line) for line in raw.splitlines()]) if output == "stream-json" else json.loads
    assert scrub(parse(warm.stdout), workspace=sandbox.work) == scrub(parse(local.stdout), workspace=sandbox.work)


def test_exit_codes_and_error_lines_match(sandbox: Sandbox, server: LocalServer, recordings: Recordings) -> None:
    cases = [
        ("run", "missing.md"),  # 2: the job file does not exist
        ("run", "-p", "hi", "--model", "nope:x"),  # 2: an unknown provider
        tuple(recordings.replay_args("turns", sandbox)),  # 53: the turn limit
        tuple(recordings.replay_args("failures", sandbox)),  # 5: consecutive failures
        ("resume", "no-such-session"),  # 2, from resume
    ]
    for args in cases:
        warm, local = _both(sandbox, *args)
        assert (warm.returncode, warm.stdout, _stable(warm.stderr)) == (
            local.returncode,
            local.stdout,
            _stable(local.stderr),
        ), args
    assert {run_traced(*c, env=sandbox.env, cwd=sandbox.work).returncode for c in cases} == {2, 5, 53}


def test_stdin_job_and_the_same_store(sandbox: Sandbox, server: LocalServer, recordings: Recordings) -> None:
    args = recordings.replay_args("greet", sandbox, "-q")
    warm = run_traced(*args, env=sandbox.env, cwd=sandbox.work)
    assert warm.remote and (warm.returncode, warm.stdout) == (0, b"Hello, Ada!\n")
    listed = run_traced("sessions", "ls", "--json", env=sandbox.env, cwd=sandbox.work)
    assert listed.returncode == 0
    assert len(listed.stdout.splitlines()) == 1  # JSON lines: the warm run's session, in this user's store
    cassette = args[args.index("--model") + 1].removeprefix("replay:")
    job = f"---\nmodel: replay:{cassette}\n---\nGreet Ada.\n".encode()
    piped = run_traced("run", "-", "-q", env=sandbox.env, cwd=sandbox.work, input=job)
    assert piped.remote and (piped.returncode, piped.stdout) == (0, b"Hello, Ada!\n"), piped.stderr


def test_tools_see_the_clients_cwd_and_environment(
    sandbox: Sandbox, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bash call prints its working directory and $HOME (tools get PATH, HOME and the locale): the client's HOME,
    not the one the server was started with."""
    from tau.testing import calls, reply

    home = sandbox.root / "client-home"
    home.mkdir()
    sandbox.env["HOME"] = str(home)  # the server keeps the sandbox's own home
    monkeypatch.setenv("HOME", str(home))  # the in-process recording sees what the replays will
    command = "pwd -P; printenv HOME"
    args = ("-p", "Where am I?", "--allow", "Bash(pwd *)", "--allow", "Bash(printenv *)", "-o", "stream-json")
    cassette = sandbox.root / "where.cassette.json"
    record_cassette(sandbox, args, [calls(("bash", {"command": command})), reply("Here.")], cassette)
    warm, local = _both(sandbox, "run", *args, "--model", f"replay:{cassette}")
    assert warm.returncode == local.returncode == 0, warm.stderr
    outputs = []
    for result in (warm, local):
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        outputs.append([line["output"] for line in by_type(lines, "tool.completed")])
    assert outputs[0] == outputs[1]
    assert f"{sandbox.work.resolve()}\n{home}" in outputs[0][0], outputs


def test_no_server_flag_and_variable_run_locally(sandbox: Sandbox, server: LocalServer, recordings: Recordings) -> None:
    args = recordings.replay_args("greet", sandbox, "-q")
    assert not run_traced(*args, "--no-server", env=sandbox.env, cwd=sandbox.work).remote
    for value, remote in (("1", False), ("yes", False), ("0", True), ("", True)):
        result = run_traced(*args, env={**sandbox.env, "TAU_NO_SERVER": value}, cwd=sandbox.work)
        assert (result.returncode, result.stdout, result.remote) == (0, b"Hello, Ada!\n", remote), value


def test_no_server_listening_means_a_local_run(sandbox: Sandbox, recordings: Recordings) -> None:
    args = recordings.replay_args("greet", sandbox, "-q")
    directory = Path(sandbox.env["XDG_RUNTIME_DIR"]) / "tau"
    directory.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(directory / "serve.sock"))  # a socket file nobody accepts on (a crashed server)
    stale.close()
    result = run_traced(*args, env=sandbox.env, cwd=sandbox.work)
    assert (result.returncode, result.stdout, result.remote, result.stderr) == (0, b"Hello, Ada!\n", False, "")


def test_a_directory_open_to_others_is_refused(sandbox: Sandbox, recordings: Recordings) -> None:
    directory = Path(sandbox.env["XDG_RUNTIME_DIR"]) / "tau"
    directory.mkdir(mode=0o700)
    directory.chmod(0o755)
    served = subprocess.run(
        [*PYTHON_TAU, "serve", "--local"],
        env=sandbox.env,
        cwd=sandbox.root,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert served.returncode == 2
    problem = f"{directory} is open to others (mode 0755, want 0700)"
    assert served.stderr == f"tau: tau serve --local: refusing the local socket directory: {problem}\n"


def test_sigint_cancels_the_remote_run(sandbox: Sandbox, server: LocalServer, recordings: Recordings) -> None:
    args = recordings.replay_args("sleep", sandbox, "-o", "stream-json")
    process = subprocess.Popen(
        [*PYTHON_TAU, *args],
        cwd=sandbox.work,
        env=sandbox.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        lines = []
        for raw in process.stdout:
            lines.append(json.loads(raw))
            if lines[-1]["type"] in ("permission.decided", "run.completed"):
                break
        assert lines[-1]["type"] == "permission.decided", lines
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines += [json.loads(line) for line in stdout.decode().splitlines()]
    assert process.returncode == 130, stderr.decode()
    assert stderr.decode() == ""
    last = lines[-1]
    assert (last["type"], last["terminal_reason"], last["error"]) == ("run.completed", "interrupted", "received SIGINT")
    assert by_type(lines, "tool.started")[0]["input"] == {"command": "sleep 37"}
    assert processes_with_cwd(sandbox.work, [b"sleep", b"37"]) == []


def test_a_killed_client_cancels_its_run(sandbox: Sandbox, server: LocalServer, recordings: Recordings) -> None:
    args = recordings.replay_args("sleep", sandbox, "-o", "stream-json")
    process = subprocess.Popen(
        [*PYTHON_TAU, *args],
        cwd=sandbox.work,
        env=sandbox.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    for raw in process.stdout:
        if json.loads(raw)["type"] == "permission.decided":
            break
    process.kill()
    process.wait()
    rest = [json.loads(line) for line in process.stdout.read().splitlines()]  # the run still writes its end
    process.stdout.close()
    assert rest and rest[-1]["type"] == "run.completed" and rest[-1]["terminal_reason"] == "terminated", rest
    assert processes_with_cwd(sandbox.work, [b"sleep", b"37"]) == []


def _ask(path: Path, message: dict[str, object], *, user: int | None = None) -> bytes:
    """Send one job line (stdio and cwd attached) as `user` (a forked process), return what the server answered."""
    import array
    import os

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover -- the child only talks and exits
        try:
            directory = os.open(path.parent, os.O_PATH)  # reached as root: the tmp dir's parents are 0700
            if user is not None:
                os.setgid(user)
                os.setuid(user)
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(f"/proc/self/fd/{directory}/{path.name}")
                fds = array.array("i", [0, 1, 2, os.open("/", os.O_PATH)]).tobytes()
                sock.sendmsg([json.dumps(message).encode() + b"\n"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
                sock.settimeout(TIMEOUT)
                os.write(write, sock.recv(4096) or b"<closed>")
        except (BrokenPipeError, ConnectionResetError):
            os.write(write, b"<closed>")  # closed before the job was even read
        except OSError as error:
            os.write(write, f"<error: {error}>".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        data = answer.read()
    os.waitpid(pid, 0)
    return data


def test_another_build_or_another_user_is_refused(sandbox: Sandbox, server: LocalServer) -> None:
    job = {"tau": 1, "build": "0.0.0:/elsewhere", "argv": ["run", "-p", "hi"], "env": {}, "umask": 18, "started": None}
    answer = json.loads(_ask(server.socket, job))
    assert answer["refused"].startswith("another tau build (server: ")
    directory = server.socket.parent
    directory.chmod(0o711)  # let another uid reach the socket: SO_PEERCRED is the check left
    server.socket.chmod(0o666)
    nobody = 65534
    assert _ask(server.socket, {**job, "build": answer["refused"].split("server: ", 1)[1][:-1]}, user=nobody) == (
        b"<closed>"
    )


def test_one_server_per_directory(sandbox: Sandbox, server: LocalServer) -> None:
    second = subprocess.run(
        [*PYTHON_TAU, "serve", "--local"],
        env=sandbox.env,
        cwd=sandbox.root,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert (second.returncode, second.stderr) == (
        2,
        f"tau: tau serve --local: a local server is already running on {server.socket.parent}\n",
    )
    assert server.process.poll() is None


def _on_a_terminal(box: Sandbox, *args: str) -> tuple[int, bytes, str]:
    """`tau ARGS` with stdin and stderr on a fresh pseudo-terminal: (exit code, stdout, what the terminal showed)."""
    import os
    import pty
    import sys

    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "tau", *args],
        cwd=box.work,
        env=box.env,
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=secondary,
    )
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: every copy of the terminal's other side is closed (the run, and a server's child)
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    stdout = process.stdout.read() if process.stdout else b""
    if process.stdout:
        process.stdout.close()
    return process.wait(timeout=TIMEOUT), stdout, shown.decode("utf-8", "replace")


def test_a_terminal_is_the_runs_terminal(sandbox: Sandbox, server: LocalServer) -> None:
    """The run renders its TTY progress (colours, live lines) on the client's terminal exactly as a local run does."""
    sandbox.copy_hello()
    warm = _on_a_terminal(sandbox, "run", "hello.md")
    local = _on_a_terminal(sandbox, "run", "hello.md", "--no-server")
    assert warm[0] == local[0] == 0
    assert warm[1] == local[1]
    assert "\x1b[" in local[2]  # a terminal gets colours: the check below compares something
    assert _settled(warm[2]) == _settled(local[2])
    assert len(_settled(local[2])) >= 5, local[2]


def _settled(shown: str) -> list[str]:
    """The lines left on the terminal (each line's text after its last erase), without the live spinner lines
    (their frames and timings depend on the clock)."""
    lines = []
    for raw in shown.split("\r\n"):
        visible = raw.rsplit("\x1b[2K", 1)[-1].lstrip("\r")
        if visible and not ("\u2800" <= visible[0] <= "\u28ff"):  # braille spinner frames
            lines.append(_stable(visible))
    return lines


def test_a_stopping_server_ends_its_runs_as_sigterm_would(
    sandbox: Sandbox, server: LocalServer, recordings: Recordings
) -> None:
    args = recordings.replay_args("sleep", sandbox, "-o", "stream-json")
    process = subprocess.Popen(
        [*PYTHON_TAU, *args], cwd=sandbox.work, env=sandbox.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    for raw in process.stdout:
        if json.loads(raw)["type"] == "permission.decided":
            break
    assert server.stop() == -signal.SIGTERM  # drained: the server waited for its run, then died of the signal
    rest = [json.loads(line) for line in process.stdout.read().splitlines()]
    process.stdout.close()
    assert process.wait(timeout=TIMEOUT) == 143
    assert rest[-1]["type"] == "run.completed" and rest[-1]["terminal_reason"] == "terminated", rest
    assert not server.socket.exists()
    assert processes_with_cwd(sandbox.work, [b"sleep", b"37"]) == []
