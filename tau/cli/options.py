"""The options tau's commands share, each defined once here: one name, one metavar, one help text per meaning.

Invariants (tests/cli/test_cli_tree.py walks the whole command tree and checks them):
- a flag name means one thing across commands; the few names that carry a family of close meanings (`--reason`,
  `--all`...) are listed with their reason in that test;
- every declaration of a common option (`--state-dir`, `--cwd`, `--json`, `-o/--output`, `--trust-workspace`, the run
  flags...) is a `SharedOption` made here, so its help text is the same wherever it appears;
- an old spelling whose name means nothing else stays a hidden alias (`AliasOption`: `--project-dir` for `--cwd`):
  it still works and prints a one-line deprecation warning on stderr. An old spelling whose name now means something
  else on another command (`tau sessions export -o FILE`, `tau trust --status`) is a hidden `RenamedOption`: using it
  is a usage error (exit 2) naming the new spelling, never a silent second meaning;
- every command's help ends with `examples(...)`, its epilog: command lines that parse with this CLI.

Only click is imported (this module is loaded by `tau --help`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

__all__ = [
    "OUTPUT_FORMATS",
    "PERMISSION_MODES",
    "AliasOption",
    "RenamedOption",
    "SharedOption",
    "answer_options",
    "compat_option",
    "cwd_option",
    "engine_options",
    "examples",
    "json_option",
    "mcp_config_options",
    "model_option",
    "output_option",
    "permission_mode_option",
    "quiet_option",
    "renamed",
    "run_options",
    "session_id_option",
    "shared",
    "state_dir_option",
    "trust_workspace_option",
]

Func = Callable[..., Any]
Decorator = Callable[[Func], Func]

OUTPUT_FORMATS = ("text", "json", "stream-json", "claude-stream-json")
PERMISSION_MODES = ("default", "acceptEdits", "plan", "bypassPermissions")

STATE_DIR_HELP = "Session store (default: $TAU_STATE_DIR, else the project's .tau/state, else $XDG_STATE_HOME/tau)."
CWD_HELP = "Working directory: the workspace root of the run and where its project files are read (default: {})."
CWD_DEFAULT = "the current directory"
JSON_HELP = "Print JSON instead of text (its shape is described above)."
OUTPUT_HELP = (
    "Output format: text (the answer), json (one result object), stream-json (one event per line) or "
    "claude-stream-json (Claude Code's stream-json); default: the job's output.format, else text."
)
TRUST_HELP = (
    "Trust this workspace's own files (hooks, MCP servers, allow rules, settings) for this command; also "
    "TAU_TRUST_WORKSPACE=1. See `tau trust`."
)
QUIET_HELP = "No progress lines on stderr."
MODEL_HELP = (
    "Model as PROVIDER:NAME: openai:, anthropic:, ollama:, azure:, openai-chat: (any OpenAI-compatible server), "
    "replay:CASSETTE (default: the job's model)."
)
PERMISSION_MODE_HELP = (
    "How tool calls are permitted: default (rules, then ask), acceptEdits (edits in the workspace allowed too), "
    "plan (read-only, ends with a plan to approve), bypassPermissions (everything but deny rules)."
)
COMPAT_HELP = "Also read Claude Code's and Codex's files (which ones: see above)."
SESSION_ID_HELP = "Name the new session (default: a new uuid)."
MCP_CONFIG_HELP = 'MCP servers ({"mcpServers": ...}) from a file or inline JSON; repeatable.'
STRICT_MCP_HELP = "Use only the --mcp-config servers, not the project's .mcp.json."


class SharedOption(click.Option):
    """An option made in this module; `shared` names its definition (one help text per definition)."""

    def __init__(self, *args: Any, shared: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared = shared

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        """The value, with what a hidden alias of this option was given (aliases are eager: they come first)."""
        value = super().process_value(ctx, value)
        given = _aliases(ctx).get(self.name or "")
        if given is None:
            return value
        if self.multiple:
            return (*given, *(value or ()))
        if ctx.get_parameter_source(self.name or "") == click.core.ParameterSource.COMMANDLINE:
            return value  # the new spelling wins over the old one
        return given


class AliasOption(click.Option):
    """A hidden old spelling of a `SharedOption` (`new`): still accepted, with a deprecation warning on stderr."""

    def __init__(self, *args: Any, new: str, target: str, **kwargs: Any) -> None:
        kwargs.update(hidden=True, expose_value=False, is_eager=True, callback=self._remember)
        super().__init__(*args, **kwargs)
        self.new = new
        self.target = target

    def _remember(self, ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value == ():
            return
        click.echo(f"tau: warning: {self.opts[0]} is deprecated: use {self.new}", err=True)
        _aliases(ctx)[self.target] = value


class RenamedOption(click.Option):
    """A hidden old spelling whose name now means something else elsewhere: using it is a usage error naming the
    new spelling (`new`)."""

    def __init__(self, *args: Any, new: str, **kwargs: Any) -> None:
        kwargs.update(hidden=True, expose_value=False, is_eager=True, callback=self._refuse)
        super().__init__(*args, **kwargs)
        self.new = new

    def _refuse(self, ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value is False or value == ():
            return
        raise click.UsageError(f"{'/'.join(self.opts)} was renamed: {self.new}", ctx)


def _aliases(ctx: click.Context) -> dict[str, Any]:
    """The values old spellings were given in this command's context (not `ctx.meta`: that is shared with the
    parent contexts)."""
    found: dict[str, Any] = vars(ctx).setdefault("_tau_aliases", {})
    return found


def shared(*decls: str, name: str, **attrs: Any) -> Decorator:
    """`click.option` for a `SharedOption` named `name` (what tests/cli checks declarations against)."""
    return click.option(*decls, cls=SharedOption, shared=name, **attrs)


def alias(old: str, *, new: str, target: str, **attrs: Any) -> Decorator:
    """A hidden, deprecated spelling `old` of the option whose parameter is `target` (shown in help as `new`)."""
    return click.option(old, f"alias_{target}", cls=AliasOption, new=new, target=target, **attrs)


def renamed(*decls: str, new: str, is_flag: bool = False) -> Decorator:
    """A hidden old spelling that only says what it was renamed to (see `RenamedOption`)."""
    param = "renamed_" + decls[-1].lstrip("-").replace("-", "_")
    return click.option(*decls, param, cls=RenamedOption, new=new, is_flag=is_flag)


def _apply(func: Func, options: Sequence[Decorator]) -> Func:
    for option in reversed(options):
        func = option(func)
    return func


def examples(*lines: str) -> str:
    """The epilog a command's help ends with: example command lines, laid out as written (`\\b`: no rewrapping)."""
    label = "Example:" if len(lines) == 1 else "Examples:"
    return "\b\n" + label + "\n" + "\n".join(f"  {line}" for line in lines)


