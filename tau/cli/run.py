"""`tau run`, `tau resume`, `tau fork`, `tau plan approve|reject`: flags -> an operation for the runtime
(`tau.runtime.Runtime`), its events rendered; owns the event loop and signal handling.

Returns the process exit code. The terminal event is always rendered before returning, also on SIGINT/SIGTERM
(once the run exists the handlers cancel it through its `RunControl`; it commits and emits `run.completed`). Every
run persists to the `FileSessionStore` of `default_state_dir(env, cwd, --state-dir)`, or to the Postgres store
`--store`/`TAU_STORE`/the user config's `[store] url` names (`tau.cli.stores`).

This module only translates: `tau run` loads the job (`load_job`) and submits `Start`; `tau resume` submits
`Continue` (or `Answer` with `--approve`, `--deny-call CALL[=REASON]`, `--answer CALL=TEXT`); `tau fork` submits `Fork`
(`--with-files`: the runtime restores the workspace first, its report goes to stderr); `tau plan approve|reject`
submits `ReviewPlan`. The runtime checks every precondition before any work starts (exit 2 naming the problem) and
rebuilds a continuation's job from the session's stored config with these flags on top (`tau.config.resume_job`).
The renderer is the one the run's job asks for (`-o`, else the stored job's format).

Plan mode: `tau run --plan` is `--permission-mode plan`; `--execute-plan FILE` runs a plan file in execution mode
(the job file, if any, adds its prompt as context).

Steering: every run watches its session's inbox (`tau.runtime.features.steering`) for `tau inject` / `tau stop`.

Engines: `--engine temporal --address HOST:PORT` (`tau.cli.engines`) submits the run to `tau worker` processes
through Temporal and renders its events here, with the same outputs and exit codes; the default runs it inline.

Start-up: sessions of the store whose writer is gone (killed, crashed) are shown `interrupted` from now on
(`FileSessionStore.settle_interrupted`; `tau sessions ls` and `tau serve` do the same).

Time limits: `--timeout` counts from the start of the process the user launched (`tau.cli.started`: its kernel start
time, the one-file launcher's in the binary), so interpreter start-up, config loading, the sandbox and MCP servers
are inside the limit; a start-up that used it all ends the run at once with its terminal event (exit 124).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from tau.cli import started
from tau.cli.engines import EngineChoice, pop_engine
from tau.cli.render import Renderer, make_renderer
from tau.cli.stores import open_any_store
from tau.errors import ConfigError, Interrupted, PreflightError

if TYPE_CHECKING:
    from tau.cli.stores import AnyStore
    from tau.config import JobSpec
    from tau.runtime import Answers, RunOperation
    from tau.runtime.features.plan import PlanReview
    from tau.sessions import FileSessionStore

_NOT_CONFIG = frozenset({"state_dir"})  # CLI flags that are not job settings


def _ignore_late_signals(loop: Any) -> None:
    """Once the run has ended, a late SIGINT/SIGTERM must not change the exit status its terminal event reported:
    drop the loop's handlers and ignore both signals for the rest of the process (blocked while switching)."""
    watched = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    try:
        for sig in watched:
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, watched)


def _flag_values(flags: dict[str, Any]) -> dict[str, Any]:
    """CLI flags as the config layer takes them: only the ones given, list flags as lists."""
    values: dict[str, Any] = {}
    for key, value in flags.items():
        if value is None or value == () or value is False or key in _NOT_CONFIG:
            continue
        values[key.rstrip("_")] = list(value) if isinstance(value, tuple) else value
    return values


def open_store(state_dir: str | None, *, write: bool = True) -> FileSessionStore:
    """The file store this invocation uses (see `tau.sessions.default_state_dir` for the order), checked first: a
    state dir that is a file, unreadable, or (`write`) cannot be created or written is one line, exit 2."""
    from tau.cli.stores import file_store_only
    from tau.sessions import FileSessionStore, check_state_dir, default_state_dir, state_dir_source

    ctx = click.get_current_context(silent=True)
    file_store_only(f"`{ctx.command_path}`" if ctx is not None else "this command")
    root = default_state_dir(os.environ, Path.cwd(), state_dir)
    check_state_dir(root, source=state_dir_source(os.environ, state_dir), write=write)
    return FileSessionStore(root)


_PLAN_PLACEHOLDER = "(execute the plan)"  # the prompt `load_job` sees for `--execute-plan` without a job


