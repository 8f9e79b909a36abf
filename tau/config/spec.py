"""JobSpec: the frozen, fully resolved description of one run — the contract between `config` and `runtime`.

`config.load_job(...)` produces it after layering defaults < user config < project config < frontmatter < TAU_* env
< CLI flags; `runtime` consumes it and never reads files or environment variables itself. Every model here forbids
unknown keys, so a typo in a job file is a ConfigError naming the field, not a silently ignored setting.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from tau.config.telemetry import TelemetrySpec
from tau.redact import Redactor

OutputFormat = Literal["text", "json", "stream-json", "claude-stream-json"]
PermissionMode = Literal["default", "acceptEdits", "plan", "bypassPermissions"]
OnAsk = Literal["deny", "tty", "suspend"]
BUILTIN_TOOLS: tuple[str, ...] = ("read", "write", "edit", "bash", "glob", "grep")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelCapabilities(_Frozen):
    """What tau assumes about a model; overridable per model in config (`[models."provider:name"]`)."""

    context_window: int = 128_000
    tool_calling: bool = True
    parallel_tool_calls: bool = True


class ModelSpec(_Frozen):
    """A resolved model reference. `provider` is one of openai, anthropic, ollama, azure, openai-chat, replay, test."""

    provider: str
    name: str
    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False, exclude=True)  # never serialized into snapshots/events
    api_version: str | None = None  # azure
    capabilities: ModelCapabilities = Field(default_factory=ModelCapabilities)
    max_retries: int = 4
    request_timeout: float = 600.0
    settings: dict[str, Any] = Field(default_factory=dict)  # temperature, max_tokens, ... passed as ModelSettings

    @property
    def ref(self) -> str:
        return f"{self.provider}:{self.name}"

    @field_serializer("base_url", when_used="json")
    def _stored_base_url(self, value: str | None) -> str | None:
        """Serialized (snapshots, events) without URL credentials; a resumed run takes the live one from config."""
        return None if value is None else Redactor().text(value)


class PermissionsSpec(_Frozen):
    mode: PermissionMode = "default"
    allow: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    on_ask: OnAsk = "deny"
    additional_directories: tuple[str, ...] = ()


class LimitsSpec(_Frozen):
    """Budgets. `None` means no cap. pydantic-ai's own request_limit is always replaced by `max_turns`."""

    max_turns: int | None = 100
    max_tool_calls: int | None = None
    max_consecutive_failures: int | None = 8
    max_tokens: int | None = None
    max_usd: float | None = None
    timeout: float | None = None  # wall clock seconds
    idle_timeout: float | None = None  # seconds without any event from the model or a tool
    tool_timeout: float = 120.0  # default bash timeout, seconds
    tool_output_chars: int = 30_000  # cap on what one tool result shows the model
    ask_timeout: float | None = None  # seconds an `ask_user` question waits on the TTY (`--on-ask tty`); None = no cap


class OutputSpec(_Frozen):
    format: OutputFormat = "text"
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    schema_source: str | None = None  # file the schema came from, for messages


class MemorySpec(_Frozen):
    """Bootstrap memory (AGENTS.md/CLAUDE.md/TAU.md) and the working-memory tool."""

    enabled: bool = True  # load bootstrap memory files into the instructions
    compat: bool = True  # also ~/.claude/CLAUDE.md and ~/.codex/AGENTS.md
    max_bytes: int = Field(default=262_144, ge=1)  # 256 KiB; see tau.memory.bootstrap
    dir: str = ".tau/memory"  # working-memory directory inside the workspace
    working: bool = True  # offer the `memory` tool and load its INDEX.md


class SkillsSpec(_Frozen):
    enabled: bool = True


class McpSpec(_Frozen):
    """MCP servers: the project `.mcp.json` plus `config` entries (paths or inline JSON), or only those if strict."""

    config: tuple[str, ...] = ()
    strict: bool = False
    enable_all_project: bool | None = None  # None: every project server of a trusted workspace starts
    enabled_project: tuple[str, ...] = ()  # with enable_all_project false: only these project servers start
    disabled_project: tuple[str, ...] = ()  # never start these project servers


class HooksSpec(_Frozen):
    enabled: bool = True
    compat: bool = True  # also .claude/settings.json, .claude/settings.local.json, .codex/hooks.json (when trusted)


class CompactionSpec(_Frozen):
    """When the history fills `threshold` of the context window, `strategy` shrinks what the model is sent."""

    strategy: Literal["off", "clear_tool_results", "sliding_window", "summarize", "tiered"] = "clear_tool_results"
    threshold: float = Field(default=0.8, gt=0, le=1)
    keep_last: int = Field(default=6, ge=1)