# --- the common options ------------------------------------------------------------------------------------------


def state_dir_option(func: Func) -> Func:
    """`--state-dir DIR` and, beside it, `--store URL` (`tau.cli.stores`: not a parameter of the command)."""
    from tau.cli.stores import store_option

    return store_option(shared("--state-dir", name="state-dir", metavar="DIR", help=STATE_DIR_HELP)(func))


def cwd_option(*, default: str = CWD_DEFAULT, aliases: Sequence[str] = ()) -> Decorator:
    """`--cwd DIR` (parameter `cwd`); `default` says where a command without it works; `aliases` are old spellings."""

    def decorate(func: Func) -> Func:
        func = shared("--cwd", "cwd", name="cwd", metavar="DIR", help=CWD_HELP.format(default))(func)
        for old in aliases:
            func = alias(old, new="--cwd", target="cwd", metavar="DIR")(func)
        return func

    return decorate


def json_option(func: Func) -> Func:
    return shared("--json", "as_json", name="json", is_flag=True, help=JSON_HELP)(func)


def output_option(func: Func) -> Func:
    """`-o/--output FORMAT` of the commands that run an agent."""
    return shared(
        "-o", "--output", name="output", type=click.Choice(OUTPUT_FORMATS), metavar="FORMAT", help=OUTPUT_HELP
    )(func)


def trust_workspace_option(func: Func) -> Func:
    """`--trust-workspace`: None when not given (so TAU_TRUST_WORKSPACE and configs still decide), True when given."""
    return shared("--trust-workspace", name="trust-workspace", is_flag=True, default=None, help=TRUST_HELP)(func)


