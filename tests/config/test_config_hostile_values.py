"""Hostile values, family by family: the config layer turns each into ONE ConfigError line naming the source and the
field — never a RecursionError, UnicodeEncodeError, OverflowError, ValueError or RuntimeError from below.

Families: nesting (YAML, TOML, JSON, aliases), text (lone surrogates, NUL), numbers (inf, nan, 1e999, huge ints,
5,000-digit literals), durations and counts (caps), paths (`~nosuchuser`, symlink loops, NUL, PATH_MAX), names docker
and the OS refuse (image, container, environment variable), URLs, output schemas pydantic-ai cannot use, and `--record`
targets that cannot be written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from config_sandbox import Sandbox

from tau.config.documents import MAX_DEPTH, check_tree, load_json, load_toml, load_yaml
from tau.config.paths import user_path
from tau.config.settings import MAX_DURATION, http_url_problem, parse_duration, validate_layer
from tau.errors import ConfigError
from tau.mcp.config import load_servers

JOB = "---\nmodel: test:x\n{}---\nDo it.\n"


def job_error(sandbox: Sandbox, frontmatter: str) -> str:
    sandbox.job(JOB.format(frontmatter))
    with pytest.raises(ConfigError) as caught:
        sandbox.load()
    return str(caught.value)


def flag_error(sandbox: Sandbox, **flags: object) -> str:
    sandbox.job(JOB.format(""))
    with pytest.raises(ConfigError) as caught:
        sandbox.load(flags=flags)
    return str(caught.value)


# -- nesting ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 2_000, 50_000])
def test_deep_yaml_toml_and_json_are_one_line(levels: int) -> None:
    documents = [
        (load_yaml, "x: " + "[" * levels + "]" * levels),
        (load_yaml, "x: " + "{a: " * levels + "1" + "}" * levels),
        (load_toml, "x = " + "[" * levels + "]" * levels),
        (load_json, "[" * levels + "]" * levels),
        (load_json, '{"a": ' * levels + "1" + "}" * levels),
    ]
    for load, text in documents:  # past Python's recursion limit the parser stops; below it the tree check does
        with pytest.raises(
            ConfigError, match=r"^doc: (invalid (YAML|TOML|JSON)|x[.0a…]+|a[.a…]+|0[.0…]+): nested more than 64 levels"
        ):
            load(text, source="doc")


def test_nesting_up_to_the_limit_loads() -> None:
    text = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert load_json(text, source="doc") is not None
    assert load_yaml("x: " + text, source="doc") is not None


def test_yaml_alias_bomb_and_recursive_alias_are_refused() -> None:
    bomb = "".join(f"b{i}: &b{i} [{', '.join([f'*b{i - 1}' if i else 'x'] * 9)}]\n" for i in range(9))
    with pytest.raises(ConfigError, match=r"more than 200000 values \(YAML aliases count each time"):
        load_yaml(bomb, source="doc")
    with pytest.raises(ConfigError, match="nested more than 64 levels deep"):
        load_yaml("a: &a [*a]\n", source="doc")


def test_deep_frontmatter_names_the_job_file(sandbox: Sandbox) -> None:
    error = job_error(sandbox, "vars: " + "[" * 3000 + "]" * 3000 + "\n")
    assert error == "job.md: invalid YAML frontmatter: nested more than 64 levels deep"


def test_deep_project_config_names_the_file(sandbox: Sandbox) -> None:
    path = sandbox.project_config("a = " + "[" * 3000 + "]" * 3000 + "\n")
    assert flag_error(sandbox) == f"{path}: invalid TOML: nested more than 64 levels deep"


# -- text ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frontmatter", "expected"),
    [
        ('instructions: "\\ud800"\n', "job.md: instructions: is not valid Unicode text (lone surrogate"),
        ('vars: {a: "\\udc80"}\n', "job.md: vars.a: is not valid Unicode text"),
        ('vars: {"\\ud800": x}\n', "job.md: vars: key '\\ud800' is not valid Unicode text"),
        ('cwd: "a\\0b"\n', "job.md: cwd: contains a NUL character"),
        ('output: {schema: "s\\0.json"}\n', "job.md: output.schema: contains a NUL character"),
        ('env: {A: "x\\0y"}\n', "job.md: env.A: contains a NUL character"),
    ],
)
def test_surrogates_and_nul_in_frontmatter(sandbox: Sandbox, frontmatter: str, expected: str) -> None:
    assert job_error(sandbox, frontmatter).startswith(expected)


def test_json_and_toml_surrogate_escapes() -> None:
    with pytest.raises(ConfigError, match=r"^doc: x: is not valid Unicode text \(lone surrogate '\\ud800'"):
        load_json('{"x": "\\ud800"}', source="doc")
    with pytest.raises(ConfigError, match=r"^doc: invalid TOML: .*Unicode scalar"):
        load_toml('x = "\\ud800"', source="doc")
    assert load_json('{"x": "\\ud83d\\ude42"}', source="doc") == {"x": "🙂"}  # a surrogate pair is one character


def test_yaml_values_json_cannot_hold_are_refused() -> None:
    for text, problem in [
        ("x: !!binary aGk=\n", "unsupported value of type bytes"),
        ("x: !!set {a, b}\n", "unsupported value of type set"),
        ("x: 2024-13-45\n", "invalid YAML: month must be in 1..12"),
        ("x: " + "9" * 5000 + "\n", "invalid YAML: Exceeds the limit (4300 digits)"),
        ("x: !!python/object/apply:os.system ['true']\n", "invalid YAML at line 1, column 4: could not determine"),
    ]:
        with pytest.raises(ConfigError) as caught:
            load_yaml(text, source="doc")
        assert problem in str(caught.value)


# -- numbers, durations, counts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1e999", "-1e999", "Infinity", "-Infinity", "NaN"])
def test_non_finite_json_numbers(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^doc: x: must be a finite number, got"):
        load_json(f'{{"x": {text}}}', source="doc")


def test_integers_beyond_64_bits_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"^doc: x: integer out of range"):
        check_tree({"x": 2**64}, source="doc")
    with pytest.raises(ConfigError, match=r"4300 digits"):
        load_toml("x = " + "9" * 5000, source="doc")


@pytest.mark.parametrize("value", ["1e999", "inf", "nan", "99999999999999d", 10**400, "367d", MAX_DURATION + 1])
def test_durations_are_finite_and_at_most_a_year(sandbox: Sandbox, value: object) -> None:
    error = flag_error(sandbox, timeout=value)
    assert error.startswith("--timeout: limits.timeout: "), error
    bounds = ("less than or equal to 31622400", "greater than 0", "finite", "integer out of range")
    assert any(word in error for word in bounds), error


def test_a_year_is_still_a_duration(sandbox: Sandbox) -> None:
    sandbox.job(JOB.format(""))
    assert sandbox.load(flags={"timeout": "366d"}).limits.timeout == MAX_DURATION
    assert parse_duration(10**400) == float("inf")  # for the bound to refuse, not an OverflowError


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"max_usd": float("inf")}, "--max-usd: limits.max_usd: must be a finite number, got inf"),
        ({"max_usd": float("nan")}, "--max-usd: limits.max_usd: must be a finite number, got nan"),
        ({"max_turns": 2**53}, "--max-turns: limits.max_turns: Input should be less than or equal to 9007199254740991"),
        ({"max_tokens": 10**30}, "--max-tokens: limits.max_tokens: integer out of range"),
    ],
)
def test_caps_are_finite_and_bounded(sandbox: Sandbox, flags: dict[str, object], expected: str) -> None:
    assert flag_error(sandbox, **flags).startswith(expected)


@pytest.mark.parametrize(
    ("frontmatter", "expected"),
    [
        ("limits: {max_usd: .inf}\n", "job.md: limits.max_usd: must be a finite number, got inf"),
        ("sandbox: {cpus: .nan}\n", "job.md: sandbox.cpus: must be a finite number, got nan"),
        ('sandbox: {memory: "' + "9" * 40 + 't"}\n', "job.md: sandbox.memory: Input should be less than or equal"),
        ("limits: {tool_output_chars: 1}\n", "job.md: limits.tool_output_chars: Input should be greater than or"),
        ("compaction: {threshold: .inf}\n", "job.md: compaction.threshold: must be a finite number"),
    ],
)
def test_numbers_in_frontmatter(sandbox: Sandbox, frontmatter: str, expected: str) -> None:
    assert job_error(sandbox, frontmatter).startswith(expected)


# -- names, URLs, schemas -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frontmatter", "expected"),
    [
        ('sandbox: {image: "BAD IMAGE:::"}\n', "job.md: sandbox.image: invalid image reference 'BAD IMAGE:::'"),
        ("sandbox: {image: Upper}\n", "job.md: sandbox.image: invalid image reference"),
        ('sandbox: {container: "x y"}\n', "job.md: sandbox.container: invalid container name or id"),
        ('env: {"A=B": x}\n', "job.md: env: invalid environment variable name 'A=B'"),
        ('env: {"": x}\n', "job.md: env: invalid environment variable name ''"),
        ('base_url: "not a url"\n', "job.md: base_url: URL 'not a url' must not contain blanks"),
        ('base_url: "http://[::1"\n', "job.md: base_url: URL 'http://[::1' is not a valid URL"),
        ('providers: {ollama: {base_url: "ftp://x"}}\n', "job.md: providers.ollama.base_url: URL 'ftp://x' must be"),
    ],
)
def test_names_and_urls(sandbox: Sandbox, frontmatter: str, expected: str) -> None:
    assert job_error(sandbox, frontmatter).startswith(expected)


def test_valid_image_references_and_urls_pass() -> None:
    for image in ("tau-sandbox:latest", "ghcr.io/o/r:1.0", "localhost:5000/a/b", "a@sha256:" + "0" * 64):
        assert validate_layer({"sandbox": {"image": image}}, source="s")["sandbox"]["image"] == image
    for url in ("http://127.0.0.1:8080/v1", "https://api.example.com", "http://[::1]:1/x"):
        assert http_url_problem(url) is None, url


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ("{type: string}", 'the answer must be a JSON object: give the schema "type": "object"'),
        ("{type: object, properties: {a: {$ref: '#'}}}", "$ref '#' must point into the schema's own $defs"),
        ("{$ref: 'http://127.0.0.1:1/s.json'}", "$ref 'http://127.0.0.1:1/s.json' must point into"),
        ("{type: object, properties: {a: {$ref: '#/$defs/x'}}}", "$ref '#/$defs/x' must point into"),
    ],
)
def test_output_schemas_pydantic_ai_cannot_use(sandbox: Sandbox, schema: str, problem: str) -> None:
    assert job_error(sandbox, f"output: {{schema: {schema}}}\n").startswith(f"job.md: output.schema: {problem}")


def test_output_schema_with_local_defs_loads(sandbox: Sandbox) -> None:
    sandbox.job(JOB.format("output: {schema: {type: object, properties: {a: {$ref: '#/$defs/x'}}, $defs: {x: {}}}}\n"))
    assert sandbox.load().output.schema_ is not None


# -- paths --------------------------------------------------------------------------------------------------------


def test_paths_that_are_no_paths(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    cases = [
        ("~nosuchuser-tau/x", "cannot expand '~nosuchuser-tau': no such user"),
        (str(loop / "x"), "cannot resolve path"),
        ("a\x00b", "contains a NUL byte"),
        ("x" * 300, "over the 255-byte limit"),
        ("/".join(["d"] * 2100), "over the 4095-byte limit"),
    ]
    for text, problem in cases:
        with pytest.raises(ConfigError) as caught:
            user_path(text, base_dir=tmp_path, source="src", field="cwd")
        assert str(caught.value).startswith("src: cwd: "), caught.value
        assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"cwd": "~nosuchuser-tau/x"}, "--cwd: cwd: cannot expand '~nosuchuser-tau': no such user"),
        ({"output_schema": "x" * 300}, "--output-schema: output.schema: path 'xxxx"),
        ({"mcp_config": ["~nosuchuser-tau/m.json"]}, "--mcp-config: mcp.config: cannot expand"),
        ({"record": "/proc/tape.json"}, "--record: cannot write a cassette at /proc/tape.json"),
        ({"record": "/dev/null"}, "--record: /dev/null exists and is not a regular file"),
        ({"model": "replay:~nosuchuser-tau/c.json"}, "--model: model: cannot expand"),
    ],
)
def test_path_flags(sandbox: Sandbox, flags: dict[str, object], expected: str) -> None:
    assert flag_error(sandbox, **flags).startswith(expected)


def test_record_creates_its_directory_and_leaves_no_probe(sandbox: Sandbox) -> None:
    sandbox.job(JOB.format(""))
    job = sandbox.load(flags={"record": "tapes/new/t.json"})
    tapes = sandbox.proj / "tapes" / "new"
    assert job.record_path == str(tapes / "t.json")
    assert os.listdir(tapes) == []


# -- MCP documents ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ('{"mcpServers": {"a": {"type": "http", "url": "http://[::1"}}}', "mcpServers.a.url: 'http://[::1' is not"),
        ('{"mcpServers": {"a": {"url": "not a url"}}}', "mcpServers.a.url: 'not a url' must not contain blanks"),
        ('{"mcpServers": {"a": {"type": "sse", "url": "ftp://h/sse"}}}', "must be an http:// or https:// URL"),
        ('{"mcpServers": ' + "[" * 5000 + "]" * 5000 + "}", "invalid JSON: nested more than 64 levels deep"),
        ('{"mcpServers": {"a": {"command": "x", "args": ["\\ud800"]}}}', "mcpServers.a.args.0: is not valid Unicode"),
        ('{"mcpServers": {"a": {"url": "http://h", "timeout": Infinity}}}', "mcpServers.a.timeout: must be a finite"),
    ],
)
def test_mcp_documents(tmp_path: Path, document: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_servers([document], strict=True, env={}, cwd=tmp_path)
    assert str(caught.value).startswith("--mcp-config: "), caught.value
    assert expected in str(caught.value)


def test_mcp_url_from_an_unset_variable_is_left_to_the_server_status(tmp_path: Path) -> None:
    [server] = load_servers(['{"mcpServers": {"a": {"url": "${NOPE}/mcp"}}}'], strict=True, env={}, cwd=tmp_path)
    assert server.missing_vars == ("NOPE",)


def test_mcp_file_not_utf8(tmp_path: Path) -> None:
    (tmp_path / ".mcp.json").write_bytes(b'{"mcpServers": {"\xff": {}}}')
    with pytest.raises(ConfigError, match=r"\.mcp\.json: file is not valid UTF-8 \(byte 17\)$"):
        load_servers([], env={}, cwd=tmp_path)