class CheckpointsSpec(_Frozen):
    """Workspace checkpoints before mutating tool calls (write/edit: the file; bash: the tree)."""

    enabled: bool = True
    max_files: int = Field(default=20_000, ge=1)
    max_file_bytes: int = Field(default=8 * 1024 * 1024, ge=1)
    max_total_bytes: int = Field(default=256 * 1024 * 1024, ge=1)


class PlanSpec(_Frozen):
    """Plan mode: where submitted plans are written (relative to the workspace unless absolute)."""

    dir: str = ".tau/plans"


class SubagentsSpec(_Frozen):
    max_depth: int = Field(default=2, ge=0)  # 0 disables the task tool
    max_turns: int = Field(default=50, ge=1)
    max_result_chars: int = Field(default=20_000, ge=200)
    models: dict[str, str] = Field(default_factory=dict)  # aliases in agent files (sonnet, haiku, ...) -> provider:name


SandboxPolicyName = Literal["read-only", "workspace-write", "full"]


# The sandbox's built-in limits: the one place they are written (settings, trust rules and the container spec read
# them from here).
SANDBOX_NETWORK: Literal["none", "bridge"] = "none"
SANDBOX_MEMORY = 2 * 1024**3
SANDBOX_CPUS = 2.0
SANDBOX_PIDS_LIMIT = 512


class SandboxSettings(_Frozen):
    """How commands are confined. On the host: a kernel sandbox whose policy follows the permission mode unless
    `policy` names one. In docker: a managed container (hardened by default) or, with `container`, an existing one,
    with the same policies applied inside. `network` applies to both ("bridge" on the host = the host's network)."""

    policy: SandboxPolicyName | None = None  # None = chosen by the permission mode (--sandbox-policy)
    writable_roots: tuple[str, ...] = ()  # extra absolute directories writable under workspace-write

    image: str | None = None  # None = tau's own sandbox image (`tau sandbox build`)
    network: Literal["none", "bridge"] = SANDBOX_NETWORK
    memory: int = SANDBOX_MEMORY  # bytes; swap is set equal
    cpus: float = SANDBOX_CPUS
    pids_limit: int = SANDBOX_PIDS_LIMIT
    keep: bool = False  # keep the managed container after the run (--keep-sandbox)
    container: str | None = None  # attach to this existing container instead (never stopped or removed)
    workdir: str | None = None  # where the workspace is inside an attached container (default: found from mounts)


class EnvironmentSpec(_Frozen):
    kind: Literal["host", "docker"] = "host"
    workspace: str  # absolute path of the workspace root on the host
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)


class TrustSpec(_Frozen):
    """Whether the workspace's repository is trusted (`tau.config.trust`): what its own files may do."""

    root: str = ""
    trusted: bool = False
    via: str = ""  # how it is trusted
    problem: str = ""  # why it is not


class JobSpec(_Frozen):
    """Everything one run needs. `source` names where the prompt came from (a path, '<stdin>' or '<-p>')."""

    source: str
    prompt: str
    instructions: str | None = None
    model: ModelSpec
    tools: tuple[str, ...] = BUILTIN_TOOLS
    permissions: PermissionsSpec = Field(default_factory=PermissionsSpec)
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    environment: EnvironmentSpec
    vars: dict[str, str] = Field(default_factory=dict)
    record_path: str | None = None  # --record FILE
    session_id: str | None = None
    # extra env for tool commands; may hold secrets, so never serialized (snapshots store the job without it and
    # `tau resume` re-reads it from the current config, like the model's api_key)
    env: dict[str, str] = Field(default_factory=dict, repr=False, exclude=True)
    memory: MemorySpec = Field(default_factory=MemorySpec)
    skills: SkillsSpec = Field(default_factory=SkillsSpec)
    mcp: McpSpec = Field(default_factory=McpSpec)
    compaction: CompactionSpec = Field(default_factory=CompactionSpec)
    checkpoints: CheckpointsSpec = Field(default_factory=CheckpointsSpec)
    subagents: SubagentsSpec = Field(default_factory=SubagentsSpec)
    plan: PlanSpec = Field(default_factory=PlanSpec)
    hooks: HooksSpec = Field(default_factory=HooksSpec)
    home: str | None = None  # the user's home directory (user-level memory, skills, config); None = none
    config_sources: tuple[str, ...] = ()  # config files that were loaded, lowest precedence first
    trust: TrustSpec = Field(default_factory=TrustSpec)
    notices: tuple[str, ...] = Field(default=(), exclude=True)  # what loading skipped, told once at run start
    telemetry: TelemetrySpec = Field(default_factory=TelemetrySpec, exclude=True)  # re-resolved on resume
