"""Job documents: frontmatter, prompt sources, `{{ var }}` templates, workspace and output schema resolution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from config_sandbox import Sandbox

from tau.config.jobfile import parse_job_text, render_template, split_frontmatter, template_names
from tau.config.loader import parse_var_flags
from tau.errors import ConfigError


def test_frontmatter_and_body_are_split() -> None:
    data, body = split_frontmatter("---\nmodel: test:x\nvars:\n  a: 1\n---\n# Title\n\nBody\n", source="j.md")
    assert data == {"model": "test:x", "vars": {"a": 1}}
    assert body == "# Title\n\nBody\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No frontmatter\n---\nstill body", ({}, "No frontmatter\n---\nstill body")),
        ("---\n---\nbody", ({}, "body")),
        ("\ufeff---\nmodel: a:b\n...\nbody", ({"model": "a:b"}, "body")),
        ("---\r\nmodel: a:b\r\n---\r\nbody\r\n", ({"model": "a:b"}, "body\r\n")),
        ("", ({}, "")),
    ],
    ids=["none", "empty", "bom-and-dots", "crlf", "empty-text"],
)
def test_frontmatter_edge_cases(text: str, expected: tuple[dict[str, object], str]) -> None:
    assert split_frontmatter(text, source="j.md") == expected


def test_yaml_error_reports_the_file_line() -> None:
    with pytest.raises(ConfigError) as caught:
        split_frontmatter("---\nmodel: x\ntools: [a, b\nlimits: {}\n---\nbody", source="job.md")
    assert str(caught.value).startswith("job.md: invalid YAML frontmatter at line ")
    assert caught.value.source == "job.md"


def test_p_text_is_verbatim() -> None:
    document = parse_job_text("---\nmodel: x\n---\n", source="<-p>", base_dir=Path("/"), frontmatter=False)
    assert (document.frontmatter, document.body) == ({}, "---\nmodel: x\n---\n")


def test_template_substitution_is_whitespace_tolerant_and_single_pass() -> None:
    text = "{{a}} {{ a }} {{  b-c  }} \\{{ a }} {{ not a var }} {{#if}}"
    assert template_names(text) == ["a", "b-c"]
    assert (
        render_template(text, {"a": "{{b-c}}", "b-c": "B"}, source="s")
        == "{{b-c}} {{b-c}} B {{ a }} {{ not a var }} {{#if}}"
    )


def test_missing_variables_are_all_named() -> None:
    with pytest.raises(ConfigError) as caught:
        render_template("{{x}} {{y}} {{x}}", {}, source="job.md")
    assert str(caught.value) == (
        "job.md: prompt: missing variable 'x', 'y': pass --var x=... --var y=... or set a default under 'vars:'"
    )


def test_var_flags() -> None:
    assert parse_var_flags(["a=1", "b=", "c=x=y", " d =2"]) == {"a": "1", "b": "", "c": "x=y", "d": "2"}
    assert parse_var_flags({"a": 1}) == {"a": "1"}
    assert parse_var_flags("a=b") == {"a": "b"}


def test_stdin_is_parsed_like_a_job_file(sandbox: Sandbox) -> None:
    spec = sandbox.load("-", stdin_text="---\nmodel: test:x\nvars: {n: 2}\n---\n  Count to {{n}}.\n")
    assert (spec.source, spec.prompt, spec.model.ref) == ("<stdin>", "Count to 2.", "test:x")


def test_p_prompt_uses_env_and_flags(sandbox: Sandbox) -> None:
    spec = sandbox.load(None, prompt_text="Say {{w}}", env={"TAU_MODEL": "test:x"}, flags={"vars": ["w=hi"]})
    assert (spec.source, spec.prompt) == ("<-p>", "Say hi")


def test_default_workspace_is_process_cwd_not_job_dir(sandbox: Sandbox) -> None:
    sandbox.write("jobs/review.md", "---\nmodel: test:x\n---\nReview.")
    spec = sandbox.load(str(sandbox.root / "jobs" / "review.md"))
    assert spec.environment.kind == "host"
    assert spec.environment.workspace == str(sandbox.proj)


def test_sandbox_settings_and_container_flag(sandbox: Sandbox) -> None:
    sandbox.job("---\nmodel: test:x\nenvironment: docker\nsandbox: {memory: 512m, network: bridge}\n---\nhi")
    spec = sandbox.load()
    assert (spec.environment.kind, spec.environment.sandbox.memory) == ("docker", 512 * 1024**2)
    assert spec.environment.sandbox.network == "bridge"
    attached = sandbox.load(flags={"container": "dev", "keep_sandbox": True})
    assert (attached.environment.kind, attached.environment.sandbox.container) == ("docker", "dev")


def test_frontmatter_cwd_is_relative_to_the_job_file(sandbox: Sandbox) -> None:
    (sandbox.root / "jobs" / "repo").mkdir(parents=True)
    sandbox.write("jobs/review.md", "---\nmodel: test:x\ncwd: repo\nenvironment: {kind: host}\n---\nReview.")
    spec = sandbox.load("../../../jobs/review.md")
    assert spec.environment.workspace == str(sandbox.root / "jobs" / "repo")
    assert spec.source == "../../../jobs/review.md"


def test_project_config_cwd_is_relative_to_the_config_file(sandbox: Sandbox) -> None:
    sandbox.project_config('cwd = ".."\n')
    sandbox.job("---\nmodel: test:x\n---\nGo.")
    assert sandbox.load().environment.workspace == str(sandbox.proj)


def test_cwd_flag_is_relative_to_process_cwd(sandbox: Sandbox) -> None:
    (sandbox.proj / "sub").mkdir()
    sandbox.job("---\nmodel: test:x\ncwd: /nonexistent\n---\nGo.")
    assert sandbox.load(flags={"cwd": "sub"}).environment.workspace == str(sandbox.proj / "sub")


def test_schema_file_relative_to_job_and_yaml_supported(sandbox: Sandbox) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    sandbox.write("jobs/schemas/out.json", json.dumps(schema))
    sandbox.write("jobs/j.md", "---\nmodel: test:x\noutput: {format: json, schema: schemas/out.json}\n---\nGo.")
    spec = sandbox.load(str(sandbox.root / "jobs" / "j.md"))
    assert spec.output.format == "json"
    assert spec.output.schema_ == schema
    assert spec.output.schema_source == str(sandbox.root / "jobs" / "schemas" / "out.json")
    sandbox.write("home/code/proj/s.yaml", "type: object\nproperties: {n: {type: integer}}\n")
    from_flag = sandbox.load(flags={"output_schema": "s.yaml", "model": "test:x"}, job_path=None, prompt_text="x")
    assert from_flag.output.schema_ == {"type": "object", "properties": {"n": {"type": "integer"}}}


def test_structural_fallback_without_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from tau.config import output_schema

    real = importlib.import_module

    def no_jsonschema(name: str, package: str | None = None) -> object:
        if name == "jsonschema":
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_jsonschema)  # restored after the test
    output_schema.check_schema(
        {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}, source="s", field=None
    )
    cases: list[tuple[dict[str, Any], str]] = [
        ({"type": "banana"}, "'banana' is not a valid type"),
        ({"required": "a"}, "'required' must be a list of strings"),
        ({"properties": []}, "'properties' must be an object"),
        ({"type": "array", "items": {"type": "nope"}}, "items: 'nope' is not a valid type"),
        ({"properties": {"a": 3}}, "properties/a: a schema must be an object or a boolean"),
    ]
    for bad, problem in cases:
        with pytest.raises(ConfigError, match=problem):
            output_schema.check_schema(bad, source="s", field="output.schema")


def test_record_path_and_session_id_flags(sandbox: Sandbox) -> None:
    sandbox.job("---\nmodel: test:x\n---\nGo.")
    spec = sandbox.load(flags={"record": "out/c.jsonl", "session_id": "abc"})
    assert (spec.record_path, spec.session_id) == (str(sandbox.proj / "out" / "c.jsonl"), "abc")


def test_instructions_get_variables(sandbox: Sandbox) -> None:
    sandbox.user_config('instructions = "You work on {{repo}}."\n')
    sandbox.job("---\nmodel: test:x\nvars: {repo: tau}\n---\nGo.")
    assert sandbox.load().instructions == "You work on tau."
