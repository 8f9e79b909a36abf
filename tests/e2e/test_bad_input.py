"""Operator mistakes through the real CLI: exit 2, ONE stderr line `tau: ...` naming the file / flag / field, no
traceback, nothing on stdout. And the model's mistakes (bad tool calls), which are not operator errors: the run
survives them and completes with 0.

The cases are independent processes, so they run concurrently (module-scoped) and each test checks its own result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from tau_e2e import Recordings, Sandbox, TauResult, assert_stream_contract, by_type, run_concurrently, run_tau

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
    stdin: str = ""


P = ("run", "-p", "Say hi.", "--model", "test:scripted")  # a valid -p run, to add one bad flag to

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
    assert len(CASES) >= 30
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
    assert result.returncode == 2, result


def test_model_mistakes_are_survived(sandbox: Sandbox, recordings: Recordings, event_schema: dict[str, Any]) -> None:
    """Invalid JSON arguments, an unknown tool and wrong argument types go back to the model; the run completes."""
    result = run_tau(*recordings.replay_args("model_side", sandbox, "-o", "stream-json"), sandbox=sandbox)
    assert result.returncode == 0, result
    assert_stream_contract(result.lines, event_schema)
    outcomes = [(e["name"], e["status"]) for e in by_type(result.lines, "tool.completed")]
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
