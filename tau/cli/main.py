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

Warm runs: `main()` first offers `run`/`resume`/`fork` to this user's local server (`tau.cli.warm.handoff`, stdlib
only; `tau/__main__.py` does it before this module is even imported); `--no-server` or `TAU_NO_SERVER=1` keep the
run here, and a server that does not answer means a local run.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
from typing import Any, NoReturn

import click

from tau import __version__
from tau.cli.options import answer_options, examples, run_options, session_id_option, state_dir_option

STDOUT_CLOSED = 141  # 128 + SIGPIPE: what a shell reports for `git log | head` when git dies of the closed pipe


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
            from tau.cli.frozen import received_signal

            signum = received_signal()
            if signum is not None:  # a signal's exception a library wrapped (frozen.received_signal)
                sys.exit(128 + signum)
            if os.environ.get("TAU_DEBUG"):
                raise
            detail = " ".join(str(error).split()) or type(error).__name__
            from tau.redact import Redactor

            detail = Redactor.from_env(os.environ).text(detail)
            click.echo(f"tau: internal error: {type(error).__name__}: {detail}", err=True)
            sys.exit(int(ExitCode.FAILED))


@click.group(
    cls=_TauGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog=examples("tau run job.md -o json", "tau sessions ls --limit 5", "tau run --help"),
)
@click.version_option(__version__, "-V", "--version", prog_name="tau", message="%(prog)s %(version)s")
def cli() -> None:
    """tau — a headless agent runtime.

    Run an agent job from a markdown file (YAML frontmatter = job spec, body = prompt) and exit with a code a
    script can trust: 0 completed · 1 failed · 2 usage/config error · 3 preflight · 4 needs input ·
    5 budget exhausted · 53 turn limit · 124 timeout · 130/143 signals.
    """


_no_server_option = click.option(
    "--no-server",
    is_flag=True,
    help="Run in this process even when a local server (`tau serve --local`) is listening (or TAU_NO_SERVER=1).",
)


@cli.command(
    "run",
    epilog=examples(
        "tau run review.md --var branch=main -o json",
        'tau run -p "Fix the failing test" --allow "Bash(npm test:*)" --max-turns 20',
    ),
)
@click.argument("job_file", required=False, metavar="[FILE|-]")
@run_options
@click.option("--preset", metavar="NAME[@N]", help="Run a stored preset (`tau presets`); -p TEXT replaces its prompt.")
@click.option("--plan", is_flag=True, help="Plan mode: explore read-only, submit a plan, exit 4 awaiting approval.")
@click.option("--execute-plan", metavar="FILE", help="Run an approved plan file (the job file, if any, adds context).")
@session_id_option
@state_dir_option
@_no_server_option
def run_command(
    job_file: str | None, prompt_text: str | None, quiet: bool, state_dir: str | None, no_server: bool, **flags: Any
) -> None:
    """Run an agent job: a markdown FILE, `-` for stdin, or `-p TEXT` (or just `--execute-plan FILE`).

    `tau inject ID TEXT` and `tau stop ID` from another shell steer the running job."""
    from tau.cli.lean import run_path_imported
    from tau.cli.run import execute

    run_path_imported()
    code = execute(job_file=job_file, prompt_text=prompt_text, quiet=quiet, flags=flags, state_dir=state_dir)
    sys.exit(code)


@cli.command(
    "resume",
    epilog=examples(
        'tau resume nightly-1 -p "also update the changelog"',
        'tau resume nightly-1 --approve call_1 --deny-call call_2="not on main"',
    ),
)
@click.argument("session")
@run_options
@answer_options
@click.option("--approve-plan", is_flag=True, help="Execute the submitted plan (as `tau plan approve`).")
@click.option("--reject-plan", metavar="REASON", help="Ask for another plan (as `tau plan reject --reason`).")
@state_dir_option
@_no_server_option
def resume_command(
    session: str, prompt_text: str | None, quiet: bool, state_dir: str | None, no_server: bool, **flags: Any
) -> None:
    """Continue SESSION (an id or unique prefix): with -p, a new prompt; without, its pending calls.

    A suspended run (exit 4) waits on calls: --approve CALL, --deny-call CALL[=REASON] [--reason TEXT] or
    --answer CALL=TEXT answer them; unanswered ones are decided again by the permission policy (so --allow or
    --on-ask deny settle them). Run flags apply on top of the session's stored job (--deny RULE adds a deny rule).
    A session awaiting plan approval continues with --approve-plan or --reject-plan REASON.
    """
    from tau.cli.lean import run_path_imported
    from tau.cli.run import execute_continuation

    run_path_imported()
    approve_plan, reject_plan = flags.pop("approve_plan"), flags.pop("reject_plan")
    if approve_plan or reject_plan is not None:
        from tau.cli.run import resume_plan
        from tau.runtime.features.plan import PlanReview

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