def quiet_option(func: Func) -> Func:
    return shared("-q", "--quiet", name="quiet", is_flag=True, help=QUIET_HELP)(func)


def model_option(func: Func) -> Func:
    return shared("-m", "--model", name="model", metavar="PROVIDER:NAME", help=MODEL_HELP)(func)


def permission_mode_option(func: Func) -> Func:
    return shared(
        "--permission-mode", name="permission-mode", type=click.Choice(PERMISSION_MODES), help=PERMISSION_MODE_HELP
    )(func)


def compat_option(func: Func) -> Func:
    return shared("--compat/--no-compat", name="compat", default=True, show_default=True, help=COMPAT_HELP)(func)


def session_id_option(func: Func) -> Func:
    return shared("--session-id", name="session-id", metavar="ID", help=SESSION_ID_HELP)(func)


def mcp_config_options(func: Func) -> Func:
    """`--mcp-config FILE|JSON` (parameter `mcp_config`, a tuple) and `--strict-mcp-config`."""
    return _apply(
        func,
        [
            shared("--mcp-config", name="mcp-config", multiple=True, metavar="FILE|JSON", help=MCP_CONFIG_HELP),
            shared("--strict-mcp-config", name="strict-mcp-config", is_flag=True, help=STRICT_MCP_HELP),
        ],
    )


# --- the run flags (tau run, resume, fork; tau watch takes some of them) ----------------------------------------


def base_url_option(func: Func) -> Func:
    return shared(
        "--base-url", name="base-url", metavar="URL", help="Endpoint of an OpenAI-compatible server (openai-chat:)."
    )(func)


def var_option(func: Func) -> Func:
    return shared(
        "--var", "vars_", name="var", multiple=True, metavar="NAME=VALUE", help="Fill {{NAME}} in the prompt."
    )(func)


def max_turns_option(func: Func) -> Func:
    return shared("--max-turns", name="max-turns", type=int, metavar="N", help="Cap on model requests (exit 53).")(func)


def max_tool_calls_option(func: Func) -> Func:
    return shared("--max-tool-calls", name="max-tool-calls", type=int, metavar="N", help="Cap on tool calls (exit 5).")(
        func
    )


def max_usd_option(func: Func) -> Func:
    return shared(
        "--max-usd", name="max-usd", type=float, metavar="USD", help="Cap on cost, priced with genai-prices (exit 5)."
    )(func)


def timeout_option(func: Func) -> Func:
    return shared("--timeout", name="timeout", metavar="DURATION", help="Wall-clock limit, e.g. 90s, 5m (exit 124).")(
        func
    )


def allow_option(func: Func) -> Func:
    return shared(
        "--allow",
        name="allow",
        multiple=True,
        metavar="RULE",
        help="Rule whose calls are allowed, e.g. 'Bash(npm test:*)'.",
    )(func)


def deny_option(func: Func) -> Func:
    return shared("--deny", name="deny", multiple=True, metavar="RULE", help="Rule whose calls are refused.")(func)


ENGINES = ("inline", "temporal")
ENGINE_HELP = (
    "Where runs execute: inline (in this process) or temporal (on `tau worker` processes through a Temporal "
    "server; also TAU_ENGINE)."
)
ADDRESS_HELP = "Temporal server as HOST:PORT for --engine temporal (also TAU_TEMPORAL_ADDRESS)."
NAMESPACE_HELP = "Temporal namespace (also TAU_TEMPORAL_NAMESPACE)."
TASK_QUEUE_HELP = "Temporal task queue the workers poll (also TAU_TEMPORAL_TASK_QUEUE)."


def engine_options(func: Func) -> Func:
    """`--engine inline|temporal`, `--address HOST:PORT`, `--namespace N`, `--task-queue Q` (parameters `engine`,
    `address`, `namespace`, `task_queue`; `tau.cli.engines` turns them into the runtime's engine). Not job settings:
    each has an environment variable instead of a config key, so a fleet's front ends are set up once."""
    return _apply(
        func,
        [
            shared(
                "--engine",
                name="engine",
                type=click.Choice(ENGINES),
                envvar="TAU_ENGINE",
                default="inline",
                show_default=True,
                help=ENGINE_HELP,
            ),
            shared("--address", name="address", metavar="HOST:PORT", envvar="TAU_TEMPORAL_ADDRESS", help=ADDRESS_HELP),
            shared(
                "--namespace",
                name="namespace",
                metavar="NAME",
                envvar="TAU_TEMPORAL_NAMESPACE",
                default="default",
                show_default=True,
                help=NAMESPACE_HELP,
            ),
            shared(
                "--task-queue",
                name="task-queue",
                metavar="NAME",
                envvar="TAU_TEMPORAL_TASK_QUEUE",
                default="tau",
                show_default=True,
                help=TASK_QUEUE_HELP,
            ),
        ],
    )


