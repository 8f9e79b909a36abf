"""Smoke tests of the frozen binary (`TAU_BINARY`): the shipped commands and every lazily imported code path.

Static analysis cannot prove that PyInstaller bundled what tau imports inside functions, so each lazy path runs here
through the binary: the replay model and the three output formats (the `tau run` core), jsonschema (output schemas,
imported through importlib), pydantic-ai's test model, the OpenAI SDK (against aimock, and against a closed port
for the `openai` and `ollama` providers) and the Anthropic SDK (closed port: a provider error, never an ImportError).

The feature stacks (a stdio MCP server, the docker sandbox, `tau serve` with a Connect client, `tau watch`) are in
test_frozen_features.py; the usage examples of examples/deploy in test_deploy_examples.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from tau import __version__

RunTau = Callable[..., subprocess.CompletedProcess[str]]  # the `run_tau` fixture of conftest.py
ANSWER = "data.txt has 3 lines and 20 words. I wrote a two-line summary to notes/summary.md."
IMPORT_FAILURES = ("ModuleNotFoundError", "ImportError", "No module named", "internal error", "PackageNotFoundError")


def _one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert lines[0].startswith("tau: "), lines[0]
    assert not any(marker in lines[0] for marker in IMPORT_FAILURES), lines[0]
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_version(run_tau: RunTau) -> None:
    result = run_tau("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"tau {__version__}"


def test_help_lists_the_commands(run_tau: RunTau) -> None:
    result = run_tau("--help")
    assert result.returncode == 0, result.stderr
    for command in ("run", "schema"):
        assert f"  {command} " in result.stdout


def test_run_hello_text(run_tau: RunTau, hello_dir: Path) -> None:
    result = run_tau("run", "hello.md")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ANSWER
    assert len((hello_dir / "notes" / "summary.md").read_text().splitlines()) == 2


def test_run_hello_json(run_tau: RunTau) -> None:
    result = run_tau("run", "hello.md", "--output", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "completed"
    assert report["exit_code"] == 0
    assert report["result"] == ANSWER
    assert report["usage"]["tool_calls"] == 3


def test_run_hello_stream_json_matches_the_event_schema(run_tau: RunTau) -> None:
    schema_result = run_tau("schema", "events")
    assert schema_result.returncode == 0, schema_result.stderr
    schema = json.loads(schema_result.stdout)
    validator = jsonschema.Draft202012Validator(schema)

    result = run_tau("run", "hello.md", "--output", "stream-json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    for event in events:
        errors = [error.message for error in validator.iter_errors(event)]
        assert not errors, f"event {event.get('seq')} ({event.get('type')}) does not match: {errors}"
    assert [event["seq"] for event in events] == list(range(len(events)))
    assert events[0]["type"] == "session.started"
    assert events[-1]["type"] == "run.completed"
    assert events[-1]["exit_code"] == 0
    assert {"tool.started", "tool.completed", "permission.decided"} <= {event["type"] for event in events}


def test_missing_job_file_is_a_one_line_usage_error(run_tau: RunTau) -> None:
    result = run_tau("run", "no-such-job.md")
    assert result.returncode == 2
    assert "no-such-job.md" in _one_line_error(result.stderr)
    assert result.stdout == ""


def test_bad_frontmatter_is_a_one_line_usage_error(run_tau: RunTau, hello_dir: Path) -> None:
    (hello_dir / "bad.md").write_text("---\nmodel: [unclosed\n---\nDo something.\n")
    result = run_tau("run", "bad.md")
    assert result.returncode == 2
    _one_line_error(result.stderr)


def test_output_schema_is_checked_by_bundled_jsonschema(run_tau: RunTau, hello_dir: Path) -> None:
    # The fallback check (no jsonschema) accepts this schema; only jsonschema's meta-schema rejects it.
    (hello_dir / "bad-schema.json").write_text('{"type": "object", "minLength": "x"}')
    result = run_tau("run", "-p", "hi", "--model", "test:scripted", "--output-schema", "bad-schema.json")
    assert result.returncode == 2
    assert "is not of type 'integer'" in _one_line_error(result.stderr)


def test_structured_output_with_the_test_model(run_tau: RunTau, hello_dir: Path) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    (hello_dir / "schema.json").write_text(json.dumps(schema))
    result = run_tau("run", "-p", "hi", "--model", "test:scripted", "--output-schema", "schema.json", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout)["structured_output"]["n"], int)


@pytest.mark.node
def test_openai_compatible_http_run_against_aimock(run_tau: RunTau, aimock_origin: str) -> None:
    result = run_tau(
        "run",
        "-p",
        "please say hello",
        "--model",
        "openai-chat:mock-model",
        env={"OPENAI_BASE_URL": f"{aimock_origin}/v1", "OPENAI_API_KEY": "sk-test"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Hello from aimock, streamed in small chunks."


@pytest.mark.parametrize(
    ("model", "env_prefix", "suffix"),
    [
        ("anthropic:claude-test", "ANTHROPIC", ""),
        ("openai:gpt-test", "OPENAI", "/v1"),
        ("ollama:llama-test", "OLLAMA", "/v1"),
    ],
)
def test_provider_sdk_is_bundled(run_tau: RunTau, model: str, env_prefix: str, suffix: str) -> None:
    """Against a closed port the run fails as a provider error (exit 1), which needs the SDK to be importable."""
    url = f"http://127.0.0.1:{_closed_port()}{suffix}"
    env = {f"{env_prefix}_BASE_URL": url, f"{env_prefix}_API_KEY": "k"}
    result = run_tau("run", "-q", "-p", "hi", "--model", model, env=env)
    assert result.returncode == 1, result.stderr
    assert "provider error" in _one_line_error(result.stderr)
