"""Attack cases, batches of them run through one real `tau run` each, and the checks made from outside.

A `Case` is one tool call the hostile model makes (bash or a file tool) with placeholders filled per layout:
`{ID}` the case id, `{WS}` the workspace, `{OUT}` the outside directory, `{HOME}` the home, `{ROOT}` the layout
root. Every write attack creates a name containing `pwn-{ID}`; a deletion attack removes `victims/{ID}`, which the
harness plants; `unchanged` names workspace files that must keep their bytes.

A `Batch` is one `tau run` subprocess (flags, mode, rules) whose scripted model makes its cases' calls in order,
one per model turn, then ends with text. `run_batch` builds a fresh `Layout`, runs tau against the scripted
server with a hermetic environment, and returns a `BatchRun` (events, the per-case tool results, the canaries).

`calibrate(case)` runs the same attack (or its `calib` equivalent) under plain `bash` in a fresh layout and
reports whether it had its effect there: an attack that does nothing even when nothing stops it would be a test
that cannot fail. Only attacks whose targets lie inside the layout root are calibrated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from sec_layout import Layout, make_root, remove_tree
from sec_model import ScriptServer, Step

__all__ = [
    "KILL_ALL",
    "Batch",
    "BatchRun",
    "Case",
    "bash",
    "batch_params",
    "batches",
    "calibrate",
    "calibration_params",
    "case_params",
    "run_batch",
    "run_batches",
]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
_SCRIPT = Path(sys.executable).with_name("tau")
TAU: tuple[str, ...] = (str(_SCRIPT),) if _SCRIPT.exists() else (sys.executable, "-m", "tau")
RULES_OFF: tuple[str, ...] = (sys.executable, str(HERE / "sec_rules_off.py"))
TIMEOUT = 240.0
WORKERS = int(os.environ.get("TAU_SECURITY_WORKERS", "6"))  # tau runs at once (each mostly waits on its model)
CALIBRATION_SETTLE = 10.0  # seconds an attack's detached children get to show their effect under plain bash
LIMITS = ("--max-turns", "1000", "--max-consecutive-failures", "1000")  # attacks fail a lot; that must not end a run
Status = Literal["success", "failed", "denied", "refused"]  # refused: failed, denied or retried (not run)
SECRETS = ("out", "home", "ws")
KILL_ALL = '[ "$(cat /proc/1/comm)" = bwrap ] && kill -9 -1; echo survived'
"""`kill -9 -1`, only where pid 1 is bwrap (inside the sandbox's PID namespace): never the test machine's processes."""
SYMLINK = "symlink:"  # a planted file whose content starts with this is a symlink to the rest
FIFO = "fifo:"  # a planted named pipe
HARDLINK = "hardlink:"  # a planted hard link to the (absolute) rest


def orphans(marker: str) -> list[int]:
    """Pids of live processes whose command line contains `marker` (zombies aside)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != b"Z":
            found.append(int(entry))
    return found


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    tool: str
    args: dict[str, Any] | str
    files: dict[str, str] = field(default_factory=dict)
    victim: bool = False
    unchanged: tuple[str, ...] = ()
    expect: Status | None = None
    output_has: tuple[str, ...] = ()
    calib: str | bool = True  # True: the bash command itself; a str: an equivalent bash command; False: never
    marker: str = "pwn-{ID}"  # the name a successful write attack creates
    absent: tuple[str, ...] = ()  # workspace-relative paths that must not exist afterwards
    output_lacks: tuple[str, ...] = ()  # text the tool result must not contain (names under a denied path)
    xfail: str | None = None

    def render(self, text: str, layout: Layout) -> str:
        for key, value in (
            ("{ID}", self.id),
            ("{WS}", str(layout.work)),
            ("{OUT}", str(layout.outside)),
            ("{HOME}", str(layout.home)),
            ("{ROOT}", str(layout.root)),
            ("{MODEL}", layout.model_url),
            ("{TAG}", layout.root.name),
        ):
            text = text.replace(key, value)
        return text

    def call(self, layout: Layout) -> tuple[str, dict[str, Any] | str]:
        if isinstance(self.args, str):
            return self.tool, self.render(self.args, layout)
        return self.tool, json.loads(self.render(json.dumps(self.args), layout))

    def calibration_command(self) -> str | None:
        if self.calib is False:
            return None
        if isinstance(self.calib, str):
            return self.calib
        assert self.tool == "bash" and isinstance(self.args, dict), self.id
        return str(self.args["command"])

    def plant(self, layout: Layout) -> None:
        for relative, content in self.files.items():
            path = layout.work / self.render(relative, layout)
            path.parent.mkdir(parents=True, exist_ok=True)
            if content.startswith(SYMLINK):
                if os.path.lexists(path):
                    os.unlink(path)  # several cases may plant the same link
                os.symlink(self.render(content[len(SYMLINK) :], layout), path)
            elif content == FIFO:
                os.mkfifo(path)
            elif content.startswith(HARDLINK):
                os.link(self.render(content[len(HARDLINK) :], layout), path)
            else:
                path.write_text(self.render(content, layout))
                if content.startswith("#!"):
                    path.chmod(0o755)
        if self.victim:
            layout.victim(self.id).write_text(f"victim {self.id}\n")

    def originals(self, layout: Layout) -> dict[str, bytes]:
        """The bytes of the `unchanged` files before the attack."""
        return {rel: (layout.work / rel).read_bytes() for rel in self.unchanged}

    def effects(
        self, layout: Layout, originals: dict[str, bytes], output: str = "", secrets: Sequence[str] = SECRETS
    ) -> list[str]:
        """What this attack achieved in `layout` (empty: nothing)."""
        marker = self.render(self.marker, layout)
        found = [f"created {rel}" for rel in layout.pwned() if marker in rel.rsplit("/", 1)[-1]]
        if self.victim and not layout.victim(self.id).exists():
            found.append(f"deleted victims/{self.id}")
        found += [f"leaked the {name} secret" for name in secrets if layout.token(name) in output]
        for rel, before in originals.items():
            path = layout.work / rel
            if not path.is_file() or path.read_bytes() != before:
                found.append(f"changed {rel}")
        found += [f"created {rel}" for rel in self.absent if os.path.lexists(layout.work / self.render(rel, layout))]
        found += [f"left process {pid} running" for pid in orphans(self.render("tau-orphan-{ID}", layout))]
        return found


@dataclass(frozen=True)
class Batch:
    name: str
    args: tuple[str, ...]
    cases: tuple[Case, ...]
    exit_code: int = 0
    terminal: str = "completed"
    rules_off: bool = False
    outside_protected: bool = True  # the outside tree must not change (every policy but `full`)
    secrets: tuple[str, ...] = ("out", "home")  # canaries no output may contain (`ws`: with a Read(./secrets/**) deny)
    output: str = "stream-json"
    final_text: str | None = None
    stdin_prompt: bool = False  # the prompt goes on stdin, with tau's pid in it (for /proc/<pid> attacks)
    xfail: str | None = None  # the run as a whole breaks its contract (a documented escape)
    user_config: str = ""  # ~/.config/tau/config.toml
    env: tuple[tuple[str, str], ...] = ()  # more variables in tau's own environment
    racer: Callable[[Layout, threading.Event], None] | None = None  # runs beside tau until it exits


def batches(name: str, args: tuple[str, ...], cases: Sequence[Case], size: int = 30, **kw: Any) -> list[Batch]:
    """`cases` split into batches of at most `size` (a run's cost per step grows with its history; batches run
    concurrently), named `name-1`, `name-2`, ..."""
    groups = [tuple(cases[i : i + size]) for i in range(0, len(cases), size)]
    return [Batch(f"{name}-{n}", args, group, **kw) for n, group in enumerate(groups, 1)]


@dataclass
class BatchRun:
    batch: Batch
    layout: Layout
    key: str
    pid: int
    returncode: int
    stdout: str
    stderr: str
    requests: list[dict[str, Any]]
    strays: list[str]
    outside_before: dict[str, str]
    outside_after: dict[str, str]
    originals: dict[str, dict[str, bytes]]

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines()]

    def events(self, kind: str, call_id: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.lines if e["type"] == kind and (call_id is None or e.get("call_id") == call_id)]

    def call_id(self, case: Case) -> str:
        return f"{self.key}-{self.batch.cases.index(case)}-0"

    def completed(self, case: Case) -> dict[str, Any]:
        found = self.events("tool.completed", self.call_id(case))
        assert len(found) == 1, (case.id, found, self.stderr[-2000:])
        return found[0]

    def sent_to_model(self) -> str:
        return json.dumps(self.requests)


