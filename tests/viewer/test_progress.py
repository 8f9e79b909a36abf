"""Terminal progress of `tau run`: a live status line on a TTY (a real one: tmux, read with capture-pane), plain
timestamped lines without one, nothing with -q, stdout only for the answer; and the `Progress` sink itself on
StringIO (exact lines, cut to the width, escape sequences from the model never printed, the status line yielding
to a permission prompt)."""

from __future__ import annotations

import io
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from tau_e2e import Sandbox, record_cassette, run_tau, tau_command

from tau.cli.progress import SPINNER, Progress, fit
from tau.protocol import (
    EnvironmentInfo,
    PermissionDecided,
    RunCompleted,
    SessionStarted,
    ToolCompleted,
    ToolStarted,
    TurnStarted,
    UsageTotals,
    UsageUpdated,
)
from tau.testing import calls, reply

WAIT = "while [ ! -e go ]; do sleep 0.05; done; echo released"
ARGS = ("-p", "wait for the go file, then finish", "--allow", "Bash(*)")
STAMP = re.compile(r"^tau: \[\d\d:\d\d:\d\d\] ")
BOUND = 60.0  # the longest any wait here may take


@pytest.fixture
def waiting_run(tmp_path: Path) -> tuple[Sandbox, list[str]]:
    """A recorded run whose one bash call waits for the file `go` (recorded with `go` present, then removed)."""
    box = Sandbox(tmp_path)
    (box.work / "go").write_text("")
    cassette = tmp_path / "cassette.json"
    steps = [calls(("bash", {"command": WAIT}), text="Waiting for go."), reply("All done.")]
    record_cassette(box, ARGS, steps, cassette)
    (box.work / "go").unlink()
    return box, ["run", *ARGS, "--model", f"replay:{cassette}", "--state-dir", str(tmp_path / "state")]


# -- a real terminal -------------------------------------------------------------------------------------------------


class Tmux:
    def __init__(self, socket: Path) -> None:
        self.base = ["tmux", "-S", str(socket), "-f", "/dev/null"]

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, check=True, timeout=30).stdout

    def screen(self) -> list[str]:
        return [line.rstrip() for line in self("capture-pane", "-p", "-t", "run").splitlines() if line.strip()]

    def wait_for(self, what: re.Pattern[str]) -> list[str]:
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            screen = self.screen()
            if any(what.search(line) for line in screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{what.pattern!r} never appeared:\n" + "\n".join(self.screen()))


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.fail("no tmux: run scripts/install-browser.sh")
    terminal = Tmux(tmp_path / "tmux.sock")
    yield terminal
    subprocess.run([*terminal.base, "kill-server"], capture_output=True, check=False, timeout=30)


def test_on_a_tty_a_live_status_line_then_tool_lines_and_a_summary(
    waiting_run: tuple[Sandbox, list[str]], tmux: Tmux
) -> None:
    box, args = waiting_run
    environment = " ".join(f"{key}={shlex.quote(value)}" for key, value in box.env.items())
    command = " ".join(map(shlex.quote, tau_command(*args)))
    script = f'cd {shlex.quote(str(box.work))} && env -i {environment} {command}; echo "[exit $?]"; exec sleep 600'
    tmux("new-session", "-d", "-s", "run", "-x", "110", "-y", "30", script)

    status = re.compile(r"^[" + SPINNER + r"] turn 1 · bash: while \[ ! -e go \].* · \d+ tokens · 0:\d\d$")
    screen = tmux.wait_for(status)
    assert screen[0].startswith("tau: session ") and screen[-1] == next(line for line in screen if status.search(line))
    assert "  » Waiting for go." in screen
    assert max(len(line) for line in screen) < 110  # never wraps

    (box.work / "go").write_text("")
    screen = tmux.wait_for(re.compile(r"^\[exit 0\]$"))
    assert screen[1:] == [
        "  » Waiting for go.",
        screen[2],
        screen[3],
        "All done.",
        "[exit 0]",
    ], screen
    assert re.fullmatch(r"  ✓ bash while \[ ! -e go \]; do sleep 0\.05; done; echo released · [\d.]+( ms|s)", screen[2])
    assert re.fullmatch(r"tau: completed · 2 turns · \d+ tokens · [\d.]+( ms|s)", screen[3])
    assert not any(char in "".join(screen) for char in SPINNER)  # the status line is gone


def test_without_a_tty_plain_timestamped_lines_and_none_with_quiet(waiting_run: tuple[Sandbox, list[str]]) -> None:
    box, args = waiting_run
    (box.work / "go").write_text("")
    result = run_tau(*args, sandbox=box)
    assert (result.returncode, result.stdout) == (0, "All done.\n"), result.stderr
    lines = result.stderr.splitlines()
    assert all(STAMP.match(line) for line in lines), lines
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    shown = [STAMP.sub("", line) for line in lines]
    assert shown[0].startswith("session ")
    assert shown[1:-1] == ["turn 1 · thinking", f"bash: {WAIT}", "turn 2 · thinking"]
    assert re.fullmatch(r"completed · 2 turns · \d+ tokens · [\d.]+( ms|s)", shown[-1])

    quiet = run_tau(*args, "-q", sandbox=box)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "All done.\n", "")
    as_json = run_tau(*args, "-o", "json", sandbox=box)
    assert as_json.returncode == 0 and as_json.stderr == ""  # machine formats keep stderr empty off a TTY


