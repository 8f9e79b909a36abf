"""Model references (`provider:name`) resolved into `ModelSpec`: credentials, base URL, capabilities, settings.

Providers and what they need (environment variables are read from the injected mapping, never `os.environ`):

    openai       OPENAI_API_KEY (required)          OPENAI_BASE_URL (optional)
    anthropic    ANTHROPIC_API_KEY (required)       ANTHROPIC_BASE_URL (optional)
    ollama       OLLAMA_API_KEY (optional)          OLLAMA_BASE_URL (default http://localhost:11434/v1)
    azure        AZURE_OPENAI_API_KEY (required)    AZURE_OPENAI_ENDPOINT (required), OPENAI_API_VERSION (required)
    openai-chat  OPENAI_API_KEY (optional)          base URL required: config, TAU_BASE_URL/--base-url, OPENAI_BASE_URL
    replay       replay:FILE — a recorded cassette; relative to the job file's directory; must exist
    test         test:NAME — tau's scripted model; no credentials

Precedence, most specific first. Base URL: the layered `base_url` setting (TAU_BASE_URL, --base-url, or a `base_url`
key in any layer) > `[models."<ref>"].base_url` > `[providers.<p>].base_url` > the provider's env var > its default.
API key: the variable named by `api_key_env` (model entry, then provider entry) > the provider's env var. Capabilities:
`[models."<ref>"]` > matching glob entries (`[models."ollama:qwen*"]`, longer patterns win) > `[providers.<p>]` > the
built-in table below > `ModelCapabilities` defaults. No SDK is imported here.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tau.config.paths import is_file, user_path
from tau.config.setting_errors import suggest
from tau.config.settings import PROVIDERS
from tau.config.spec import ModelCapabilities, ModelSpec
from tau.errors import ConfigError

FIELD = "model"


@dataclass(frozen=True)
class ProviderRule:
    key_env: str | None
    key_required: bool
    base_url_env: str | None
    default_base_url: str | None = None
    base_url_required: bool = False


PROVIDER_RULES: dict[str, ProviderRule] = {
    "openai": ProviderRule("OPENAI_API_KEY", True, "OPENAI_BASE_URL"),
    "anthropic": ProviderRule("ANTHROPIC_API_KEY", True, "ANTHROPIC_BASE_URL"),
    "ollama": ProviderRule("OLLAMA_API_KEY", False, "OLLAMA_BASE_URL", "http://localhost:11434/v1"),
    "azure": ProviderRule("AZURE_OPENAI_API_KEY", True, "AZURE_OPENAI_ENDPOINT", base_url_required=True),
    "openai-chat": ProviderRule("OPENAI_API_KEY", False, "OPENAI_BASE_URL", base_url_required=True),
}

# (glob over the lowercased model name, context window, tool calling, parallel tool calls); first match wins.
BUILTIN_CAPABILITIES: tuple[tuple[str, int, bool, bool], ...] = (
    ("gpt-4.1*", 1_047_576, True, True),
    ("gpt-4o*", 128_000, True, True),
    ("gpt-4-turbo*", 128_000, True, True),
    ("gpt-4", 8_192, True, True),
    ("gpt-3.5-turbo*", 16_385, True, True),
    ("gpt-5*", 400_000, True, True),
    ("o1-mini*", 128_000, False, False),
    ("o1-preview*", 128_000, False, False),
    ("o1*", 200_000, True, False),
    ("o3-mini*", 200_000, True, False),
    ("o3*", 200_000, True, True),
    ("o4-mini*", 200_000, True, True),
    ("claude-*", 200_000, True, True),
    ("*llama3.1*", 131_072, True, False),
    ("*llama-3.1*", 131_072, True, False),
    ("*llama3.2*", 131_072, True, False),
    ("*llama-3.2*", 131_072, True, False),
    ("*llama3.3*", 131_072, True, False),
    ("*llama-3.3*", 131_072, True, False),
    ("*llama3*", 8_192, False, False),
    ("*qwen2.5*", 32_768, True, False),
    ("*qwen3*", 40_960, True, False),
    ("*mistral*", 32_768, True, False),
    ("*deepseek-r1*", 131_072, False, False),
)
PROVIDER_DEFAULT_CAPABILITIES: dict[str, ModelCapabilities] = {
    "ollama": ModelCapabilities(context_window=8_192, tool_calling=True, parallel_tool_calls=False),
    "openai-chat": ModelCapabilities(context_window=32_768, tool_calling=True, parallel_tool_calls=False),
}
_CAPABILITY_KEYS = ("context_window", "tool_calling", "parallel_tool_calls")


def parse_model_ref(ref: str, *, source: str) -> tuple[str, str]:
    """`"ollama:llama3.1:8b"` -> `("ollama", "llama3.1:8b")`; ConfigError for a malformed ref or unknown provider."""
    provider, sep, name = ref.strip().partition(":")
    if not sep or not provider or not name.strip():
        guess = "anthropic" if ref.startswith("claude") else "openai"
        problem = f"model {ref!r} must be provider:name, e.g. {guess}:{ref or 'gpt-4o'}"
        raise ConfigError(problem, source=source, field=FIELD)
    if provider not in PROVIDERS:
        problem = f"unknown model provider {provider!r}{suggest(provider, PROVIDERS)}; valid: {', '.join(PROVIDERS)}"
        raise ConfigError(problem, source=source, field=FIELD)
    return provider, name.strip()


def builtin_capabilities(provider: str, name: str) -> ModelCapabilities:
    lowered = name.lower().rsplit("/", 1)[-1]
    for pattern, window, tools, parallel in BUILTIN_CAPABILITIES:
        if fnmatch.fnmatchcase(lowered, pattern):
            return ModelCapabilities(context_window=window, tool_calling=tools, parallel_tool_calls=parallel)
    return PROVIDER_DEFAULT_CAPABILITIES.get(provider, ModelCapabilities())


def model_entry(ref: str, provider: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The merged `[providers.<p>]` < glob `[models]` entries < exact `[models."<ref>"]` entry for `ref`."""
    models: Mapping[str, Mapping[str, Any]] = settings.get("models", {})
    globs = sorted((key for key in models if key != ref and fnmatch.fnmatchcase(ref, key)), key=len)
    entry: dict[str, Any] = {}
    for part in [settings.get("providers", {}).get(provider, {}), *(models[key] for key in globs), models.get(ref, {})]:
        entry_settings = {**entry.get("settings", {}), **part.get("settings", {})}
        entry.update(part)
        entry["settings"] = entry_settings
    return entry


