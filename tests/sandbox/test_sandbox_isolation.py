"""What every policy isolates: tau's process, the network, host unix sockets, terminal injection."""

from __future__ import annotations

import http.server
import os
import shlex
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from host_sandbox_helpers import Factory, py

pytestmark = pytest.mark.anyio

PY = shlex.quote(sys.executable)
POLICIES = ["read-only", "workspace-write", "full"]


@pytest.mark.parametrize("policy", POLICIES)
async def test_commands_cannot_reach_taus_process(ws: Path, make_backend: Factory, policy: str) -> None:
    me = os.getpid()
    backend = make_backend(ws, policy)
    forged = await backend.run(f"echo forged > /proc/{me}/fd/1", shell=True, timeout=30)
    assert forged.exit_code != 0, forged
    assert forged.stdout == ""
    listed = await backend.run("ls /proc", shell=True, timeout=30)
    pids = sorted(int(name) for name in listed.stdout.split() if name.isdigit())
    assert me not in pids
    assert max(pids) < 20, pids  # a fresh PID namespace: only the command's own few processes
    signalled = await backend.run(f"kill -0 {me}", shell=True, timeout=30)
    assert signalled.exit_code != 0
    parent = await backend.run(py("import os; print(os.getppid())"), shell=True, timeout=30)
    assert int(parent.stdout) != me


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_port(base: Path) -> Iterator[int]:
    (base / "index.html").write_text("served\n")
    handler = lambda *args: _Quiet(*args, directory=str(base))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode(), end='')"


@pytest.mark.parametrize("policy", ["read-only", "workspace-write"])
async def test_network_off_then_on(ws: Path, make_backend: Factory, http_port: int, policy: str) -> None:
    url = f"http://127.0.0.1:{http_port}/index.html"
    command = f"{py(FETCH)} {url}"
    off = await make_backend(ws, policy).run(command, shell=True, timeout=30)
    assert off.exit_code != 0
    assert "Connection refused" in off.stderr or "Network is unreachable" in off.stderr, off
    on = await make_backend(ws, policy, network=True).run(command, shell=True, timeout=30)
    assert (on.exit_code, on.stdout) == (0, "served\n"), on
    full = await make_backend(ws, "full").run(command, shell=True, timeout=30)
    assert (full.exit_code, full.stdout) == (0, "served\n"), full


@pytest.fixture
def unix_server(base: Path) -> Iterator[str]:
    path = str(base / "host.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    yield path
    server.close()


CONNECT = "import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print('connected')"


@pytest.mark.parametrize("policy", ["read-only", "workspace-write"])
async def test_host_unix_sockets_are_unreachable(
    ws: Path, make_backend: Factory, unix_server: str, policy: str
) -> None:
    result = await make_backend(ws, policy, network=True).run(f"{py(CONNECT)} {unix_server}", shell=True, timeout=30)
    assert result.exit_code != 0
    assert "PermissionError: [Errno 1] Operation not permitted" in result.stderr, result
    control = await make_backend(ws, "full").run(f"{py(CONNECT)} {unix_server}", shell=True, timeout=30)
    assert (control.exit_code, control.stdout) == (0, "connected\n"), control


async def test_what_the_filter_leaves_working(ws: Path, make_backend: Factory) -> None:
    code = (
        "import socket, asyncio, subprocess\n"
        "a, b = socket.socketpair(); a.send(b'x'); assert b.recv(1) == b'x'\n"
        "socket.socket(socket.AF_INET).close(); socket.socket(socket.AF_INET6).close()\n"
        "asyncio.run(asyncio.sleep(0))\n"
        "print(subprocess.run(['bash', '-c', 'echo $((6 * 7))'], capture_output=True, text=True).stdout, end='')\n"
    )
    result = await make_backend(ws, "workspace-write").run(py(code), shell=True, timeout=30)
    assert (result.exit_code, result.stdout) == (0, "42\n"), result


TIOCSTI = (
    "import fcntl, pty, termios\n"
    "_, follower = pty.openpty()\n"
    "try:\n"
    "    fcntl.ioctl(follower, termios.TIOCSTI, b'x'); print('injected')\n"
    "except OSError as error:\n"
    "    print(error.errno)\n"
)


async def test_terminal_injection_is_refused(ws: Path, make_backend: Factory) -> None:
    result = await make_backend(ws, "workspace-write").run(py(TIOCSTI), shell=True, timeout=30)
    assert result.stdout == "1\n", result  # EPERM from the filter
    control = await make_backend(ws, "full").run(py(TIOCSTI), shell=True, timeout=30)
    assert control.stdout != "1\n", control


async def test_io_uring_is_refused(ws: Path, make_backend: Factory) -> None:
    code = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "params = ctypes.create_string_buffer(120)\n"
        "print(libc.syscall(425, 4, params), ctypes.get_errno())\n"
    )
    result = await make_backend(ws, "workspace-write").run(py(code), shell=True, timeout=30)
    assert result.stdout == "-1 1\n", result