# -- the sink ----------------------------------------------------------------------------------------------------------


def started(command: str = "make test") -> list[object]:
    return [
        SessionStarted(
            session_id="s1", model="test:m", cwd="/w", environment=EnvironmentInfo(workspace="/w"), tools=[]
        ),
        TurnStarted(turn=1),
        UsageUpdated(usage=UsageTotals(input_tokens=1500, output_tokens=200), cost_usd=0.01234),
        ToolStarted(call_id="c1", tool="bash", input={"command": command}),
    ]


def test_plain_lines_are_exact() -> None:
    err = io.StringIO()
    progress = Progress(err, tty=False, wall=lambda: time.mktime((2026, 1, 2, 3, 4, 5, 0, 0, -1)))
    for event in started():
        progress(event)  # type: ignore[arg-type]
    progress(ToolCompleted(call_id="c1", tool="bash", status="failed", output="exit 2\nboom", duration_ms=5.0))
    progress(RunCompleted(status="failed", terminal_reason="max_turns", exit_code=53, session_id="s1", num_turns=1,
                          usage=UsageTotals(input_tokens=1500, output_tokens=200), duration_ms=2500.0))  # fmt: skip
    assert err.getvalue().splitlines() == [
        "tau: [03:04:05] session s1 · test:m · /w",
        "tau: [03:04:05] turn 1 · thinking",
        "tau: [03:04:05] bash: make test",
        "tau: [03:04:05] bash make test · failed: exit 2 boom",
        "tau: [03:04:05] failed (max_turns) · 1 turn · 1.7k tokens · 2.5s",
    ]


def test_the_status_line_is_cut_to_the_width_and_never_prints_escape_sequences() -> None:
    err = io.StringIO()
    now = [100.0]
    progress = Progress(err, tty=True, clock=lambda: now[0], width=lambda: 60, ticker=False)
    for event in started("rm -rf x \x1b]0;pwned\x07\x1b[2J" + "y" * 200):
        now[0] += 1.5
        progress(event)  # type: ignore[arg-type]
    drawn = err.getvalue().split("\r\x1b[2K")[-1]
    assert drawn == fit("⠋ turn 1 · bash: rm -rf x " + "y" * 51 + "... · 1.7k tokens · $0.0123 · 0:04", 59)
    assert len(drawn) == 59 and drawn.endswith("…")
    assert "\x1b" not in err.getvalue().replace("\r\x1b[2K", "")
    progress.close()


def test_the_status_line_waits_while_a_permission_prompt_may_be_on_screen() -> None:
    err = io.StringIO()
    progress = Progress(err, tty=True, prompts=True, ticker=False, width=lambda: 100)
    for event in started()[:3]:
        progress(event)  # type: ignore[arg-type]
    before = err.getvalue()
    progress(ToolStarted(call_id="c1", tool="bash", input={"command": "make"}))
    assert err.getvalue() == before  # a `--on-ask tty` question may be asked now: nothing drawn over it
    progress(PermissionDecided(call_id="c1", tool="bash", decision="ask", resolution="allowed", reason="asked"))
    assert err.getvalue().split("\r\x1b[2K")[-1].startswith("⠋ turn 1 · bash: make")
    progress(ToolStarted(call_id="c2", tool="ask_user", input={"question": "which?"}))
    progress(PermissionDecided(call_id="c2", tool="ask_user", decision="allow", resolution="allowed", reason="ok"))
    drawn = err.getvalue()
    progress.hold()
    progress.release()
    assert err.getvalue() == drawn + "\r\x1b[2K"  # erased for the question, not drawn again while ask_user runs
    progress.close()