def _plan_flags(flags: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """`--plan` (as `--permission-mode plan`) and `--execute-plan FILE` taken out of `flags`."""
    flags = dict(flags)
    plan = flags.pop("plan", False)
    plan_file: str | None = flags.pop("execute_plan", None)
    if plan and plan_file is not None:
        raise ConfigError("--plan writes a plan; --execute-plan runs one: give one of them", source="--plan")
    if plan:
        if flags.get("permission_mode") not in (None, "plan"):
            raise ConfigError(f"--plan conflicts with --permission-mode {flags['permission_mode']}", source="--plan")
        flags["permission_mode"] = "plan"
    return flags, plan_file


def _executing_plan(job: JobSpec, plan_file: str, *, own_prompt: bool) -> JobSpec:
    """`--execute-plan FILE`: the plan (a file relative to the cwd) as the prompt, the job's prompt as context,
    in execution mode."""
    from tau.config.jobfile import read_text_file
    from tau.config.paths import user_path
    from tau.runtime.features.plan import execute_plan_prompt, execution_mode

    path = user_path(plan_file, base_dir=Path.cwd(), source="--execute-plan")
    text = read_text_file(path, source="--execute-plan", what="plan file")
    if not text.strip():
        raise ConfigError("the plan file is empty", source=f"--execute-plan {plan_file}")
    permissions = job.permissions.model_copy(update={"mode": execution_mode(job.permissions.mode)})
    prompt = execute_plan_prompt(text, job.prompt if own_prompt else None)
    source = job.source if own_prompt else str(path)
    return job.model_copy(update={"prompt": prompt, "permissions": permissions, "source": source})


def execute(
    *, job_file: str | None, prompt_text: str | None, quiet: bool, flags: dict[str, Any], state_dir: str | None = None
) -> int:
    from tau.config import load_job

    flags = dict(flags)
    engine = pop_engine(flags)
    preset = flags.pop("preset", None)
    flags, plan_file = _plan_flags(flags)
    own_prompt = job_file is not None or prompt_text is not None or preset is not None
    stdin_text = read_stdin() if job_file == "-" else None
    if preset is not None:  # the preset's job text stands in for stdin (`tau.cli.presets_cmd`)
        from tau.cli.presets_cmd import preset_document

        stdin_text, flags = preset_document(
            preset, job_file=job_file, prompt_text=prompt_text, flags=flags, state_dir=state_dir
        )
        job_file, prompt_text = "-", None
    job = load_job(
        job_path=job_file,
        prompt_text=prompt_text if own_prompt or plan_file is None else _PLAN_PLACEHOLDER,
        stdin_text=stdin_text,
        flags=_flag_values(flags),
        env=dict(os.environ),
        cwd=Path.cwd(),
    )
    if plan_file is not None:
        job = _executing_plan(job, plan_file, own_prompt=own_prompt)
    from tau.runtime import Start

    return _drive(Start(job), quiet=quiet, store=open_any_store(state_dir), engine=engine)


def read_stdin() -> str:
    """The job text on stdin: UTF-8 (BOM tolerated) or a one-line ConfigError, whatever the locale says."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream without bytes underneath (an embedding that replaced sys.stdin)
        return sys.stdin.read()
    data: bytes = stream.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"not valid UTF-8 (byte {error.start})", source="<stdin>") from None


def parse_answers(
    approve: tuple[str, ...], deny: tuple[str, ...], reason: str | None, answer: tuple[str, ...]
) -> Answers:
    from tau.runtime import Answers

    denied: dict[str, str | None] = {}
    for item in deny:
        call_id, sep, why = item.partition("=")
        denied[call_id.strip()] = why if sep and why else reason
    answered: dict[str, str] = {}
    for item in answer:
        call_id, sep, text = item.partition("=")
        if not sep or not call_id.strip():
            raise ConfigError(f"expected CALL=TEXT, got {item!r}", source="--answer")
        answered[call_id.strip()] = text
    return Answers(approve=tuple(a.strip() for a in approve), deny=denied, answer=answered)


def execute_continuation(
    kind: Literal["resume", "fork"],
    name: str,
    *,
    prompt_text: str | None,
    quiet: bool,
    flags: dict[str, Any],
    state_dir: str | None,
) -> int:
    """`tau resume SESSION` / `tau fork SNAPSHOT|SESSION` (see the module docstring)."""
    from tau.runtime import Answer, Continue, Fork

    flags = dict(flags)
    engine = pop_engine(flags)
    answers = parse_answers(flags.pop("approve"), flags.pop("deny_calls"), flags.pop("reason"), flags.pop("answer"))
    new_id = flags.pop("session_id", None)
    with_files = bool(flags.pop("with_files", False))
    overrides = _flag_values(flags)
    op: RunOperation
    if kind == "fork":
        op = Fork(name, new_id, prompt=prompt_text, answers=answers, overrides=overrides, with_files=with_files)
    elif answers:
        op = Answer(name, answers, prompt=prompt_text, overrides=overrides)
    else:
        op = Continue(name, prompt_text, overrides=overrides)
    return _drive(op, quiet=quiet, store=open_any_store(state_dir), engine=engine)


_ANSWER_FLAGS = ("approve", "deny_calls", "reason", "answer")


def resume_plan(name: str, *, review: PlanReview, quiet: bool, state_dir: str | None, flags: dict[str, Any]) -> int:
    """`tau plan approve|reject SESSION` (and `tau resume SESSION --approve-plan|--reject-plan`): continue a
    session awaiting plan approval — approved: in execution mode (`review.mode`) with the plan as the next message;
    rejected: in plan mode with the reason. `flags` are run flags on top of the stored job."""
    from tau.runtime import ReviewPlan

    given = dict(flags)
    engine = pop_engine(given)
    verb = f"tau plan {review.decision}"
    if any(given.pop(key, None) for key in _ANSWER_FLAGS):
        raise ConfigError("a plan review answers no pending calls (--approve/--deny-call/--answer)", source=verb)
    if given.pop("prompt_text", None) is not None:
        raise ConfigError("a plan review sends its own prompt: -p does not apply", source=verb)
    op = ReviewPlan(name, review.decision, review.reason, overrides=_flag_values(given))
    return _drive(op, quiet=quiet, store=open_any_store(state_dir), engine=engine)


def _drive(op: RunOperation, *, quiet: bool, store: AnyStore, engine: EngineChoice | None = None) -> int:
    """Submit `op` to this process's runtime and render its run: the renderer the run's job asks for, SIGINT and
    SIGTERM cancelling the run once it exists, the session's steering inbox watched. Returns the exit code.
    `engine` says where the run executes (default: inline, in this process)."""
    import anyio

    from tau import telemetry
    from tau.runtime import Forked, Runtime
    from tau.sessions import StoreWriteError

    renderers: list[Renderer] = []

    def report(line: str) -> None:
        sys.stderr.write(f"{line}\n")

    async def main() -> int:
        import asyncio

        await store.settle_interrupted()  # sessions of killed runs read `interrupted`, not `running`
        runtime = Runtime(store, engine=(engine or EngineChoice()).build(), env=os.environ, cwd=Path.cwd())
        prepared = await runtime.prepare(op, report=report)
        assert not isinstance(prepared, Forked)  # the CLI's forks run
        job = prepared.job
        telemetry.install(job.telemetry, traceparent=os.environ.get("TRACEPARENT"))  # continues a caller's trace
        renderers.append(make_renderer(job.output.format, sys.stdout, sys.stderr, tty=sys.stderr.isatty(), quiet=quiet))
        loop = asyncio.get_running_loop()
        control = runtime.control(prepared.session_id, origin=started.monotonic_origin())  # --timeout from launch

        def on_signal(name: str) -> None:
            control.cancel(Interrupted(f"received {name}", signal_name=name))

        def install() -> None:  # once the run exists: before, a signal ends start-up as it always did
            loop.add_signal_handler(signal.SIGINT, on_signal, "SIGINT")
            loop.add_signal_handler(signal.SIGTERM, on_signal, "SIGTERM")

        control.on_attach = install
        try:
            completed = await runtime.execute(
                prepared, sinks=renderers, control=control, interactive=sys.stdin.isatty(), steering=True
            )
        except StoreWriteError as error:  # the session could not even begin (a full disk): nothing ran
            raise PreflightError(error.message) from error
        finally:
            _ignore_late_signals(loop)
        return completed.exit_code

    try:
        return anyio.run(main)
    finally:
        for renderer in renderers:
            renderer.close()
        # the process ends next: spare the interpreter's final collections of everything loaded (~0.3 s here)
        gc.freeze()
