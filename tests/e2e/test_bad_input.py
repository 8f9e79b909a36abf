"""Operator mistakes through the real CLI: exit 2 (3 for a store that cannot be written before the run), ONE stderr
line `tau: ...` naming the file / flag / field, no traceback, nothing on stdout. And the model's mistakes (bad tool
calls), which are not operator errors: the run survives them and completes with 0.

Hostile input families (issue #13): nesting past the parsers' recursion, lone surrogates and NUL, undecodable
argument bytes, non-finite and huge numbers, paths that are no paths, unusable output schemas, bad MCP URLs and image
names, state dirs that are files, read-only or on a full disk, a deleted working directory, `--record` targets that
cannot be written, `tau watch` on a missing directory, `tau serve --port 99999`. The full-disk and read-only cases
mount a small tmpfs (root only; skipped elsewhere).

The cases are independent processes, so they run concurrently (module-scoped) and each test checks its own result.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tau_e2e import (
    TAU,
    Recordings,
    Sandbox,
    TauResult,
    assert_stream_contract,
    by_type,
    record_cassette,
    run_concurrently,
    run_tau,
)

JOB = "---\nmodel: test:scripted\n---\nSay hi.\n"


def job(frontmatter: str, body: str = "Say hi.\n") -> str:
    return f"---\nmodel: test:scripted\n{frontmatter}---\n{body}"


@dataclass(frozen=True)
class Bad:
    """`tau ARGS` in a sandbox holding `files` (relative to the workspace; `~/` means $HOME), with `env` added."""

    id: str
    args: tuple[str, ...]
    names: tuple[str, ...]  # substrings the one stderr line must contain: the file/flag/field and the problem
    files: dict[str, str | bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | bytes = ""
    code: int = 2


P = ("run", "-p", "Say hi.", "--model", "test:scripted")  # a valid -p run, to add one bad flag to
P_ = (*P, "--strict-mcp-config")
DEEP = "[" * 3000 + "]" * 3000
ALIAS_BOMB = "".join(f"b{i}: &b{i} [{', '.join([f'*b{i - 1}' if i else 'x'] * 9)}]\n" for i in range(9))
SURROGATE = 'instructions: "\\ud800"\n'
NAN_USD = "limits: {max_usd: .nan}\n"
NUL_SCHEMA = 'output: {schema: "s\\0.json"}\n'
STR_SCHEMA = "output: {schema: {type: string}}\n"
REF_SCHEMA = "output: {schema: {$ref: 'http://127.0.0.1:1/s.json'}}\n"
TINY_OUTPUT = "limits: {tool_output_chars: 1}\n"
CONFIG = ".tau/config.toml"
USER = "~/.config/tau/config.toml"
SETTINGS = ".claude/settings.json"
IMAGE = '[sandbox]\nimage = "BAD IMAGE:::"\n'


def mcp_url(url: str) -> str:
    return json.dumps({"mcpServers": {"a": {"type": "http", "url": url}}})


CASES: list[Bad] = [
    # job files
    Bad("yaml-invalid", ("run", "job.md"), ("job.md", "invalid YAML"), {"job.md": "---\nmodel: [oops\n---\nhi\n"}),
    Bad("frontmatter-unclosed", ("run", "job.md"), ("job.md", "never closed"), {"job.md": "---\nmodel: test:x\nhi\n"}),
    Bad("frontmatter-list", ("run", "job.md"), ("job.md", "mapping"), {"job.md": "---\n- a\n- b\n---\nhi\n"}),
    Bad("unknown-key", ("run", "job.md"), ("job.md", "'modle'", "'model'"), {"job.md": "---\nmodle: x\n---\nhi\n"}),
    Bad(
        "wrong-type-int",
        ("run", "job.md"),
        ("job.md", "limits.max_turns", "lots"),
        {"job.md": job("limits:\n  max_turns: lots\n")},
    ),
    Bad(
        "wrong-type-list",
        ("run", "job.md"),
        ("job.md", "permissions.allow"),
        {"job.md": job("permissions:\n  allow: Bash(ls)\n")},
    ),
    Bad(
        "wrong-type-bool",
        ("run", "job.md"),
        ("job.md", "limits.timeout"),
        {"job.md": job("limits:\n  timeout: true\n")},
    ),
    Bad("missing-var", ("run", "job.md"), ("job.md", "'who'"), {"job.md": job("", "Hello {{who}}.\n")}),
    Bad("missing-var-p", ("run", "-p", "Hi {{who}}", "--model", "test:x"), ("<-p>", "'who'")),
    Bad("missing-file", ("run", "nope.md"), ("nope.md", "not found")),
    Bad("directory", ("run", "jobs"), ("jobs", "directory"), {"jobs/keep.md": JOB}),
    Bad("not-utf8", ("run", "latin.md"), ("latin.md", "UTF-8"), {"latin.md": b"---\nmodel: test:x\n---\ncaf\xe9\n"}),
    Bad("empty-prompt", ("run", "job.md"), ("job.md", "empty prompt"), {"job.md": job("", "  \n\n")}),
    Bad("empty-stdin", ("run", "-", "--model", "test:x"), ("<stdin>", "empty prompt")),
    Bad("stdin-bad-yaml", ("run", "-"), ("<stdin>", "invalid YAML"), stdin="---\nmodel: [\n---\nhi\n"),
    Bad("both-file-and-p", ("run", "job.md", "-p", "hi"), ("-p", "not both"), {"job.md": JOB}),
    Bad("no-prompt", ("run",), ("tau run", "no prompt")),
    Bad("unknown-env", ("run", "job.md"), ("job.md", "environment", "vm"), {"job.md": job("environment: vm\n")}),
    # models and credentials
    Bad("unknown-provider", ("run", "-p", "hi", "--model", "bogus:x"), ("--model", "'bogus'")),
    Bad("model-no-provider", ("run", "-p", "hi", "--model", "gpt-4o"), ("--model", "provider:name")),
    Bad("no-model", ("run", "-p", "hi"), ("model", "no model configured")),
    Bad("missing-openai-key", ("run", "-p", "hi", "--model", "openai:gpt-4o-mini"), ("--model", "OPENAI_API_KEY")),
    Bad("openai-chat-no-url", ("run", "-p", "hi", "--model", "openai-chat:m"), ("--model", "base URL")),
    Bad("missing-cassette", ("run", "-p", "hi", "--model", "replay:none.json"), ("--model", "none.json")),
    Bad(
        "not-a-cassette",
        ("run", "-p", "hi", "--model", "replay:other.json"),
        ("other.json", "not a tau cassette"),
        {"other.json": "{}"},
    ),
    # flags
    Bad("var-no-equals", (*P, "--var", "novalue"), ("--var", "novalue")),
    Bad("var-bad-name", (*P, "--var", "1x=2"), ("--var", "'1x'")),
    Bad("bad-duration", (*P, "--timeout", "soon"), ("--timeout", "soon")),
    Bad("zero-duration", (*P, "--idle-timeout", "0"), ("--idle-timeout",)),
    Bad("max-turns-zero", (*P, "--max-turns", "0"), ("--max-turns",)),
    Bad("max-usd-negative", (*P, "--max-usd", "-1"), ("--max-usd",)),
    Bad("output-choice", (*P, "-o", "yaml"), ("--output", "yaml")),
    Bad("permission-mode-choice", (*P, "--permission-mode", "yolo"), ("--permission-mode", "yolo")),
    Bad("max-turns-not-int", (*P, "--max-turns", "abc"), ("--max-turns", "abc")),
    Bad("unknown-option", (*P, "--bogus"), ("--bogus",)),
    Bad("unknown-command", ("frob",), ("frob",)),
    Bad("rule-malformed-flag", (*P, "--allow", "Bash("), ("--allow", "Bash(")),
    Bad(
        "rule-malformed-frontmatter",
        ("run", "job.md"),
        ("job.md", "Bash("),
        {"job.md": job("permissions:\n  deny: ['Bash(']\n")},
    ),
    Bad(
        "unknown-tool-frontmatter",
        ("run", "job.md"),
        ("job.md", "tools", "frobnicate"),
        {"job.md": job("tools: [read, frobnicate]\n")},
    ),
    Bad("unknown-tool-flag", (*P, "--tools", "read,zap"), ("--tools", "zap")),
    Bad("cwd-missing", (*P, "--cwd", "nowhere"), ("--cwd", "nowhere")),
    Bad("record-into-directory", (*P, "--record", "tapes"), ("--record", "tapes"), {"tapes/keep": ""}),
    # output schemas
    Bad(
        "schema-invalid",
        (*P, "--output-schema", "schema.json"),
        ("--output-schema", "schema.json", "invalid JSON Schema"),
        {"schema.json": json.dumps({"type": "object", "properties": 5})},
    ),
    Bad(
        "schema-not-json",
        (*P, "--output-schema", "schema.json"),
        ("--output-schema", "schema.json", "not valid JSON"),
        {"schema.json": "type: object"},
    ),
    Bad("schema-missing", (*P, "--output-schema", "gone.json"), ("--output-schema", "gone.json")),
    Bad(
        "schema-inline-invalid",
        ("run", "job.md"),
        ("job.md", "output.schema"),
        {"job.md": job("output:\n  schema: {type: 7}\n")},
    ),
    # config files and environment
    Bad(
        "project-config-toml",
        ("run", "job.md"),
        (".tau/config.toml", "invalid TOML"),
        {"job.md": JOB, ".tau/config.toml": "max_turns = ["},
    ),
    Bad(
        "project-config-key",
        ("run", "job.md"),
        (".tau/config.toml", "'modle'"),
        {"job.md": JOB, ".tau/config.toml": 'modle = "test:x"\n'},
    ),
    Bad(
        "user-config-key",
        ("run", "job.md"),
        (".config/tau/config.toml", "'bogus'"),
        {"job.md": JOB, "~/.config/tau/config.toml": "bogus = 1\n"},
    ),
    Bad("env-max-turns", ("run", "job.md"), ("TAU_MAX_TURNS", "many"), {"job.md": JOB}, {"TAU_MAX_TURNS": "many"}),
    Bad("env-output", ("run", "job.md"), ("TAU_OUTPUT", "xml"), {"job.md": JOB}, {"TAU_OUTPUT": "xml"}),
    Bad("env-timeout", ("run", "job.md"), ("TAU_TIMEOUT", "forever"), {"job.md": JOB}, {"TAU_TIMEOUT": "forever"}),
    *[  # hostile input, family by family (issue #13)
        Bad("yaml-deep", ("run", "job.md"), ("job.md", "nested more than 64"), {"job.md": job(f"vars: {DEEP}\n")}),
        Bad("yaml-alias-bomb", ("run", "job.md"), ("job.md", "200000 values"), {"job.md": job(ALIAS_BOMB)}),
        Bad(
            "yaml-bad-date", ("run", "job.md"), ("job.md", "month must be"), {"job.md": job("vars: {d: 2024-13-45}\n")}
        ),
        Bad(
            "toml-deep",
            ("run", "job.md"),
            ("config.toml", "nested more than 64"),
            {"job.md": JOB, CONFIG: f"a = {DEEP}"},
        ),
        Bad(
            "toml-digits",
            ("run", "job.md"),
            ("config.toml", "4300 digits"),
            {"job.md": JOB, CONFIG: "a = 9" + "9" * 5000},
        ),
        Bad("mcp-json-deep", (*P_, "--mcp-config", '{"mcpServers": ' + DEEP + "}"), ("--mcp-config", "nested more")),
        Bad("yaml-surrogate", ("run", "job.md"), ("job.md", "instructions", "surrogate"), {"job.md": job(SURROGATE)}),
        Bad("p-not-utf8", ("run", "-p", "hi \udcff", "--model", "test:x"), ("-p", "not valid UTF-8", "0xff")),
        Bad("stdin-not-utf8", ("run", "-"), ("<stdin>", "UTF-8"), stdin=b"---\nmodel: test:x\n---\nhi \xff\n"),
        Bad("timeout-1e999", (*P, "--timeout", "1e999"), ("--timeout", "31622400")),
        Bad("timeout-huge", (*P, "--timeout", "99999999999999d"), ("--timeout", "31622400")),
        Bad("max-usd-inf", (*P, "--max-usd", "inf"), ("--max-usd", "finite")),
        Bad("max-usd-nan-yaml", ("run", "job.md"), ("job.md", "limits.max_usd", "finite"), {"job.md": job(NAN_USD)}),
        Bad("max-turns-huge", (*P, "--max-turns", "9" * 30), ("--max-turns", "out of range")),
        Bad("schema-nul-yaml", ("run", "job.md"), ("job.md", "output.schema", "NUL"), {"job.md": job(NUL_SCHEMA)}),
        Bad("cwd-nul-yaml", ("run", "job.md"), ("job.md", "cwd", "NUL"), {"job.md": job('cwd: "a\\0b"\n')}),
        Bad("cwd-no-user", (*P, "--cwd", "~nosuchuser-tau/x"), ("--cwd", "no such user")),
        Bad(
            "mcp-not-utf8",
            ("run", "job.md", "--trust-workspace"),
            (".mcp.json", "UTF-8"),
            {"job.md": JOB, ".mcp.json": b"{\xff}"},
        ),
        Bad("settings-not-utf8", ("run", "job.md"), ("settings.json", "UTF-8"), {"job.md": JOB, SETTINGS: b"{\xff}"}),
        Bad("mcp-url-ipv6", (*P_, "--mcp-config", mcp_url("http://[::1")), ("--mcp-config", "mcpServers.a.url")),
        Bad("mcp-url-words", (*P_, "--mcp-config", mcp_url("not a url")), ("--mcp-config", "'not a url'")),
        Bad(
            "image-name", ("run", "job.md"), ("config.toml", "sandbox.image", "BAD IMAGE"), {"job.md": JOB, USER: IMAGE}
        ),
        Bad(
            "schema-not-object",
            ("run", "job.md"),
            ("job.md", "output.schema", "JSON object"),
            {"job.md": job(STR_SCHEMA)},
        ),
        Bad("schema-remote-ref", ("run", "job.md"), ("job.md", "output.schema", "$defs"), {"job.md": job(REF_SCHEMA)}),
        Bad("env-name", ("run", "job.md"), ("job.md", "env", "'A=B'"), {"job.md": job('env: {"A=B": x}\n')}),
        Bad("base-url", (*P, "--base-url", "not a url"), ("--base-url", "'not a url'")),
        Bad("tool-output-chars", ("run", "job.md"), ("job.md", "tool_output_chars"), {"job.md": job(TINY_OUTPUT)}),
        Bad("state-dir-file", (*P, "--state-dir", "f"), ("--state-dir", "not a directory"), {"f": "x"}),
        Bad("state-dir-env-file", (*P,), ("TAU_STATE_DIR", "not a directory"), {"f": "x"}, {"TAU_STATE_DIR": "f"}),
        Bad("state-dir-under-file", (*P, "--state-dir", "f/s"), ("--state-dir", "cannot create"), {"f": "x"}),
        Bad(
            "sessions-state-file", ("sessions", "ls", "--state-dir", "f"), ("--state-dir", "not a directory"), {"f": ""}
        ),
        Bad("sessions-since-huge", ("sessions", "ls", "--since", "99999999999d"), ("--since", "99999999999d")),
        Bad("record-proc", (*P, "--record", "/proc/tape.json"), ("--record", "cannot write a cassette")),
        Bad("record-device", (*P, "--record", "/dev/null"), ("--record", "not a regular file")),
        Bad("watch-missing", ("watch", "nope", "--once"), ("tau watch", "nope", "does not exist")),
        Bad("watch-bad-flag", ("watch", "in", "--timeout", "inf"), ("--timeout",), {"in/keep": ""}),
        Bad("serve-port", ("serve", "--port", "99999"), ("--port", "99999")),
    ],
]


def _prepare(case: Bad, box: Sandbox) -> Callable[[], TauResult]:
    for relative, content in case.files.items():
        if relative.startswith("~/"):
            path = box.home / relative[2:]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        else:
            box.write(relative, content)
    env = {**box.env, **case.env}
    assert not any(key.endswith("_API_KEY") for key in env)  # a clean environment: no credentials leak in
    return lambda: run_tau(*case.args, sandbox=box, env=env, input=case.stdin)


@pytest.fixture(scope="module")
def bad_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TauResult]:
    """Every case's result; the processes run 4 at a time."""
    return run_concurrently({case.id: _prepare(case, Sandbox(tmp_path_factory.mktemp(case.id))) for case in CASES})


