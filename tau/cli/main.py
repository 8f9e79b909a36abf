"""The `tau` command line: click commands and the process edge (exit codes, one-line errors, signals).

This is the only package that imports click and the only place that starts an event loop. Importing it must stay
cheap: `tau --version` and `tau --help` import no provider SDK, no mcp, no docker and not pydantic-ai (command
bodies import what they need). Every `TauError` becomes `tau: <one line>` on stderr and its exit code; anything
unexpected becomes a one-line internal error with exit 1 (set `TAU_DEBUG=1` for the traceback).

Checked before any command runs (exit 2, one line): every argument is text UTF-8 can encode without a NUL (an
undecodable byte in `-p` or a path names the option it was given to), and the current directory still exists.

A closed stdout (`tau sessions ls --json | head -2`: the reader went away) ends the process quietly with exit 141,
the status a shell reports for git or coreutils killed by SIGPIPE: no message, and stdout is pointed at /dev/null so
the interpreter's last flush cannot print "Exception ignored". Only a broken pipe *on stdout* is taken for that (the
descriptor is polled); any other BrokenPipeError is an internal error like the rest. A `tau run` whose reader goes
away still runs to its end and stores its session (renderers are sinks: a failing one never stops the run).
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from tau import __version__

F = TypeVar("F", bound=Callable[..., Any])

OUTPUT_FORMATS = ("text", "json", "stream-json", "claude-stream-json")
STDOUT_CLOSED = 141  # 128 + SIGPIPE: what a shell reports for `git log | head` when git dies of the closed pipe
PERMISSION_MODES = ("default", "acceptEdits", "plan", "bypassPermissions")


class _TauGroup(click.Group):
    """Turns errors raised inside commands into one line and the documented exit code."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)  # `tau --help` writes while parsing
        except BrokenPipeError:
            _end_quietly_if_stdout_closed()
            raise

    def invoke(self, ctx: click.Context) -> Any:
        from tau.errors import ExitCode, TauError

        try:
            _check_cwd()
            return super().invoke(ctx)
        except BrokenPipeError:  # before click's own EPIPE handling, which exits 1
            _end_quietly_if_stdout_closed()
            raise
        except TauError as error:
            from tau.redact import Redactor

            click.echo(f"tau: {Redactor.from_env(os.environ).text(error.message)}", err=True)
            sys.exit(int(error.exit_code))
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise  # handled by main()
        except KeyboardInterrupt:
            sys.exit(int(ExitCode.SIGINT))
        except Exception as error:
            if os.environ.get("TAU_DEBUG"):
                raise
            detail = " ".join(str(error).split()) or type(error).__name__
            from tau.redact import Redactor

            detail = Redactor.from_env(os.environ).text(detail)
            click.echo(f"tau: internal error: {type(error).__name__}: {detail}", err=True)
            sys.exit(int(ExitCode.FAILED))


@click.group(cls=_TauGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, "-V", "--version", prog_name="tau", message="%(prog)s %(version)s")
def cli() -> None:
    """tau — a headless agent runtime.

    Run an agent job from a markdown file (YAML frontmatter = job spec, body = prompt) and exit with a code a
    script can trust: 0 completed · 1 failed · 2 usage/config error · 3 preflight · 4 needs input ·
    5 budget exhausted · 53 turn limit · 124 timeout · 130/143 signals.
    """


def _state_dir_option(func: F) -> F:
    return click.option(
        "--state-dir",
        metavar="DIR",
        help="Session store (default: $TAU_STATE_DIR, a project .tau/state, else $XDG_STATE_HOME/tau).",
    )(func)