def _base_url(
    provider: str, entry: Mapping[str, Any], settings: Mapping[str, Any], env: Mapping[str, str]
) -> str | None:
    rule = PROVIDER_RULES[provider]
    env_value = env.get(rule.base_url_env, "") if rule.base_url_env else ""
    return settings.get("base_url") or entry.get("base_url") or env_value or rule.default_base_url


def _api_key(provider: str, ref: str, entry: Mapping[str, Any], env: Mapping[str, str], source: str) -> str | None:
    rule = PROVIDER_RULES[provider]
    named = entry.get("api_key_env")
    if named:
        if not env.get(named):
            raise ConfigError(f"missing credentials for {ref}: set {named} (api_key_env)", source=source, field=FIELD)
        return env[named]
    key = env.get(rule.key_env, "") if rule.key_env else ""
    if not key and rule.key_required:
        raise ConfigError(f"missing credentials for {ref}: set {rule.key_env}", source=source, field=FIELD)
    return key or None


def _replay_path(name: str, base_dir: Path, source: str) -> str:
    path = user_path(name, base_dir=base_dir, source=source, field=FIELD)
    if not is_file(path):
        raise ConfigError(f"replay cassette {str(path)!r} does not exist", source=source, field=FIELD)
    return str(path)


def _capabilities(provider: str, name: str, entry: Mapping[str, Any]) -> ModelCapabilities:
    base = builtin_capabilities(provider, name).model_dump()
    base.update({key: entry[key] for key in _CAPABILITY_KEYS if entry.get(key) is not None})
    return ModelCapabilities(**base)


def resolve_model(
    ref: str, *, settings: Mapping[str, Any], env: Mapping[str, str], base_dir: Path, source: str
) -> ModelSpec:
    """A complete `ModelSpec` for `ref`, or a ConfigError naming `source` (where the ref was set) and what is missing.

    `settings` is the merged layer mapping (keys `models`, `providers`, `base_url`, `model_settings`); `base_dir`
    is the job file's directory (the process cwd without one), against which a relative replay path resolves.
    """
    provider, name = parse_model_ref(ref, source=source)
    ref = f"{provider}:{name}"
    entry = model_entry(ref, provider, settings)
    extra: dict[str, Any] = {
        key: entry[key] for key in ("max_retries", "request_timeout") if entry.get(key) is not None
    }
    model_settings = {**entry.get("settings", {}), **settings.get("model_settings", {})}
    capabilities = _capabilities(provider, name, entry)
    if provider in ("test", "replay"):
        if provider == "replay":
            name = _replay_path(name, base_dir, source)
        return ModelSpec(provider=provider, name=name, capabilities=capabilities, settings=model_settings, **extra)
    rule = PROVIDER_RULES[provider]
    base_url = _base_url(provider, entry, settings, env)
    if rule.base_url_required and not base_url:
        hint = rule.base_url_env or "TAU_BASE_URL"
        problem = f"{ref} needs a base URL: set {hint}, TAU_BASE_URL, or base_url under [providers.{provider}]"
        raise ConfigError(problem, source=source, field=FIELD)
    api_key = _api_key(provider, ref, entry, env, source)
    api_version = entry.get("api_version") or env.get("OPENAI_API_VERSION") or None
    if provider == "azure" and not api_version:
        problem = f"{ref} needs an API version: set OPENAI_API_VERSION or api_version under [providers.azure]"
        raise ConfigError(problem, source=source, field=FIELD)
    return ModelSpec(
        provider=provider,
        name=name,
        base_url=base_url,
        api_key=api_key,
        api_version=api_version if provider == "azure" else None,
        capabilities=capabilities,
        settings=model_settings,
        **extra,
    )