def test_at_least_thirty_cases() -> None:
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_operator_mistake_is_one_line_and_exit_2(case: Bad, bad_results: dict[str, TauResult]) -> None:
    result = bad_results[case.id]
    assert "Traceback" not in result.stderr, result
    assert len(result.stderr_lines) == 1, result
    line = result.stderr_lines[0]
    assert line.startswith("tau: "), result
    missing = [name for name in case.names if name not in line]
    assert not missing, f"stderr does not name {missing}: {line!r}"
    assert result.stdout == "", result
    assert result.returncode == case.code, result


def test_model_mistakes_are_survived(sandbox: Sandbox, recordings: Recordings, event_schema: dict[str, Any]) -> None:
    """Invalid JSON arguments, an unknown tool and wrong argument types go back to the model; the run completes."""
    result = run_tau(*recordings.replay_args("model_side", sandbox, "-o", "stream-json"), sandbox=sandbox)
    assert result.returncode == 0, result
    assert_stream_contract(result.lines, event_schema)
    outcomes = [(e["tool"], e["status"]) for e in by_type(result.lines, "tool.completed")]
    assert outcomes == [("read", "retried"), ("frobnicate", "retried"), ("read", "retried"), ("read", "success")]
    outputs = [e["output"] for e in by_type(result.lines, "tool.completed")]
    assert "Invalid JSON" in outputs[0]
    assert "Unknown tool name: 'frobnicate'" in outputs[1]
    assert "Input should be a valid string" in outputs[2]
    assert outputs[3] == "     1\talpha beta gamma\n     2\tdelta epsilon"
    assert [e["input"] for e in by_type(result.lines, "tool.started")] == [
        {"_raw": '{"file_path": "data.txt"'},
        {"x": 1},
        {"file_path": ["data.txt"]},
        {"file_path": "data.txt"},
    ]
    last = result.last()
    assert (last["status"], last["terminal_reason"], last["result"]) == (
        "completed",
        "completed",
        "Recovered: data.txt starts with alpha.",
    )
    assert result.stderr == ""


