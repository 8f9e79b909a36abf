"""The settings schema every layer is validated against, and the one-line rendering of its validation errors.

One schema serves all layers (user config, project config, job frontmatter; `TAU_*` variables and CLI flags are
translated into it by `layers`), so a key means the same thing everywhere. Keys are snake_case only; a kebab-case or
misspelt key is an "unknown key" error with a difflib suggestion. Every model forbids unknown keys. Layers are
validated one at a time, before merging, so an error always names the file (or variable, or flag) it came from.

Values here are *partial*: `model_dump(exclude_unset=True)` gives only what the layer set, and the defaults below are
never used for merging — `JobSpec`'s defaults are the bottom layer. Pure: no I/O, no environment.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tau.config.documents import tree_problem
from tau.config.setting_errors import config_error, suggest
from tau.config.spec import (
    BUILTIN_TOOLS,
    SANDBOX_CPUS,
    SANDBOX_MEMORY,
    SANDBOX_NETWORK,
    SANDBOX_PIDS_LIMIT,
    OnAsk,
    OutputFormat,
    PermissionMode,
)
from tau.config.store import StoreLayer
from tau.config.telemetry import TelemetryLayer
from tau.errors import ConfigError
from tau.protocol.names import tau_name

PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "ollama", "azure", "openai-chat", "replay", "test")
EnvironmentKind = Literal["host", "docker"]
VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NO_CAP = frozenset({"none", "off", "unlimited", "null"})
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_DURATION_FULL = re.compile(r"(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*)+")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


MAX_DURATION = 366 * 86400.0  # a year: longer waits overflow timers (and mean "no limit": say `none`)
MAX_COUNT = 2**53 - 1  # counts and sizes stay exact in JSON (and in every event consumer)


def parse_duration(value: object) -> object:
    """Seconds from `90`, `1.5`, `"90"`, `"90s"`, `"5m"`, `"1h30m"`, `"250ms"`, `"2d"`; other input passes through.
    Infinite, NaN and overlong values come out as `inf`/`nan`/big floats for the field's bounds to refuse."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90, '90s', '5m' or '1h', not a boolean")
    if isinstance(value, int | float):
        return _float(value)
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    if not _DURATION_FULL.fullmatch(text):
        raise ValueError(f"invalid duration {_shown(value)}: expected seconds or a string like '90s', '5m', '1h'")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))


def _float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an int beyond float range
        return math.inf


def _shown(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:58] + "…'"


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=MAX_DURATION, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=1, le=MAX_COUNT)]


class _Layer(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)


_RULE = re.compile(r"\s*[A-Za-z_][\w*-]*(\(.*\))?\s*", re.DOTALL)


class PermissionsLayer(_Layer):
    """Rules are checked for Claude Code syntax here (`Tool` or `Tool(specifier)`), so a malformed one is reported
    with the layer it came from; the permissions package parses their meaning."""

    mode: PermissionMode = "default"
    allow: list[str] = []
    ask: list[str] = []
    deny: list[str] = []
    additional_directories: list[str] = []

    @field_validator("allow", "ask", "deny")
    @classmethod
    def _rule_syntax(cls, rules: list[str]) -> list[str]:
        for rule in rules:
            if not _RULE.fullmatch(rule) or rule.count("(") != rule.count(")"):
                raise ValueError(f"invalid permission rule {rule!r}: expected Tool or Tool(specifier)")
        return rules

    on_ask: OnAsk = "deny"


class LimitsLayer(_Layer):
    """Numbers accept numeric strings (for `TAU_*`); `null`/"none"/"off"/"unlimited" removes an optional cap."""

    max_turns: Count | None = None
    max_tool_calls: Count | None = None
    max_consecutive_failures: Count | None = None
    max_tokens: Count | None = None
    max_usd: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    timeout: Duration | None = None
    idle_timeout: Duration | None = None
    tool_timeout: Duration = 120.0
    tool_output_chars: Annotated[int, Field(ge=200, le=MAX_COUNT)] = 30_000  # tau.tools.limits needs 200
    ask_timeout: Duration | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _no_cap_and_no_bools(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("expected a number, not a boolean")
        if isinstance(value, str) and value.strip().lower() in _NO_CAP:
            return None
        return value


class OutputLayer(_Layer):
    """`schema` is an inline JSON Schema object or a path (relative to the declaring file); resolved by `layers`."""

    format: OutputFormat = "text"
    schema_: Any = Field(default=None, alias="schema")


class MemoryLayer(_Layer):
    enabled: bool = True
    compat: bool = True
    max_bytes: Count = 262_144
    dir: str = ".tau/memory"
    working: bool = True


class SkillsLayer(_Layer):
    enabled: bool = True


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_size(value: object) -> object:
    """`2g`, `512m`, `1.5GiB`, or a number of bytes (sizes beyond `MAX_COUNT` bytes are left for the bound)."""
    if isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"invalid size {_shown(value)}: use bytes or a number with k, m, g or t (e.g. 2g)")
        number, unit = match.groups()
        size = float(number) * 1024 ** "bkmgt".index((unit or "b").lower())
        return int(size) if size <= MAX_COUNT else MAX_COUNT + 1
    return value


