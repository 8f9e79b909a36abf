"""Every invalid input is a ConfigError (exit 2) with ONE line naming the source, the field and the problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from config_sandbox import Sandbox

from tau.errors import ConfigError, ExitCode

JOB = "---\nmodel: test:x\n---\nDo it.\n"


@dataclass(frozen=True)
class Case:
    id: str
    expect: tuple[str, ...]  # substrings of str(err), in order: source, field, problem
    job: str | None = JOB
    files: dict[str, str | bytes] = field(default_factory=dict)  # relative to the sandbox root
    env: dict[str, str] = field(default_factory=dict)
    flags: dict[str, Any] = field(default_factory=dict)
    job_path: str | None = "job.md"
    load: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        "bad-yaml", ("job.md: ", "invalid YAML frontmatter at line 3"), job="---\nmodel: test:x\nbad: a: b\n---\nhi\n"
    ),
    Case("frontmatter-list", ("job.md: ", "frontmatter must be a mapping", "a list"), job="---\n- a\n- b\n---\nhi\n"),
    Case("frontmatter-scalar", ("job.md: ", "must be a mapping", "a string"), job="---\njust words\n---\nhi\n"),
    Case("frontmatter-unclosed", ("job.md: ", "never closed"), job="---\nmodel: test:x\nhi\n"),
    Case("unknown-key", ("job.md: ", "unknown key 'modle' (did you mean 'model'?)"), job="---\nmodle: test:x\n---\nhi"),
    Case(
        "unknown-nested-key",
        ("job.md: limits: ", "unknown key 'max_turn' (did you mean 'max_turns'?)"),
        job="---\nmodel: test:x\nlimits: {max_turn: 3}\n---\nhi",
    ),
    Case(
        "kebab-key",
        ("job.md: limits: ", "unknown key 'max-turns' (did you mean 'max_turns'?)"),
        job="---\nmodel: test:x\nlimits: {max-turns: 3}\n---\nhi",
    ),
    Case("non-string-key", ("job.md: ", "keys must be strings"), job="---\nmodel: test:x\n1: one\n---\nhi"),
    Case(
        "max-turns-not-int",
        ("job.md: limits.max_turns: ", "valid integer", "'many'"),
        job="---\nmodel: test:x\nlimits: {max_turns: many}\n---\nhi",
    ),
    Case(
        "max-turns-bool",
        ("job.md: limits.max_turns: ", "not a boolean"),
        job="---\nmodel: test:x\nlimits: {max_turns: true}\n---\nhi",
    ),
    Case(
        "negative-max-usd",
        ("job.md: limits.max_usd: ", "greater than 0", "-1"),
        job="---\nmodel: test:x\nlimits: {max_usd: -1}\n---\nhi",
    ),
    Case(
        "bad-duration",
        ("job.md: limits.timeout: ", "invalid duration '5 parsecs'"),
        job="---\nmodel: test:x\nlimits: {timeout: 5 parsecs}\n---\nhi",
    ),
    Case(
        "zero-duration",
        ("job.md: limits.idle_timeout: ", "greater than 0"),
        job="---\nmodel: test:x\nlimits: {idle_timeout: 0s}\n---\nhi",
    ),
    Case("tools-not-list", ("job.md: tools: ", "valid list"), job="---\nmodel: test:x\ntools: {bash: 1}\n---\nhi"),
    Case(
        "unknown-tool",
        ("job.md: tools: ", "unknown tool 'bsh' (did you mean 'bash'?)"),
        job="---\nmodel: test:x\ntools: [read, bsh]\n---\nhi",
    ),
    Case(
        "bad-permission-mode",
        ("job.md: permissions.mode: ", "'acceptEdits'", "'yolo'"),
        job="---\nmodel: test:x\npermissions: {mode: yolo}\n---\nhi",
    ),
    Case("bad-permission-mode-flag", ("--permission-mode: permissions.mode: ",), flags={"permission_mode": "yolo"}),
    Case("bad-on-ask-flag", ("--on-ask: permissions.on_ask: ", "'suspend'", "'maybe'"), flags={"on_ask": "maybe"}),
    Case("bad-max-usd-flag", ("--max-usd: limits.max_usd: ", "greater than 0"), flags={"max_usd": -3}),
    Case(
        "rules-not-list",
        ("job.md: permissions.allow: ", "valid list"),
        job="---\nmodel: test:x\npermissions: {allow: Bash}\n---\nhi",
    ),
    Case("bad-output-format", ("job.md: output.format: ", "'xml'"), job="---\nmodel: test:x\noutput: xml\n---\nhi"),
    Case(
        "var-list-value",
        ("job.md: vars: ", "string, number or boolean"),
        job="---\nmodel: test:x\nvars: {a: [1]}\n---\n{{a}}",
    ),
    Case("yaml-bool-var-name", ("job.md: vars: ", "quote it"), job="---\nmodel: test:x\nvars: {on: 1}\n---\nhi"),
    Case(
        "bad-var-name", ("job.md: vars: ", "invalid variable name"), job="---\nmodel: test:x\nvars: {'a b': 1}\n---\nhi"
    ),
    Case("missing-variable", ("job.md: prompt: ", "missing variable 'name'", "--var name="), job=JOB + "Hi {{ name }}"),
    Case(
        "missing-variable-in-p",
        ("<-p>: prompt: ", "missing variable 'x'"),
        job_path=None,
        load={"prompt_text": "{{x}}"},
    ),
    Case(
        "missing-variable-in-instructions",
        ("job.md: instructions: ", "missing variable 'who'"),
        job="---\nmodel: test:x\ninstructions: 'Help {{who}}'\n---\nhi",
    ),
    Case("var-flag-without-equals", ("--var: ", "expected name=value", "'name'"), flags={"vars": ["name"]}),
    Case("var-flag-bad-name", ("--var: ", "invalid variable name"), flags={"vars": ["a b=1"]}),
    Case("empty-prompt", ("job.md: prompt: ", "empty prompt"), job="---\nmodel: test:x\n---\n  \n"),
    Case(
        "empty-stdin",
        ("<stdin>: prompt: ", "empty prompt"),
        job_path="-",
        load={"stdin_text": ""},
        env={"TAU_MODEL": "test:x"},
    ),
    Case("no-prompt-source", ("no prompt",), job_path=None),
    Case("job-and-p", ("-p: ", "not both"), load={"prompt_text": "hi"}),
    Case("missing-job-file", ("nope.md: ", "job file not found"), job_path="nope.md"),
    Case("job-is-directory", ("sub: ", "is a directory"), job_path="sub", files={"home/code/proj/sub/x": ""}),
    Case(
        "job-not-utf8",
        ("bin.md: ", "not valid UTF-8"),
        job_path="bin.md",
        files={"home/code/proj/bin.md": b"\xff\xfe\x00hi"},
    ),
    Case("no-model", ("job.md: model: ", "no model configured"), job="Just a prompt."),
    Case(
        "unknown-provider",
        ("job.md: model: ", "unknown model provider 'foo'", "openai, anthropic"),
        job="---\nmodel: foo:bar\n---\nhi",
    ),
    Case("provider-typo", ("--model: model: ", "(did you mean 'openai'?)"), flags={"model": "opnai:gpt-4o"}),
    Case(
        "model-without-provider",
        ("job.md: model: ", "must be provider:name", "openai:gpt-4o"),
        job="---\nmodel: gpt-4o\n---\nhi",
    ),
    Case(
        "missing-openai-key",
        ("--model: model: ", "missing credentials", "set OPENAI_API_KEY"),
        flags={"model": "openai:gpt-4o"},
    ),
    Case(
        "missing-anthropic-key",
        ("TAU_MODEL: model: ", "set ANTHROPIC_API_KEY"),
        env={"TAU_MODEL": "anthropic:claude-sonnet-4-5"},
    ),
    Case(
        "missing-named-key",
        ("job.md: model: ", "set MY_KEY (api_key_env)"),
        job="---\nmodel: openai:gpt-4o\nproviders: {openai: {api_key_env: MY_KEY}}\n---\nhi",
        env={"OPENAI_API_KEY": "sk-x"},
    ),
    Case(
        "azure-no-endpoint",
        ("--model: model: ", "needs a base URL", "AZURE_OPENAI_ENDPOINT"),
        flags={"model": "azure:gpt-4o"},
        env={"AZURE_OPENAI_API_KEY": "k"},
    ),
    Case(
        "azure-no-version",
        ("--model: model: ", "needs an API version", "OPENAI_API_VERSION"),
        flags={"model": "azure:gpt-4o"},
        env={"AZURE_OPENAI_API_KEY": "k", "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com"},
    ),
    Case("openai-chat-no-base-url", ("--model: model: ", "needs a base URL"), flags={"model": "openai-chat:llama"}),
    Case(
        "missing-replay-cassette",
        ("job.md: model: ", "replay cassette", "does not exist"),
        job="---\nmodel: replay:runs/c.jsonl\n---\nhi",
    ),
    Case(
        "schema-file-not-json",
        ("job.md: output.schema: ", "schema file schema.json: not valid JSON"),
        job="---\nmodel: test:x\noutput: {schema: schema.json}\n---\nhi",
        files={"home/code/proj/schema.json": "{not json"},
    ),
    Case(
        "schema-file-missing",
        ("job.md: output.schema: ", "nothere.json: file not found"),
        job="---\nmodel: test:x\noutput: {schema: nothere.json}\n---\nhi",
    ),
    Case(
        "schema-file-invalid-schema",
        ("--output-schema: output.schema: ", "s.json: invalid JSON Schema", "properties"),
        flags={"output_schema": "s.json"},
        files={"home/code/proj/s.json": '{"type": "object", "properties": 3}'},
    ),
    Case(
        "schema-file-array",
        ("--output-schema: output.schema: ", "s.json: must be a JSON object"),
        flags={"output_schema": "s.json"},
        files={"home/code/proj/s.json": "[1, 2]"},
    ),
    Case(
        "inline-schema-bad-type",
        ("job.md: output.schema: ", "invalid JSON Schema", "banana"),
        job="---\nmodel: test:x\noutput: {schema: {type: banana}}\n---\nhi",
    ),
    Case(
        "inline-schema-wrong-kind",
        ("job.md: output.schema: ", "JSON Schema object or the path"),
        job="---\nmodel: test:x\noutput: {schema: 42}\n---\nhi",
    ),
    Case(
        "bad-toml-project",
        (".tau/config.toml: ", "invalid TOML", "line 1"),
        files={"home/code/proj/.tau/config.toml": "model = \n"},
    ),
    Case(
        "bad-toml-user",
        (".config/tau/config.toml: ", "invalid TOML"),
        files={"home/.config/tau/config.toml": "[limits\n"},
    ),
    Case(
        "unknown-key-in-config",
        (".tau/config.toml: limits: ", "unknown key 'max_turnz' (did you mean 'max_turns'?)"),
        files={"home/code/proj/.tau/config.toml": "[limits]\nmax_turnz = 3\n"},
    ),
    Case(
        "unknown-provider-table",
        (".config/tau/config.toml: providers: ", "unknown provider 'olama' (did you mean 'ollama'?)"),
        files={"home/.config/tau/config.toml": '[providers.olama]\nbase_url = "http://x"\n'},
    ),
    Case(
        "bad-capability-in-config",
        (".tau/config.toml: models.openai:gpt-4o.context_window: ", "valid integer"),
        files={"home/code/proj/.tau/config.toml": '[models."openai:gpt-4o"]\ncontext_window = "big"\n'},
    ),
    Case(
        "unknown-key-in-model-entry",
        (".tau/config.toml: models.openai:gpt-4o: ", "unknown key 'base_ur' (did you mean 'base_url'?)"),
        files={"home/code/proj/.tau/config.toml": '[models."openai:gpt-4o"]\nbase_ur = "x"\n'},
    ),
    Case(
        "bad-tau-max-turns",
        ("TAU_MAX_TURNS: limits.max_turns: ", "valid integer", "'abc'"),
        env={"TAU_MAX_TURNS": "abc"},
    ),
    Case("bad-tau-output", ("TAU_OUTPUT: output.format: ", "'xml'"), env={"TAU_OUTPUT": "xml"}),
    Case("bad-tau-timeout", ("TAU_TIMEOUT: limits.timeout: ", "invalid duration 'soon'"), env={"TAU_TIMEOUT": "soon"}),
    Case("bad-tau-tools", ("TAU_TOOLS: tools: ", "unknown tool 'grap'"), env={"TAU_TOOLS": "read,grap"}),
    Case(
        "bad-sandbox-memory",
        ("job.md: sandbox.memory: ", "invalid size '2 parsecs'"),
        job="---\nmodel: test:x\nenvironment: docker\nsandbox: {memory: 2 parsecs}\n---\nhi",
    ),
    Case(
        "bad-sandbox-network",
        ("job.md: sandbox.network: ",),
        job="---\nmodel: test:x\nenvironment: docker\nsandbox: {network: host}\n---\nhi",
    ),
    Case("bad-environment", ("--environment: environment: ", "'host'", "'vm'"), flags={"environment": "vm"}),
    Case("missing-workspace", ("job.md: cwd: ", "does not exist"), job="---\nmodel: test:x\ncwd: ../nowhere\n---\nhi"),
    Case("unknown-flag", ("--colour: ", "unknown option 'colour'"), flags={"colour": "red"}),
]


def _arrange(sandbox: Sandbox, case: Case) -> None:
    if case.job is not None:
        sandbox.job(case.job)
    for relative, content in case.files.items():
        path = sandbox.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_line_config_error(sandbox: Sandbox, case: Case) -> None:
    _arrange(sandbox, case)
    with pytest.raises(ConfigError) as caught:
        sandbox.load(case.job_path, flags=case.flags, env=case.env, **case.load)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert caught.value.exit_code == ExitCode.USAGE
    position = 0
    for part in case.expect:
        found = message.find(part, position)
        assert found >= 0, f"{part!r} not in {message!r} (after position {position})"
        position = found + len(part)


def test_suite_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES)


def test_unreadable_job_file(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.job(JOB)
    real_open = Path.open

    def deny(path: Path, *args: Any, **kwargs: Any) -> Any:  # chmod 000 does not stop root: simulate EACCES
        if path.name == "job.md":
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)
    with pytest.raises(ConfigError, match=r"^job\.md: cannot read job file: permission denied$"):
        sandbox.load()


def test_several_pydantic_errors_still_one_line(sandbox: Sandbox) -> None:
    sandbox.job("---\nmodel: test:x\nlimits: {max_turns: x, max_usd: y, timeout: z}\n---\nhi")
    with pytest.raises(ConfigError) as caught:
        sandbox.load()
    assert str(caught.value).startswith("job.md: limits.max_turns: ")
    assert str(caught.value).endswith("(and 2 more problems)")
    assert caught.value.source == "job.md"
    assert caught.value.field == "limits.max_turns"