# -- the environment turns hostile: a deleted cwd, a read-only or full state dir -----------------------------------


def test_deleted_working_directory_is_one_line(sandbox: Sandbox) -> None:
    script = 'mkdir gone && cd gone && rmdir ../gone && exec "$@"'
    completed = subprocess.run(
        ["sh", "-c", script, "sh", *TAU, "run", "-p", "hi", "--model", "test:x"],
        cwd=sandbox.work,
        env=sandbox.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2, completed
    assert completed.stderr == (
        "tau: current directory: it no longer exists (deleted?): cd to an existing directory\n"
    ), completed
    assert completed.stdout == ""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (needs root), unmounted after the test."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], check=False)


def test_read_only_state_dir(sandbox: Sandbox, small_disk: Path) -> None:
    state = small_disk / "state"
    first = run_tau("run", "-p", "hi", "--model", "test:x", "-q", "--state-dir", str(state), sandbox=sandbox)
    assert first.returncode == 0, first
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)

    run = run_tau("run", "-p", "hi", "--model", "test:x", "--state-dir", str(state), sandbox=sandbox)
    assert (run.returncode, run.stdout) == (2, ""), run
    assert run.stderr == f"tau: --state-dir: cannot create or write to {state}: Read-only file system\n"

    listed = run_tau("sessions", "ls", "--json", "--state-dir", str(state), sandbox=sandbox)
    assert (listed.returncode, listed.stderr) == (0, ""), listed
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["status"], row["title"]) == ("completed", "hi")
    checked = run_tau("sessions", "fsck", "--state-dir", str(state), sandbox=sandbox)
    assert (checked.returncode, checked.stdout) == (0, f"ok: {state}\n"), checked