_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_PATH_PART = r"[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*"
_IMAGE_REF = re.compile(  # docker's reference grammar (distribution/reference): [host[:port]/]path[:tag][@digest]
    rf"(?:(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?{_PATH_PART}(?:/{_PATH_PART})*"
    r"(?::\w[\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)
_CONTAINER_NAME = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]*")


class SandboxLayer(_Layer):
    policy: Literal["read-only", "workspace-write", "full"] | None = None
    writable_roots: list[str] = []
    image: str | None = None
    network: Literal["none", "bridge"] = SANDBOX_NETWORK
    memory: Annotated[int, Field(ge=4 * 1024**2, le=MAX_COUNT)] = SANDBOX_MEMORY
    cpus: Annotated[float, Field(gt=0, le=1024, allow_inf_nan=False)] = SANDBOX_CPUS
    pids_limit: Count = SANDBOX_PIDS_LIMIT
    keep: bool = False
    container: str | None = None
    workdir: str | None = None

    @field_validator("memory", mode="before")
    @classmethod
    def _size(cls, value: object) -> object:
        return parse_size(value)

    @field_validator("image")
    @classmethod
    def _image_reference(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 255 or not _IMAGE_REF.fullmatch(value)):
            raise ValueError(f"invalid image reference {_shown(value)}: expected [registry/]name[:tag][@digest]")
        return value

    @field_validator("container")
    @classmethod
    def _container_name(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 255 or not _CONTAINER_NAME.fullmatch(value)):
            raise ValueError(f"invalid container name or id {_shown(value)}")
        return value


class CompactionLayer(_Layer):
    strategy: Literal["off", "clear_tool_results", "sliding_window", "summarize", "tiered"] = "clear_tool_results"
    threshold: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.8
    keep_last: Count = 6


class CheckpointsLayer(_Layer):
    enabled: bool = True
    max_files: Count = 20_000
    max_file_bytes: Count = 8 * 1024 * 1024
    max_total_bytes: Count = 256 * 1024 * 1024

    @field_validator("max_file_bytes", "max_total_bytes", mode="before")
    @classmethod
    def _size(cls, value: object) -> object:
        return parse_size(value)


class SubagentsLayer(_Layer):
    max_depth: Annotated[int, Field(ge=0, le=MAX_COUNT)] = 2
    max_turns: Count = 50
    max_result_chars: Annotated[int, Field(ge=200, le=MAX_COUNT)] = 20_000
    models: dict[str, str] = {}


class PlanLayer(_Layer):
    dir: Annotated[str, Field(min_length=1)] = ".tau/plans"


class McpLayer(_Layer):
    """`config`: `.mcp.json`-style files (relative to the declaring file) or inline JSON strings."""

    config: list[str] = []
    strict: bool = False
    enable_all_project: bool | None = None  # Claude Code's enableAllProjectMcpServers
    enabled_project: list[str] = []  # enabledMcpjsonServers
    disabled_project: list[str] = []  # disabledMcpjsonServers

    @field_validator("config", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class HooksLayer(_Layer):
    enabled: bool = True
    compat: bool = True


def http_url_problem(url: str) -> str | None:
    """Why `url` cannot be an http(s) endpoint (scheme, host, port, blanks), or None."""
    if any(char.isspace() or not char.isprintable() for char in url):
        return "must not contain blanks or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0-65535
    except ValueError as error:
        return f"is not a valid URL ({error})"
    if parts.scheme.lower() not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "has no host"
    return None


def _http_url(value: str | None) -> str | None:
    problem = None if not value else http_url_problem(value)
    if problem is not None:
        raise ValueError(f"URL {_shown(value or '')} {problem}")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class ModelEntry(_Layer):
    """`[providers.<name>]` and `[models."provider:name"]` (globs allowed in the name, e.g. `"ollama:qwen*"`)."""

    base_url: HttpUrl | None = None
    api_key_env: str | None = None  # name of the environment variable holding the key; keys never live in files
    api_version: str | None = None
    context_window: Count | None = None
    tool_calling: bool | None = None
    parallel_tool_calls: bool | None = None
    max_retries: Annotated[int, Field(ge=0, le=1000)] | None = None
    request_timeout: Duration | None = None
    settings: dict[str, Any] = {}


def _var_value(value: object) -> str | None:
    if value is None:
        return None  # declared without a default
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | date | datetime):
        return str(value)
    raise ValueError(f"must be a string, number or boolean, got {type(value).__name__}")


