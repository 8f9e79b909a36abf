"""Model refs -> ModelSpec: providers, credentials, base URLs, capabilities and their precedence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from config_sandbox import Sandbox

from tau.config import ModelCapabilities, parse_model_ref, resolve_model
from tau.config.models import builtin_capabilities
from tau.errors import ConfigError


def _resolve(ref: str, env: dict[str, str] | None = None, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = resolve_model(ref, settings=settings or {}, env=env or {}, base_dir=Path("/"), source="s")
    return spec.model_dump(exclude={"capabilities", "max_retries", "request_timeout", "settings"}) | {
        "api_key": spec.api_key
    }


@pytest.mark.parametrize(
    ("ref", "env", "expected"),
    [
        (
            "openai:gpt-4o",
            {"OPENAI_API_KEY": "sk-o"},
            {"provider": "openai", "name": "gpt-4o", "base_url": None, "api_key": "sk-o", "api_version": None},
        ),
        (
            "openai:gpt-4.1",
            {"OPENAI_API_KEY": "sk-o", "OPENAI_BASE_URL": "http://proxy/v1"},
            {
                "provider": "openai",
                "name": "gpt-4.1",
                "base_url": "http://proxy/v1",
                "api_key": "sk-o",
                "api_version": None,
            },
        ),
        (
            "anthropic:claude-sonnet-4-5",
            {"ANTHROPIC_API_KEY": "sk-a", "ANTHROPIC_BASE_URL": "http://a"},
            {
                "provider": "anthropic",
                "name": "claude-sonnet-4-5",
                "base_url": "http://a",
                "api_key": "sk-a",
                "api_version": None,
            },
        ),
        (
            "ollama:llama3.1:8b",
            {},
            {
                "provider": "ollama",
                "name": "llama3.1:8b",
                "base_url": "http://localhost:11434/v1",
                "api_key": None,
                "api_version": None,
            },
        ),
        (
            "ollama:qwen3",
            {"OLLAMA_BASE_URL": "http://gpu:11434/v1"},
            {
                "provider": "ollama",
                "name": "qwen3",
                "base_url": "http://gpu:11434/v1",
                "api_key": None,
                "api_version": None,
            },
        ),
        (
            "azure:my-gpt4o",
            {
                "AZURE_OPENAI_API_KEY": "az",
                "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com",
                "OPENAI_API_VERSION": "2024-10-21",
            },
            {
                "provider": "azure",
                "name": "my-gpt4o",
                "base_url": "https://r.openai.azure.com",
                "api_key": "az",
                "api_version": "2024-10-21",
            },
        ),
        (
            "openai-chat:mistral-7b",
            {"OPENAI_BASE_URL": "http://vllm:8000/v1"},
            {
                "provider": "openai-chat",
                "name": "mistral-7b",
                "base_url": "http://vllm:8000/v1",
                "api_key": None,
                "api_version": None,
            },
        ),
        (
            "test:scripted",
            {},
            {"provider": "test", "name": "scripted", "base_url": None, "api_key": None, "api_version": None},
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_providers(ref: str, env: dict[str, str], expected: dict[str, Any]) -> None:
    assert _resolve(ref, env) == expected


def test_parse_model_ref_splits_on_first_colon() -> None:
    assert parse_model_ref("ollama:llama3.1:8b", source="s") == ("ollama", "llama3.1:8b")
    assert parse_model_ref(" test:x ", source="s") == ("test", "x")


def test_base_url_precedence() -> None:
    env = {"OPENAI_BASE_URL": "http://env"}
    settings: dict[str, Any] = {
        "providers": {"openai-chat": {"base_url": "http://provider"}},
        "models": {"openai-chat:m": {"base_url": "http://model"}},
    }
    assert _resolve("openai-chat:m", env, settings)["base_url"] == "http://model"
    assert _resolve("openai-chat:other", env, settings)["base_url"] == "http://provider"
    assert _resolve("openai-chat:m", env, {**settings, "base_url": "http://layered"})["base_url"] == "http://layered"
    assert _resolve("openai-chat:m", env, {})["base_url"] == "http://env"


def test_api_key_env_names_the_variable() -> None:
    settings = {"providers": {"openai-chat": {"api_key_env": "GROQ_API_KEY", "base_url": "http://groq"}}}
    assert _resolve("openai-chat:llama", {"GROQ_API_KEY": "g", "OPENAI_API_KEY": "o"}, settings)["api_key"] == "g"
    assert _resolve("openai-chat:llama", {"OPENAI_API_KEY": "o"}, {"base_url": "http://x"})["api_key"] == "o"


def test_replay_path_is_resolved_against_base_dir(tmp_path: Path) -> None:
    cassette = tmp_path / "runs" / "c.jsonl"
    cassette.parent.mkdir()
    cassette.write_text("")
    spec = resolve_model("replay:runs/c.jsonl", settings={}, env={}, base_dir=tmp_path, source="job.md")
    assert (spec.provider, spec.name) == ("replay", str(cassette))
    with pytest.raises(ConfigError, match=r"^job\.md: model: replay cassette .* does not exist$"):
        resolve_model("replay:runs/c.jsonl", settings={}, env={}, base_dir=tmp_path / "runs", source="job.md")


def test_replay_from_flag_resolves_against_the_job_files_directory(sandbox: Sandbox) -> None:
    sandbox.write("jobs/cassettes/run.jsonl", "")
    sandbox.write("jobs/j.md", "Replay me.")
    spec = sandbox.load(str(sandbox.root / "jobs" / "j.md"), flags={"model": "replay:cassettes/run.jsonl"})
    assert spec.model.name == str(sandbox.root / "jobs" / "cassettes" / "run.jsonl")


@pytest.mark.parametrize(
    ("provider", "name", "expected"),
    [
        ("openai", "gpt-4o-mini", (128_000, True, True)),
        ("openai", "gpt-4.1-nano", (1_047_576, True, True)),
        ("openai", "gpt-5", (400_000, True, True)),
        ("openai", "o1-mini", (128_000, False, False)),
        ("openai", "o3", (200_000, True, True)),
        ("anthropic", "claude-opus-4-1", (200_000, True, True)),
        ("ollama", "llama3.1:8b", (131_072, True, False)),
        ("ollama", "llama3:8b", (8_192, False, False)),
        ("ollama", "qwen2.5-coder:7b", (32_768, True, False)),
        ("ollama", "some-new-model", (8_192, True, False)),
        ("openai-chat", "meta-llama/Llama-3.3-70B-Instruct", (131_072, True, False)),
        ("openai", "ft:custom", (128_000, True, True)),
    ],
)
def test_builtin_capabilities(provider: str, name: str, expected: tuple[int, bool, bool]) -> None:
    caps = builtin_capabilities(provider, name)
    assert (caps.context_window, caps.tool_calling, caps.parallel_tool_calls) == expected


def test_capability_overrides_from_config(sandbox: Sandbox) -> None:
    sandbox.user_config(
        "[providers.ollama]\ncontext_window = 16384\nmax_retries = 1\n"
        '[models."ollama:qwen*"]\ncontext_window = 65536\nrequest_timeout = "2m"\n'
        '[models."ollama:qwen3:32b"]\nparallel_tool_calls = true\nsettings = { temperature = 0.2 }\n'
    )
    sandbox.job("Go.")
    qwen = sandbox.load(flags={"model": "ollama:qwen3:32b"}).model
    assert qwen.capabilities == ModelCapabilities(context_window=65_536, tool_calling=True, parallel_tool_calls=True)
    assert (qwen.max_retries, qwen.request_timeout, qwen.settings) == (1, 120.0, {"temperature": 0.2})
    llama = sandbox.load(flags={"model": "ollama:llama3.2"}).model
    assert llama.capabilities == ModelCapabilities(context_window=16_384, tool_calling=True, parallel_tool_calls=False)


def test_api_key_is_not_serialized(sandbox: Sandbox) -> None:
    sandbox.job("Go.")
    spec = sandbox.load(flags={"model": "openai:gpt-4o"}, env={"OPENAI_API_KEY": "sk-secret"})
    assert spec.model.api_key == "sk-secret"
    assert "sk-secret" not in spec.model_dump_json()
    assert "sk-secret" not in repr(spec)


def test_config_imports_no_sdk() -> None:
    code = (
        "import sys, tau.config;"
        "bad = [m for m in ('openai', 'anthropic', 'pydantic_ai', 'httpx', 'click', 'jsonschema') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