def _answer_options(func: F) -> F:
    """`tau resume`/`tau fork`: answers to a suspended run's pending calls (`--deny` here names a call)."""
    options = [
        click.option("--approve", multiple=True, metavar="CALL", help="Approve a pending call (repeatable)."),
        click.option(
            "--deny", "deny_calls", multiple=True, metavar="CALL[=REASON]", help="Deny a pending call (repeatable)."
        ),
        click.option("--reason", metavar="TEXT", help="What the model is told for --deny calls without =REASON."),
        click.option("--answer", multiple=True, metavar="CALL=TEXT", help="Answer a pending question (repeatable)."),
        click.option("--deny-rule", "deny", multiple=True, metavar="RULE", help="Rule whose calls are refused."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run_options(func: F) -> F:
    return _common_run_options(
        click.option("--deny", multiple=True, metavar="RULE", help="Rule whose calls are refused.")(func)
    )


def _common_run_options(func: F) -> F:
    options = [
        click.option("-p", "--prompt", "prompt_text", metavar="TEXT", help="Prompt text instead of a job file."),
        click.option(
            "-m",
            "--model",
            metavar="PROVIDER:NAME",
            help="openai:, anthropic:, ollama:, azure:, openai-chat: (any OpenAI-compatible server), replay:CASSETTE.",
        ),
        click.option("--base-url", metavar="URL", help="Endpoint of an OpenAI-compatible server (openai-chat:)."),
        click.option("--var", "vars_", multiple=True, metavar="NAME=VALUE", help="Fill {{NAME}} in the prompt."),
        click.option("-o", "--output", type=click.Choice(OUTPUT_FORMATS), help="Output format (default text)."),
        click.option("--output-schema", metavar="FILE", help="JSON Schema the final answer must validate against."),
        click.option("--record", metavar="FILE", help="Write every model exchange to a replayable cassette."),
        click.option("--max-turns", type=int, help="Cap on model requests (exit 53)."),
        click.option("--max-tool-calls", type=int, help="Cap on tool calls (exit 5)."),
        click.option("--max-consecutive-failures", type=int, help="Cap on consecutive failed tool calls (exit 5)."),
        click.option("--max-tokens", type=int, help="Cap on input+output tokens (exit 5)."),
        click.option("--max-usd", type=float, help="Cap on cost in USD, priced with genai-prices (exit 5)."),
        click.option("--timeout", metavar="DURATION", help="Wall-clock limit, e.g. 90s, 5m (exit 124)."),
        click.option("--idle-timeout", metavar="DURATION", help="Limit without any activity (exit 124)."),
        click.option("--allow", multiple=True, metavar="RULE", help="Permission rule, e.g. 'Bash(npm test:*)'."),
        click.option("--ask", multiple=True, metavar="RULE", help="Rule whose calls need approval."),
        click.option("--permission-mode", type=click.Choice(PERMISSION_MODES)),
        click.option(
            "--on-ask",
            type=click.Choice(("deny", "tty", "suspend")),
            help="What a permission ask or an ask_user question does: deny, ask on the TTY, or suspend (exit 4; "
            "answer with tau resume).",
        ),
        click.option("--tools", metavar="LIST", help="Comma-separated built-in tools to enable."),
        click.option(
            "--mcp-config",
            multiple=True,
            metavar="FILE|JSON",
            help='MCP servers ({"mcpServers": ...}), a file or inline JSON; repeatable.',
        ),
        click.option("--strict-mcp-config", is_flag=True, help="Use only --mcp-config servers, not .mcp.json."),
        click.option("--cwd", metavar="DIR", help="Workspace root (default: the current directory)."),
        click.option(
            "--sandbox",
            "environment",
            type=click.Choice(("host", "docker")),
            help="Where tools run: the host, or a docker container tau manages.",
        ),
        click.option("--container", metavar="NAME", help="Run tools in this existing container (implies docker)."),
        click.option("--keep-sandbox", is_flag=True, help="Keep the managed container after the run."),
        click.option(
            "--sandbox-policy",
            type=click.Choice(("read-only", "workspace-write", "full")),
            help="Kernel wall for commands (default: from the permission mode; see README, Security model).",
        ),
        click.option(
            "--trust-workspace",
            is_flag=True,
            default=None,
            help="Trust this workspace's own files (hooks, MCP servers, allow rules...) for this run; also "
            "TAU_TRUST_WORKSPACE=1. See `tau trust`.",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr (text output)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@cli.command("run")
@click.argument("job_file", required=False, metavar="[FILE|-]")
@_run_options
@click.option("--plan", is_flag=True, help="Plan mode: explore read-only, submit a plan, exit 4 awaiting approval.")
@click.option("--execute-plan", metavar="FILE", help="Run an approved plan file (the job file, if any, adds context).")
@click.option("--session-id", metavar="ID", help="Name the new session.")
@_state_dir_option
def run_command(
    job_file: str | None, prompt_text: str | None, quiet: bool, state_dir: str | None, **flags: Any
) -> None:
    """Run an agent job: a markdown FILE, `-` for stdin, or `-p TEXT` (or just `--execute-plan FILE`).

    `tau inject ID TEXT` and `tau stop ID` from another shell steer the running job."""
    from tau.cli.run import execute

    code = execute(job_file=job_file, prompt_text=prompt_text, quiet=quiet, flags=flags, state_dir=state_dir)
    sys.exit(code)


@cli.command("resume")
@click.argument("session")
@_common_run_options
@_answer_options
@click.option("--approve-plan", is_flag=True, help="Execute the submitted plan (as `tau plan approve`).")
@click.option("--reject-plan", metavar="REASON", help="Ask for another plan (as `tau plan reject --reason`).")
@_state_dir_option
def resume_command(session: str, prompt_text: str | None, quiet: bool, state_dir: str | None, **flags: Any) -> None:
    """Continue SESSION (an id or unique prefix): with -p, a new prompt; without, its pending calls.

    A suspended run (exit 4) waits on calls: --approve CALL, --deny CALL[=REASON] [--reason TEXT] or
    --answer CALL=TEXT answer them; unanswered ones are decided again by the permission policy (so --allow or
    --on-ask deny settle them). Run flags apply on top of the session's stored job; --deny-rule adds a deny rule.
    A session awaiting plan approval continues with --approve-plan or --reject-plan REASON.
    """
    from tau.cli.run import execute_continuation

    approve_plan, reject_plan = flags.pop("approve_plan"), flags.pop("reject_plan")
    if approve_plan or reject_plan is not None:
        from tau.cli.run import resume_plan
        from tau.runtime.plan import PlanReview

        if approve_plan and reject_plan is not None:
            raise click.UsageError("give --approve-plan or --reject-plan, not both")
        if reject_plan is not None and not reject_plan.strip():
            raise click.BadParameter("give the model a reason", param_hint="--reject-plan")
        review = PlanReview("approve") if approve_plan else PlanReview("reject", reject_plan)
        given = {**flags, "prompt_text": prompt_text}
        sys.exit(resume_plan(session, review=review, quiet=quiet, state_dir=state_dir, flags=given))
    sys.exit(
        execute_continuation("resume", session, prompt_text=prompt_text, quiet=quiet, flags=flags, state_dir=state_dir)
    )


@cli.command("fork")
@click.argument("snapshot", metavar="SNAPSHOT|SESSION")
@_common_run_options
@_answer_options
@click.option("--session-id", metavar="ID", help="Name the new session (default: a new uuid).")
@click.option(
    "--with-files", is_flag=True, help="First restore the workspace files to SNAPSHOT's checkpoint (report on stderr)."
)
@_state_dir_option
def fork_command(snapshot: str, prompt_text: str | None, quiet: bool, state_dir: str | None, **flags: Any) -> None:
    """Start a new session whose first parent is SNAPSHOT (or a session's head) and run it (-p, or its pending
    calls, as with resume). `--with-files` first puts the workspace files back to SNAPSHOT's state."""
    from tau.cli.run import execute_continuation

    sys.exit(
        execute_continuation("fork", snapshot, prompt_text=prompt_text, quiet=quiet, flags=flags, state_dir=state_dir)
    )


@cli.group("schema")
def schema_group() -> None:
    """Print JSON Schemas of tau's contracts."""


@schema_group.command("events")
def schema_events() -> None:
    """The JSON Schema of one line of `--output stream-json`."""
    import json

    from tau.protocol import event_json_schema

    click.echo(json.dumps(event_json_schema(), indent=2))


def _register_subcommands() -> None:
    """Command groups that live in their own modules (each imports only click at module level)."""
    from tau.cli.agents_cmd import agents_group
    from tau.cli.hooks_cmd import hooks as hooks_group
    from tau.cli.mcp_cmd import mcp_group
    from tau.cli.memory_cmd import memory_group
    from tau.cli.plan_cmd import plan_group
    from tau.cli.rewind_cmd import rewind_command
    from tau.cli.sandbox_cmd import sandbox_group
    from tau.cli.serve_cmd import serve_command
    from tau.cli.sessions_cmd import sessions_group
    from tau.cli.skills_cmd import skills_group
    from tau.cli.steer_cmd import inject_command, stop_command
    from tau.cli.trust_cmd import doctor_command, trust_command
    from tau.cli.view_cmd import view_command
    from tau.cli.watch_cmd import watch_command

    commands = (
        agents_group,
        doctor_command,
        hooks_group,
        inject_command,
        mcp_group,
        memory_group,
        plan_group,
        rewind_command,
        sandbox_group,
        serve_command,
        sessions_group,
        skills_group,
        stop_command,
        trust_command,
        watch_command,
    )
    for command in commands:
        cli.add_command(command)
    sessions_group.add_command(view_command)  # `tau sessions view`: tau.cli.view_cmd


_register_subcommands()


def _check_cwd() -> None:
    from tau.errors import ConfigError

    try:
        os.getcwd()
    except FileNotFoundError:
        problem = "it no longer exists (deleted?): cd to an existing directory"
        raise ConfigError(problem, source="current directory") from None


def _argument_problem(args: list[str]) -> str | None:
    """`<option>: <problem>` for the first argument that is not text (an undecodable byte, a NUL), or None."""
    for index, arg in enumerate(args):
        if "\x00" in arg:
            problem = "contains a NUL character"
        else:
            try:
                arg.encode("utf-8")
                continue
            except UnicodeEncodeError as error:
                problem = f"is not valid UTF-8 text ({_undecodable(arg[error.start])} at position {error.start})"
        option, sep, _ = arg.partition("=")
        if arg.startswith("-") and sep:
            return f"{option}: {problem}"
        if index > 0 and args[index - 1].startswith("-") and "=" not in args[index - 1]:
            return f"{args[index - 1]}: {problem}"
        return f"argument {index + 1}: {problem}"
    return None


def _undecodable(char: str) -> str:
    try:
        return f"byte 0x{char.encode('utf-8', 'surrogateescape').hex()}"  # how the OS handed us a byte
    except UnicodeEncodeError:
        return f"lone surrogate U+{ord(char):04X}"


def _stdout_closed() -> bool:
    """Whether stdout is a pipe or socket whose reader went away (poll reports an error or hang-up on it)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)  # POLLERR and POLLHUP are always reported
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no stdout, or not a file descriptor
        return False


def _end_quietly_if_stdout_closed() -> None:
    """If the reader of stdout is gone, nothing more can be said there: stdout becomes /dev/null (what is still
    buffered goes nowhere) and the process exits 141 like a process killed by SIGPIPE — by exiting, not by the
    signal, so exit handlers (the one-file binary's unpack-dir clean-up) still run. Otherwise returns."""
    if _stdout_closed():
        _to_devnull()
        sys.exit(STDOUT_CLOSED)


def _to_devnull() -> None:
    """Point file descriptor 1 at /dev/null: what Python still holds buffered for stdout is dropped there."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def main() -> None:
    """Console entry point: `_dispatch`, then stdout flushed before the interpreter exits; a closed stdout ends
    quietly with 141 (see the module docstring)."""
    try:
        try:
            _dispatch()
        finally:
            _flush_stdout()
    except BrokenPipeError as error:
        _end_quietly_if_stdout_closed()
        with contextlib.suppress(OSError):  # a pipe of ours other than stdout (stderr's, say): still one line
            click.echo(f"tau: internal error: BrokenPipeError: {error}", err=True)
        sys.exit(1)


def _flush_stdout() -> None:
    """Flush stdout here, not in the interpreter's exit (which prints "Exception ignored" and exits 120). A broken
    pipe propagates to `main`; stdout that cannot be written otherwise (a full disk) is one line and exit 1."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        with contextlib.suppress(OSError):
            click.echo(f"tau: cannot write to stdout: {error.strerror or error}", err=True)
        _to_devnull()
        sys.exit(1)


def _dispatch() -> NoReturn:
    """Usage errors are one line too (`tau: …`, exit 2), not click's three-line block."""
    from tau.cli.frozen import ordinary_signals

    ordinary_signals()
    problem = _argument_problem(sys.argv[1:])
    if problem is not None:
        click.echo(f"tau: {problem}", err=True)
        sys.exit(2)
    try:
        code = cli.main(prog_name="tau", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:  # bare `tau` or a bare group: its help, readable, exit 0
        click.echo(error.ctx.get_help() if error.ctx else cli.get_help(click.Context(cli, info_name="tau")))
        sys.exit(0)
    except click.UsageError as error:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        click.echo(f"tau: {' '.join(error.format_message().split())}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as error:
        click.echo(f"tau: {' '.join(error.format_message().split())}", err=True)
        sys.exit(error.exit_code)
    except click.Abort:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
