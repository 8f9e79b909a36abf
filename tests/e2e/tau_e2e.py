"""Helpers for `tau` as a real subprocess: a hermetic sandbox per test, `run_tau(...)`, cassettes recorded in the test.

Every subprocess runs with `HOME`, `XDG_*` and the cwd inside the test's tmp dir and an environment built from scratch
(only `PATH` and a UTF-8 locale are kept), so no user or project config, API key or `TAU_*` variable can leak in; the
only server a test talks to is aimock on 127.0.0.1.

Scripted runs go through the CLI by recording a cassette in the test: `record_cassette(sandbox, args, steps)` parses
`args` exactly as `tau run` does (click), resolves the job with `tau.config.load_job`, runs it in-process once with
`RecordingModel(scripted model)`, and the test then runs `tau run ... --model replay:<cassette>` as a subprocess.
Replay checks every request against the recording, so the CLI really runs the same tools with the same results.

Layout of a sandbox: `root/home` is $HOME (user config under `home/.config`), `root/work` is the cwd and workspace. The
project-config walk stops at $HOME's parents, so it sees `work/.tau/config.toml` and nothing above it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
HELLO = ROOT / "examples" / "hello"
_SCRIPT = Path(sys.executable).with_name("tau")
TAU: tuple[str, ...] = (str(_SCRIPT),) if _SCRIPT.exists() else (sys.executable, "-m", "tau")
TIMEOUT = 60
VOLATILE = frozenset({"session_id", "snapshot_id", "duration_ms", "timestamp"})


# -- aimock (shared with tests/e2e_http; loaded by path because test directories are not packages) -------------------


def _load_e2e_http() -> ModuleType:
    path = ROOT / "tests" / "e2e_http" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_tau_e2e_http_helpers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_e2e_http = _load_e2e_http()
run_aimock: Callable[[Path], Any] = _e2e_http.run_aimock
require_aimock: Callable[[], None] = _e2e_http.require_aimock


# -- sandbox and environment -------------------------------------------------------------------------------------------


def hermetic_env(root: Path, **extra: str) -> dict[str, str]:
    """A from-scratch environment: PATH, a UTF-8 locale, HOME and XDG dirs under `root`, plus `extra`."""
    home = root / "home"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_RUNTIME_DIR": str(root / "runtime"),  # no `tau serve --local` of the machine's user takes these runs
        "TMPDIR": str(root / "tmp"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    env.update(extra)
    return env


@dataclass
class Sandbox:
    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for directory in (self.home / ".config", self.work, self.root / "tmp"):
            directory.mkdir(parents=True, exist_ok=True)
        if not self.env:
            self.env = hermetic_env(self.root)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def work(self) -> Path:
        return self.root / "work"

    def write(self, relative: str, content: str | bytes) -> Path:
        """Write a file under the workspace (`work/`)."""
        path = self.work / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def populate(self, files: dict[str, str]) -> None:
        for relative, content in files.items():
            self.write(relative, content)

    def copy_hello(self) -> Path:
        """The hello example copied into the workspace (its notes/ emptied); returns the job file."""
        shutil.copytree(HELLO, self.work, dirs_exist_ok=True, ignore=shutil.ignore_patterns("record.py"))
        (self.work / "notes" / "summary.md").unlink(missing_ok=True)
        return self.work / "hello.md"


# -- running tau -------------------------------------------------------------------------------------------------------


@dataclass(repr=False)
class TauResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @cached_property
    def lines(self) -> list[dict[str, Any]]:
        """stdout as JSON lines (every line must parse)."""
        return [json.loads(line) for line in self.stdout.splitlines()]

    @property
    def json(self) -> dict[str, Any]:
        """The single JSON object of `--output json` (exactly one line on stdout)."""
        assert len(self.stdout.splitlines()) == 1, self.stdout
        obj = json.loads(self.stdout)
        assert isinstance(obj, dict)
        return obj

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def types(self) -> list[str]:
        return [line["type"] for line in self.lines]

    def last(self) -> dict[str, Any]:
        return self.lines[-1]

    def __repr__(self) -> str:
        return f"tau {' '.join(self.args)} -> {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def closed_port() -> int:
    """A 127.0.0.1 port nobody listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tau_command(*args: str) -> list[str]:
    return [*TAU, *args]


