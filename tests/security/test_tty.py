"""Output integrity on a terminal: `tau run` with stdin, stdout and stderr on a pseudo-terminal (the TTY status line),
while the scripted model puts escape sequences, C1 controls and bidi overrides in a command, a file path and its
final answer. The only control sequences on the terminal are tau's own line clears (`CR`, `ESC [2K`), newlines and
the colour of its own whole lines.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
from pathlib import Path

from sec_harness import TAU, hermetic_env
from sec_layout import Layout, make_root, remove_tree
from sec_model import ScriptServer

INJECTED = "\x1b]0;pwned-title\x07\x1b[2J\x1b[31mred\x1b[0m \u202eevil\u202c \x9b2J\x08"
TAU_OWN = re.compile(r"\r\x1b\[2K|\r\n|\n")
# tau's own colour: a whole permanent line in dim/red/green/yellow, reset right before its newline
TAU_COLOR = re.compile(r"\x1b\[(?:2|31|32|33)m([^\x1b\r\n]*)\x1b\[0m(?=\r?\n)")
BOUND = 120.0  # seconds without output before the terminal is given up on; only a hang reaches it


def _read_all(master: int) -> bytes:
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], BOUND)
        if not ready:
            return out
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child side is closed
            return out
        if not data:
            return out
        out += data


def run_on_tty(server: ScriptServer, root: Path) -> tuple[int, str]:
    layout = Layout(root, model_url=server.base_url).build()
    tag = server.script(
        "tty",
        [
            [("bash", {"command": f"echo '{INJECTED}'"})],
            [("read", {"file_path": f"missing{INJECTED}.txt"})],
            f"done {INJECTED}",
        ],
    )
    env = hermetic_env(layout, server.base_url, {"TERM": "xterm-256color", "PYDANTIC_AI_NO_BANNER": "1"})
    command = [*TAU, "run", "-p", f"{tag} go", "--model", "openai-chat:scripted"]
    command += ["--permission-mode", "bypassPermissions", "--sandbox-policy", "workspace-write"]
    master, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # a terminal wide enough for the line
    try:
        process = subprocess.Popen(command, cwd=layout.work, env=env, stdin=child, stdout=child, stderr=child)
        os.close(child)
        output = _read_all(master)
        code = process.wait(timeout=BOUND)
    finally:
        os.close(master)
    return code, output.decode("utf-8", errors="replace")


def test_the_terminal_sees_no_injected_control_sequences(script_server: ScriptServer) -> None:
    root = make_root("tau-sec-tty-")
    try:
        code, output = run_on_tty(script_server, root)
    finally:
        remove_tree(root)
    assert code == 0, output
    assert "done red evil" in output, output  # the answer reached the terminal, defanged
    assert "bash: echo 'red evil" in output, output  # so did the status line for the command
    rest = TAU_OWN.sub("", TAU_COLOR.sub(r"\1", output))
    controls = sorted(
        {f"U+{ord(c):04X}" for c in rest if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u202e\u202c"}
    )
    assert controls == [], (controls, output)