def _fill_up(path: Path) -> None:
    with path.open("wb", buffering=0) as handle:
        try:
            while handle.write(b"\0" * 4096):
                pass
        except OSError:  # ENOSPC: full
            pass


def test_full_disk_mid_run_ends_with_the_terminal_event(
    sandbox: Sandbox, small_disk: Path, event_schema: dict[str, Any]
) -> None:
    """The model's first tool call fills the disk the state dir lives on; the next commit cannot be written. The run
    still ends with `run.completed` (failed, `session_write_failed`) as the last stdout line, the session is listed
    and explained by fsck, a new run on the full disk is a one-line preflight failure, and once space is back the
    session resumes."""
    from tau.testing import calls, reply

    args = ("-p", "Fill the disk.", "--allow", "Bash(head *)", "--permission-mode", "acceptEdits")
    fill = "head -c 4000000 /dev/zero > fill; echo filled"
    cassette = sandbox.root / "fill.cassette.json"
    record_cassette(sandbox, args, [calls(("bash", {"command": fill}), text="Filling."), reply("Done.")], cassette)
    work, state = small_disk / "work", small_disk / "state"
    work.mkdir()
    where = ("--state-dir", str(state))

    result = run_tau(
        "run", *args, "--model", f"replay:{cassette}", "-o", "stream-json", *where, sandbox=sandbox, cwd=work
    )
    assert result.returncode == 1, result
    assert_stream_contract(result.lines, event_schema)
    last = result.last()
    assert (last["status"], last["terminal_reason"], last["error_kind"]) == (
        "failed",
        "session_write_failed",
        "StoreWriteError",
    )
    assert "No space left on device" in last["error"]
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, result
    session = last["session_id"]

    listed = run_tau("sessions", "ls", "--json", *where, sandbox=sandbox, cwd=work)
    assert (listed.returncode, listed.stderr) == (0, ""), listed
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["id"], row["status"]) == (session, "interrupted")  # as fsck says: its writer is gone
    checked = run_tau("sessions", "fsck", *where, sandbox=sandbox, cwd=work)
    assert checked.returncode == 0, checked
    note, ok = checked.stdout.splitlines()
    assert note.startswith(f"session {session}: interrupted at step 1"), note  # the response, committed before its call
    assert f"tau resume {session} -p TEXT" in note
    assert ok == f"ok: {state} (1 interrupted session)"

    _fill_up(small_disk / "rest")  # the failed commit's temp file gave a few blocks back: take them
    again = run_tau("run", "-p", "hi", "--model", "test:x", *where, sandbox=sandbox, cwd=work)
    assert (again.returncode, again.stdout) == (3, ""), again
    assert len(again.stderr_lines) == 1 and "No space left on device" in again.stderr, again

    (work / "fill").unlink()
    (small_disk / "rest").unlink()
    resumed = run_tau("resume", session, "-p", "Go on.", "--model", "test:x", "-q", *where, sandbox=sandbox, cwd=work)
    assert resumed.returncode == 0, resumed
    assert run_tau("sessions", "fsck", *where, sandbox=sandbox, cwd=work).stdout == f"ok: {state}\n"
