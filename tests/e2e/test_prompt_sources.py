"""Where the prompt comes from: a job FILE, `-` (stdin, frontmatter allowed), `-p TEXT`; `--var` and `vars:` filling
`{{name}}`; `--output-schema` producing `structured_output`.

One recorded cassette answers "Greet Ada." — replay checks the prompt each run sends against the recorded one, so every
source below that completes with 0 provably produced exactly that prompt; a different variable value diverges.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tau_e2e import SCHEMA, Recordings, Sandbox, TauResult, run_concurrently, run_tau


def _sources(cassette: Path) -> dict[str, tuple[tuple[str, ...], dict[str, str], str]]:
    """name -> (args, files, stdin)."""
    model = f"replay:{cassette}"
    return {
        "p-text": (("run", "-p", "Greet Ada.", "--model", model), {}, ""),
        "p-text-var": (("run", "-p", "Greet {{who}}.", "--var", "who=Ada", "--model", model), {}, ""),
        "file-var-flag": (
            ("run", "job.md", "--var", "who=Ada"),
            {"job.md": f"---\nmodel: {model}\n---\nGreet {{{{who}}}}.\n"},
            "",
        ),
        "file-var-default": (
            ("run", "jobs/job.md"),
            {"jobs/job.md": f"---\nmodel: {model}\nvars:\n  who: Ada\n---\nGreet {{{{ who }}}}.\n"},
            "",
        ),
        "file-flag-overrides-default": (
            ("run", "job.md", "--var", "who=Ada"),
            {"job.md": f"---\nmodel: {model}\nvars:\n  who: Bob\n---\nGreet {{{{who}}}}.\n"},
            "",
        ),
        "stdin-frontmatter": (("run", "-"), {}, f"---\nmodel: {model}\nvars:\n  who: Ada\n---\nGreet {{{{who}}}}.\n"),
        "stdin-plain": (("run", "-", "--model", model), {}, "Greet Ada.\n"),
        "stdin-var-flag": (("run", "-", "--model", model, "--var", "who=Ada"), {}, "Greet {{who}}."),
    }


@pytest.fixture(scope="module")
def source_results(tmp_path_factory: pytest.TempPathFactory, recordings: Recordings) -> dict[str, TauResult]:
    cassette = recordings.cassette("greet")
    jobs: dict[str, Callable[[], TauResult]] = {}
    for name, (args, files, stdin) in _sources(cassette).items():
        box = Sandbox(tmp_path_factory.mktemp(name))
        box.populate(files)
        jobs[name] = functools.partial(run_tau, *args, "-o", "json", sandbox=box, input=stdin)
    return run_concurrently(jobs)


@pytest.mark.parametrize("name", list(_sources(Path("x"))))
def test_prompt_source_sends_the_recorded_prompt(name: str, source_results: dict[str, TauResult]) -> None:
    result = source_results[name]
    assert result.returncode == 0, result
    obj = result.json
    assert (obj["status"], obj["result"], obj["error"]) == ("completed", "Hello, Ada!", None)
    assert result.stderr == ""


def test_another_var_value_changes_the_prompt(sandbox: Sandbox, recordings: Recordings) -> None:
    cassette = recordings.cassette("greet")
    args = ("run", "-p", "Greet {{who}}.", "--var", "who=Bob", "--model", f"replay:{cassette}", "-o", "json")
    result = run_tau(*args, sandbox=sandbox)
    assert result.returncode == 1, result
    obj = result.json
    assert (obj["terminal_reason"], obj["error"]) == (
        "replay_diverged",
        "replay diverged at step 1: user prompt differs (recorded 'Greet Ada.', got 'Greet Bob.')",
    )


def test_output_schema_gives_structured_output(sandbox: Sandbox, recordings: Recordings) -> None:
    result = run_tau(*recordings.replay_args("structured", sandbox, "-o", "json"), sandbox=sandbox)
    assert result.returncode == 0, result
    obj = result.json
    assert obj["structured_output"] == {"lines": 2, "first_word": "alpha"}
    assert json.loads(obj["result"]) == obj["structured_output"]
    assert (obj["status"], obj["terminal_reason"], obj["error"]) == ("completed", "completed", None)
    assert json.loads((sandbox.work / "schema.json").read_text()) == SCHEMA


def test_invalid_output_schema_is_a_usage_error(sandbox: Sandbox, recordings: Recordings) -> None:
    args = recordings.replay_args("structured", sandbox, "-o", "json")
    sandbox.write("schema.json", json.dumps({"type": "object", "required": "lines"}))
    result = run_tau(*args, sandbox=sandbox)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert len(result.stderr_lines) == 1, result
    assert result.stderr_lines[0].startswith(
        "tau: --output-schema: output.schema: schema file schema.json: invalid JSON Schema"
    )