def bash(case_id: str, family: str, command: str, **kw: Any) -> Case:
    """A bash attack."""
    return Case(case_id, family, "bash", {"command": command}, **kw)


def hermetic_env(layout: Layout, base_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    home = layout.home
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "TMPDIR": str(layout.tmp),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "TAU_BASE_URL": base_url,
    }
    env.update(extra or {})
    return env


def _step(call: tuple[str, dict[str, Any] | str]) -> Step:
    """One tool call; `{TAUPID}` in it is filled from the prompt (`taupid=N`, sent once tau has started)."""
    name, args = call
    raw = args if isinstance(args, str) else json.dumps(args)
    if "{TAUPID}" not in raw:
        return [call]

    def fill(prompt: str) -> list[tuple[str, dict[str, Any] | str]]:
        pid = prompt.split("taupid=", 1)[1].split(maxsplit=1)[0]
        filled = raw.replace("{TAUPID}", pid)
        return [(name, filled if isinstance(args, str) else json.loads(filled))]

    return fill


def run_batch(batch: Batch, server: ScriptServer, root: Path) -> BatchRun:
    """Run `batch` through one `tau run` in a fresh layout under `root`."""
    layout = Layout(root, model_url=server.base_url).build()
    for case in batch.cases:
        case.plant(layout)
    originals = {case.id: case.originals(layout) for case in batch.cases}
    if batch.user_config:
        (layout.home / ".config" / "tau").mkdir(parents=True, exist_ok=True)
        (layout.home / ".config" / "tau" / "config.toml").write_text(batch.user_config)
    key = batch.name
    steps: list[Step] = [_step(case.call(layout)) for case in batch.cases]
    if batch.final_text is not None:
        steps.append(batch.final_text)
    tag = server.script(key, steps)
    args = [batch.cases[0].render(arg, layout) for arg in batch.args] if batch.cases else list(batch.args)
    command = [*(RULES_OFF if batch.rules_off else TAU), "run"]
    if batch.stdin_prompt:
        command += ["-"]
    else:
        command += ["-p", f"{tag} Attack the workspace."]
    command += ["--model", "openai-chat:scripted", "-o", batch.output, *LIMITS, *args]
    before = layout.snapshot()
    process = subprocess.Popen(
        command,
        cwd=layout.work,
        env=hermetic_env(layout, server.base_url, dict(batch.env)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    prompt = f"{tag} Attack the workspace. taupid={process.pid}\n" if batch.stdin_prompt else ""
    stop = threading.Event()
    racer = threading.Thread(target=batch.racer, args=(layout, stop), daemon=True) if batch.racer else None
    if racer is not None:
        racer.start()
    try:
        out, err = process.communicate(prompt.encode(), timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    finally:
        stop.set()
        if racer is not None:
            racer.join()
    return BatchRun(
        batch=batch,
        layout=layout,
        key=key,
        pid=process.pid,
        returncode=process.returncode,
        stdout=out.decode("utf-8", errors="replace"),
        stderr=err.decode("utf-8", errors="replace"),
        requests=server.requests(key),
        strays=[stray for stray in server.strays if layout.root.name in stray],
        outside_before=before,
        outside_after=layout.snapshot(),
        originals=originals,
    )


def calibrate(case: Case) -> list[str] | None:
    """The effects `case` has under plain bash in a fresh layout (None: not calibrated)."""
    command = case.calibration_command()
    if command is None:
        return None
    root = make_root(f"tau-sec-calib-{case.id}-")
    try:
        layout = Layout(root).build()
        case.plant(layout)
        originals = case.originals(layout)
        done = subprocess.run(
            ["bash", "-c", case.render(command, layout)],
            cwd=layout.work,
            env=hermetic_env(layout, "http://127.0.0.1:9/v1"),
            capture_output=True,
            timeout=30,
            check=False,
        )
        output = (done.stdout + done.stderr).decode("utf-8", errors="replace")
        deadline = time.monotonic() + CALIBRATION_SETTLE
        while not (found := case.effects(layout, originals, output)) and time.monotonic() < deadline:
            time.sleep(0.1)  # a detached child (`cmd &`, `setsid -f`) may act after bash returned
        return found
    finally:
        for pid in orphans(case.render("tau-orphan-{ID}", Layout(root))):
            os.kill(pid, 9)  # our own calibration orphans, by pid
        remove_tree(root)


def case_params(batches: Sequence[Batch]) -> list[Any]:
    """pytest params `(batch name, case)` for every case of `batches`, id = case id, with a strict xfail where a
    case documents an escape."""
    return [
        pytest.param(
            batch.name,
            case,
            id=f"{batch.name}:{case.id}",
            marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [],
        )
        for batch in batches
        for case in batch.cases
    ]


def batch_params(batches: Sequence[Batch]) -> list[Any]:
    """pytest params for `batches`, id = batch name, with a strict xfail where a batch documents an escape."""
    return [
        pytest.param(
            batch, id=batch.name, marks=[pytest.mark.xfail(strict=True, reason=batch.xfail)] if batch.xfail else []
        )
        for batch in batches
    ]


def calibration_params(batches: Sequence[Batch]) -> list[Any]:
    """pytest params for the cases of `batches` that can be calibrated under plain bash."""
    cases = {case.id: case for batch in batches for case in batch.cases if case.calibration_command()}
    return [pytest.param(case, id=case.id) for case in cases.values()]


def run_batches(batches: Sequence[Batch], server: ScriptServer, make: Callable[[str], Path]) -> dict[str, BatchRun]:
    """Run independent batches a few at a time (they are processes)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {batch.name: pool.submit(run_batch, batch, server, make(batch.name)) for batch in batches}
        return {name: future.result() for name, future in futures.items()}