@cli.command("fork", epilog=examples('tau fork 3f9a2c -p "try the other approach" --session-id nightly-1-alt'))
@click.argument("snapshot", metavar="SNAPSHOT|SESSION")
@run_options
@answer_options
@session_id_option
@click.option(
    "--with-files", is_flag=True, help="First restore the workspace files to SNAPSHOT's checkpoint (report on stderr)."
)
@state_dir_option
@_no_server_option
def fork_command(
    snapshot: str, prompt_text: str | None, quiet: bool, state_dir: str | None, no_server: bool, **flags: Any
) -> None:
    """Start a new session whose first parent is SNAPSHOT (or a session's head) and run it (-p, or its pending
    calls, as with resume). `--with-files` first puts the workspace files back to SNAPSHOT's state."""
    from tau.cli.lean import run_path_imported
    from tau.cli.run import execute_continuation

    run_path_imported()
    sys.exit(
        execute_continuation("fork", snapshot, prompt_text=prompt_text, quiet=quiet, flags=flags, state_dir=state_dir)
    )


@cli.group("schema", epilog=examples("tau schema events > events.schema.json"))
def schema_group() -> None:
    """Print JSON Schemas of tau's contracts."""


@schema_group.command("events", epilog=examples("tau schema events > events.schema.json"))
def schema_events() -> None:
    """The JSON Schema of one line of `--output stream-json`."""
    import json

    from tau.protocol import event_json_schema

    click.echo(json.dumps(event_json_schema(), indent=2))


def _register_subcommands() -> None:
    """Command groups that live in their own modules (each imports only click at module level)."""
    from tau.cli.agents_cmd import agents_group
    from tau.cli.hooks_cmd import hooks as hooks_group
    from tau.cli.labels_cmd import label_command
    from tau.cli.mail_cmd import mail_group
    from tau.cli.mcp_cmd import mcp_group
    from tau.cli.memory_cmd import memory_group
    from tau.cli.plan_cmd import plan_group
    from tau.cli.presets_cmd import presets_group
    from tau.cli.rewind_cmd import rewind_command
    from tau.cli.sandbox_cmd import sandbox_group
    from tau.cli.serve_cmd import serve_command
    from tau.cli.sessions_cmd import sessions_group
    from tau.cli.skills_cmd import skills_group
    from tau.cli.steer_cmd import inject_command, stop_command
    from tau.cli.trust_cmd import doctor_command, trust_command
    from tau.cli.view_cmd import view_command
    from tau.cli.watch_cmd import watch_command
    from tau.cli.worker_cmd import worker_command

    commands = (
        agents_group,
        doctor_command,
        hooks_group,
        inject_command,
        mail_group,
        mcp_group,
        memory_group,
        plan_group,
        presets_group,
        rewind_command,
        sandbox_group,
        serve_command,
        sessions_group,
        skills_group,
        stop_command,
        trust_command,
        watch_command,
        worker_command,
    )
    for command in commands:
        cli.add_command(command)
    sessions_group.add_command(view_command)  # `tau sessions view`: tau.cli.view_cmd
    sessions_group.add_command(label_command)  # `tau sessions label`: tau.cli.labels_cmd


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
    from tau.cli.warm import handoff

    handoff(sys.argv[1:])  # a local server takes run/resume/fork (never returns then); else a local run
    from tau.cli.lean import pause_collector, skip_httpx_cli

    skip_httpx_cli()  # httpx's own CLI (rich, pygments): ~55 ms of every cold run, never used
    pause_collector(sys.argv[1:])  # run/resume/fork: no cyclic GC while importing (run_path_imported turns it on)
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