def run_tau(
    *args: str,
    sandbox: Sandbox,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = TIMEOUT,
) -> TauResult:
    """Run `tau ARGS` in `sandbox` (cwd = its workspace unless given); stdin is empty unless `input` is given."""
    data = input.encode() if isinstance(input, str) else input
    completed = subprocess.run(
        tau_command(*args),
        cwd=cwd or sandbox.work,
        env=env if env is not None else sandbox.env,
        input=data if data is not None else b"",
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return TauResult(
        list(args),
        completed.returncode,
        completed.stdout.decode("utf-8", errors="replace"),
        completed.stderr.decode("utf-8", errors="replace"),
    )


# -- event stream contract ---------------------------------------------------------------------------------------------


def assert_stream_contract(lines: Sequence[dict[str, Any]], schema: dict[str, Any]) -> None:
    """Every line validates; seq is 0..n-1; session.started (with schema_version) first; run.completed last only."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    for line in lines:
        problems = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(line)]
        assert not problems, (line, problems)
    assert [line["seq"] for line in lines] == list(range(len(lines)))
    assert lines[0]["type"] == "session.started"
    assert lines[0]["schema_version"] == "2.0"
    assert lines[-1]["type"] == "run.completed"
    assert [line["type"] for line in lines].count("run.completed") == 1


def scrub(value: Any, *, workspace: Path | None = None) -> Any:
    """`value` with volatile fields (ids, durations) replaced by '<key>' and the workspace path by '<ws>'."""
    if isinstance(value, dict):
        return {
            key: (f"<{key}>" if key in VOLATILE and item is not None else scrub(item, workspace=workspace))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [scrub(item, workspace=workspace) for item in value]
    if isinstance(value, str) and workspace is not None:
        return value.replace(str(workspace), "<ws>")
    return value


def by_type(lines: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["type"] == kind]


# -- recording cassettes in the test -----------------------------------------------------------------------------------


def cli_flags(args: Sequence[str]) -> tuple[str | None, str | None, dict[str, Any]]:
    """(job_file, prompt_text, flags) exactly as `tau run ARGS` hands them to the config layer."""
    from tau.cli.main import run_command
    from tau.cli.run import _flag_values

    ctx = run_command.make_context("run", list(args))
    params = dict(ctx.params)
    job_file = params.pop("job_file")
    prompt_text = params.pop("prompt_text")
    params.pop("quiet")
    from tau.cli.engines import pop_engine

    pop_engine(params)  # --engine and friends are not job settings
    return job_file, prompt_text, _flag_values(params)


def record_cassette(
    box: Sandbox, args: Sequence[str], steps: Sequence[Any], cassette: Path, *, stdin_text: str | None = None
) -> Any:
    """Run `tau run ARGS --model test:scripted` in-process in `box` with the scripted `steps`, recording `cassette`.

    Returns the terminal `RunCompleted` of the recording run.
    """
    import anyio

    from tau.config import load_job
    from tau.models.cassette import RecordingModel
    from tau.runtime import prepare_run
    from tau.testing import scripted_model

    job_file, prompt_text, flags = cli_flags([*args, "--model", "test:scripted"])
    job = load_job(
        job_path=job_file,
        prompt_text=prompt_text,
        stdin_text=stdin_text,
        flags=flags,
        env=box.env,
        cwd=box.work,
    )
    model, _ = scripted_model(list(steps), model_name="scripted")
    recording = RecordingModel(model, cassette, workspace=job.environment.workspace)

    async def main() -> Any:
        driver = await prepare_run(job, model=recording)
        try:
            return await driver.run()
        finally:
            await driver.close()

    return anyio.run(main)


def finalize(text: str) -> Callable[[Any, Any], Any]:
    """The finalize turn after a budget cap: tools must be hidden; replies `text`."""
    from tau.testing import reply

    def step(messages: Any, info: Any) -> Any:
        assert info.function_tools == [], "the finalize turn must not offer tools"
        return reply(text)

    return step


# -- recorded scenarios, shared across test modules --------------------------------------------------------------------

DATA = "alpha beta gamma\ndelta epsilon\n"


@dataclass(frozen=True)
class Scenario:
    """A scripted run: `tau run ARGS` in a workspace holding `files`, the model played by `steps()`.

    `record_args` are added only while recording (e.g. a timeout that ends a run blocked in a tool); they must not
    change what the model is sent.
    """

    args: tuple[str, ...]
    steps: Callable[[], list[Any]]
    files: dict[str, str] = field(default_factory=lambda: {"data.txt": DATA})
    record_args: tuple[str, ...] = ()


def _steps_sleep() -> list[Any]:
    from tau.testing import calls, reply

    return [calls(("bash", {"command": "sleep 37"}), text="Sleeping."), reply("Awake.")]


def _steps_tool_calls() -> list[Any]:
    from tau.testing import calls

    return [
        calls(("read", {"file_path": "data.txt"}), text="Reading."),
        finalize("Read data.txt; stopping at the tool call budget."),
    ]


def _steps_failures() -> list[Any]:
    from tau.testing import calls

    return [
        calls(("read", {"file_path": "missing-1.txt"})),
        calls(("read", {"file_path": "missing-2.txt"})),
        finalize("Both files are missing."),
    ]


def _steps_turns() -> list[Any]:
    from tau.testing import calls

    return [
        calls(("read", {"file_path": "data.txt"}), text="First look."),
        calls(("grep", {"pattern": "delta"}), text="Second look."),
        finalize("Out of turns: data.txt has 2 lines."),
    ]


def _steps_greet() -> list[Any]:
    from tau.testing import reply

    return [reply("Hello, Ada!", chunk=4)]


def _steps_model_side() -> list[Any]:
    from tau.testing import calls, reply

    return [
        calls(("read", '{"file_path": "data.txt"'), text="Broken JSON first."),
        calls(("frobnicate", {"x": 1})),
        calls(("read", {"file_path": ["data.txt"]})),
        calls(("read", {"file_path": "data.txt"})),
        reply("Recovered: data.txt starts with alpha."),
    ]


def _steps_structured() -> list[Any]:
    from tau.testing import calls

    return [
        calls(("read", {"file_path": "data.txt"})),
        calls(("final_result", {"lines": 2, "first_word": "alpha"})),
    ]


SCHEMA = {
    "type": "object",
    "properties": {"lines": {"type": "integer"}, "first_word": {"type": "string"}},
    "required": ["lines", "first_word"],
    "additionalProperties": False,
}

SCENARIOS: dict[str, Scenario] = {
    "sleep": Scenario(
        ("-p", "Sleep a while.", "--allow", "Bash(sleep *)"), _steps_sleep, record_args=("--timeout", "0.3s")
    ),
    "tool_calls": Scenario(("-p", "Read data.txt.", "--max-tool-calls", "1"), _steps_tool_calls),
    "failures": Scenario(("-p", "Read the missing files.", "--max-consecutive-failures", "2"), _steps_failures),
    "tokens": Scenario(("-p", "Read data.txt.", "--max-tokens", "10"), _steps_tool_calls),
    "turns": Scenario(("-p", "Look twice.", "--max-turns", "2"), _steps_turns),
    "greet": Scenario(("-p", "Greet Ada."), _steps_greet),
    "model_side": Scenario(("-p", "Survive bad tool calls."), _steps_model_side),
    "structured": Scenario(
        ("-p", "Count the lines of data.txt.", "--output-schema", "schema.json"),
        _steps_structured,
        files={"data.txt": DATA, "schema.json": json.dumps(SCHEMA)},
    ),
}


class Recordings:
    """Records each scenario's cassette once per session, on first use."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._paths: dict[str, Path] = {}

    def cassette(self, name: str) -> Path:
        if name not in self._paths:
            scenario = SCENARIOS[name]
            box = Sandbox(self._factory.mktemp(f"record-{name}"))
            box.populate(scenario.files)
            path = box.root / f"{name}.cassette.json"
            record_cassette(box, [*scenario.args, *scenario.record_args], scenario.steps(), path)
            assert path.is_file(), f"recording {name} wrote no cassette"
            self._paths[name] = path
        return self._paths[name]

    def replay_args(self, name: str, box: Sandbox, *extra: str) -> list[str]:
        """`run ARGS --model replay:CASSETTE EXTRA` for `name`, with its files written into `box`."""
        scenario = SCENARIOS[name]
        box.populate(scenario.files)
        return ["run", *scenario.args, "--model", f"replay:{self.cassette(name)}", *extra]


def run_concurrently(jobs: dict[str, Callable[[], TauResult]], workers: int = 4) -> dict[str, TauResult]:
    """Run independent `tau` invocations a few at a time (they are processes; the GIL is not involved)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}