def run_options(func: Func) -> Func:
    """The job flags of every command that runs an agent (`tau run`, `tau resume`, `tau fork`): each is a setting
    of the job (`tau.config`'s flag layer) except `-p`, `-q` and the engine options (`engine_options`)."""
    options: list[Decorator] = [
        shared(
            "-p", "--prompt", "prompt_text", name="prompt", metavar="TEXT", help="Prompt text instead of a job file."
        ),
        model_option,
        base_url_option,
        var_option,
        output_option,
        shared("--output-schema", name="output-schema", metavar="FILE", help="JSON Schema the answer must match."),
        shared("--record", name="record", metavar="FILE", help="Write every model exchange to a replayable cassette."),
        max_turns_option,
        max_tool_calls_option,
        shared(
            "--max-consecutive-failures",
            name="max-consecutive-failures",
            type=int,
            metavar="N",
            help="Cap on consecutive failed tool calls (exit 5).",
        ),
        shared("--max-tokens", name="max-tokens", type=int, metavar="N", help="Cap on input+output tokens (exit 5)."),
        max_usd_option,
        timeout_option,
        shared(
            "--idle-timeout", name="idle-timeout", metavar="DURATION", help="Limit without any activity (exit 124)."
        ),
        allow_option,
        shared("--ask", name="ask", multiple=True, metavar="RULE", help="Rule whose calls need approval."),
        deny_option,
        permission_mode_option,
        shared(
            "--on-ask",
            name="on-ask",
            type=click.Choice(("deny", "tty", "suspend")),
            help="What a permission ask or an ask_user question does: deny, ask on the TTY, or suspend (exit 4; "
            "answer with tau resume).",
        ),
        shared("--tools", name="tools", metavar="LIST", help="Comma-separated built-in tools to enable."),
        mcp_config_options,
        cwd_option(),
        shared(
            "--sandbox",
            "environment",
            name="sandbox",
            type=click.Choice(("host", "docker")),
            help="Where tools run: the host, or a docker container tau manages.",
        ),
        shared(
            "--container",
            name="container",
            metavar="NAME",
            help="Run tools in this existing container (implies docker).",
        ),
        shared("--keep-sandbox", name="keep-sandbox", is_flag=True, help="Keep the managed container after the run."),
        shared(
            "--sandbox-policy",
            name="sandbox-policy",
            type=click.Choice(("read-only", "workspace-write", "full")),
            help="Kernel wall for commands (default: from the permission mode; see README, Security model).",
        ),
        trust_workspace_option,
        quiet_option,
        engine_options,
    ]
    return _apply(func, options)


def answer_options(func: Func) -> Func:
    """`tau resume`/`tau fork`: answers to a suspended run's pending calls. `--deny-rule` is the old spelling of
    `--deny RULE` (from `run_options`); on these commands `--deny` used to name a call, now `--deny-call`."""
    options: list[Decorator] = [
        shared("--approve", name="approve", multiple=True, metavar="CALL", help="Approve a pending call (repeatable)."),
        shared(
            "--deny-call",
            "deny_calls",
            name="deny-call",
            multiple=True,
            metavar="CALL[=REASON]",
            help="Deny a pending call (repeatable).",
        ),
        shared(
            "--reason", name="reason", metavar="TEXT", help="What the model is told for --deny-call without =REASON."
        ),
        shared(
            "--answer",
            name="answer",
            multiple=True,
            metavar="CALL=TEXT",
            help="Answer a pending question (repeatable).",
        ),
        alias("--deny-rule", new="--deny", target="deny", multiple=True, metavar="RULE"),
    ]
    return _apply(func, options)