class SettingsLayer(_Layer):
    model: str = ""
    model_settings: dict[str, Any] = {}  # pydantic-ai ModelSettings: temperature, max_tokens (per response), ...
    base_url: HttpUrl = ""
    instructions: str = ""
    tools: list[str] = []
    permissions: PermissionsLayer = PermissionsLayer()
    limits: LimitsLayer = LimitsLayer()
    output: OutputLayer = OutputLayer()
    memory: MemoryLayer = MemoryLayer()
    skills: SkillsLayer = SkillsLayer()
    mcp: McpLayer = McpLayer()
    hooks: HooksLayer = HooksLayer()
    telemetry: TelemetryLayer = TelemetryLayer()  # tau.config.telemetry
    sandbox: SandboxLayer = SandboxLayer()
    compaction: CompactionLayer = CompactionLayer()
    checkpoints: CheckpointsLayer = CheckpointsLayer()
    subagents: SubagentsLayer = SubagentsLayer()
    plan: PlanLayer = PlanLayer()
    environment: EnvironmentKind = "host"
    cwd: str = ""
    vars: dict[str, str | None] = {}
    env: dict[str, str] = {}
    models: dict[str, ModelEntry] = {}
    providers: dict[str, ModelEntry] = {}
    trusted_workspaces: list[str] = []  # user config only: directories whose repository files apply in full
    store: StoreLayer = StoreLayer()  # user config only: where sessions go (tau.config.store)

    @model_validator(mode="before")
    @classmethod
    def _mode_alias(cls, value: object) -> object:
        """`mode: plan` (Claude Code's frontmatter spelling) is `permissions.mode`."""
        if not isinstance(value, Mapping) or "mode" not in value:
            return value
        data = dict(value)
        mode = data.pop("mode")
        permissions = data.get("permissions")
        if permissions is None:
            data["permissions"] = {"mode": mode}
        elif isinstance(permissions, Mapping):
            if "mode" in permissions and permissions["mode"] != mode:
                raise ValueError("`mode` and `permissions.mode` disagree: give one of them")
            data["permissions"] = {**permissions, "mode": mode}
        return data

    @field_validator("output", mode="before")
    @classmethod
    def _output_shorthand(cls, value: object) -> object:
        return {"format": value} if isinstance(value, str) else value

    @field_validator("environment", mode="before")
    @classmethod
    def _environment_table(cls, value: object) -> object:
        if isinstance(value, Mapping) and set(value) == {"kind"}:
            return value["kind"]
        return value

    @field_validator("tools", mode="before")
    @classmethod
    def _tool_names(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value) if part]
        if not isinstance(value, list):
            return value
        return [_tool_name(item) for item in value]

    @field_validator("vars", mode="before")
    @classmethod
    def _vars(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            return value
        for name in value:
            if isinstance(name, bool):
                raise ValueError(f"invalid variable name {name!r}: quote it (YAML reads on/off/yes/no as booleans)")
            if not isinstance(name, str) or not VAR_NAME.fullmatch(name):
                raise ValueError(f"invalid variable name {name!r}: use letters, digits, '_' and '-'")
        return {name: _var_value(item) for name, item in value.items()}

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name or "=" in name:
                raise ValueError(f"invalid environment variable name {_shown(name)}: non-empty, without '='")
        return value

    @field_validator("providers", mode="before")
    @classmethod
    def _provider_names(cls, value: object) -> object:
        if isinstance(value, Mapping):
            for name in value:
                if name not in PROVIDERS:
                    raise ValueError(f"unknown provider {name!r}{suggest(str(name), PROVIDERS)}")
        return value


def _tool_name(item: object) -> object:
    if not isinstance(item, str):
        return item
    name = tau_name(item.strip())
    if name in BUILTIN_TOOLS or name.startswith("mcp__"):
        return name
    choices = sorted(BUILTIN_TOOLS)
    raise ValueError(f"unknown tool {item!r}{suggest(item.lower(), choices)}; built-in tools: {', '.join(choices)}")


def validate_layer(raw: Mapping[str, Any], *, source: str, origins: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Validate one layer; return only the keys it set (`schema` by alias) or raise a one-line ConfigError."""
    found = tree_problem(raw)
    if found is not None:
        field, problem = found
        raise ConfigError(problem, source=(origins or {}).get(field or "", source), field=field)
    try:
        layer = SettingsLayer.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, root=SettingsLayer, source=source, origins=origins) from None
    return layer.model_dump(exclude_unset=True, by_alias=True)
