"""`tau run`, `tau resume`, `tau fork`: flags -> JobSpec -> runtime, with renderers as sinks; owns the event loop and
signal handling.

Returns the process exit code. The terminal event is always rendered before returning, also on SIGINT/SIGTERM
(the handlers cancel the run through the driver, which commits and emits `run.completed`). Every run persists to
the `FileSessionStore` of `default_state_dir(env, cwd, --state-dir)`.

`resume`/`fork` rebuild the job from the snapshot's stored config (`tau.config.resume_job`: prompt replaced, flags on
top, credentials from the current environment) and run it as a `Continuation` of the session; answers to pending
calls (`--approve`, `--deny CALL[=REASON]`, `--answer CALL=TEXT`) are checked against the pending calls before any
work starts (exit 2 naming an unknown call). `tau fork --with-files` first restores the workspace files to the forked
snapshot's pin (`restore_for_fork`, report on stderr; exit 1 without running if a file could not be restored).

Plan mode: `tau run --plan` is `--permission-mode plan`; `--execute-plan FILE` runs a plan file in execution mode
(the job file, if any, adds its prompt as context). `resume_plan` continues a session awaiting plan approval
(`tau plan approve|reject`, `tau resume --approve-plan|--reject-plan`).

Steering: every run watches its session's inbox (`tau.runtime.steering.steered`) for `tau inject` / `tau stop`.

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
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tau.cli import started
from tau.cli.render import make_renderer
from tau.errors import ConfigError, Interrupted, PreflightError

if TYPE_CHECKING:
    from tau.config import JobSpec
    from tau.runtime import Answers, Continuation
    from tau.runtime.plan import PlanReview
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
    from tau.sessions import FileSessionStore, check_state_dir, default_state_dir, state_dir_source

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
    from tau.runtime.plan import execute_plan_prompt, execution_mode

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

    flags, plan_file = _plan_flags(flags)
    own_prompt = job_file is not None or prompt_text is not None
    stdin_text = read_stdin() if job_file == "-" else None
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
    store = open_store(state_dir)
    if job.session_id is not None and store.refs.read(job.session_id) is not None:
        raise ConfigError(f"session {job.session_id!r} already exists in {store.root}", source="--session-id")
    return _drive(job, quiet=quiet, store=store)


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
    import anyio

    from tau.config import resume_job
    from tau.runtime import Continuation
    from tau.runtime.plan import AWAITING_PLAN_APPROVAL

    flags = dict(flags)
    answers = parse_answers(flags.pop("approve"), flags.pop("deny_calls"), flags.pop("reason"), flags.pop("answer"))
    new_id = flags.pop("session_id", None)
    with_files = bool(flags.pop("with_files", False))
    store = open_store(state_dir)
    shown = anyio.run(store.show, name)
    resolved = shown.resolved
    if kind == "resume" and resolved.kind != "session":
        raise ConfigError(f"{name!r} names a snapshot, not a session: use `tau fork {name}`", source="tau resume")
    session_id = resolved.session_id if kind == "resume" else (new_id or str(uuid.uuid4()))
    assert session_id is not None
    label = resolved.session_id or resolved.snapshot_id[:12]
    answers.check(shown.pending, session=label)
    if prompt_text is None and shown.pending is None:
        if shown.snapshot.status == AWAITING_PLAN_APPROVAL:
            raise ConfigError(
                f"{label} is awaiting plan approval: tau plan approve {label} (or reject --reason TEXT)",
                source=f"tau {kind}",
            )
        raise ConfigError(f"{label} is not waiting on any call: give -p TEXT to continue it", source=f"tau {kind}")
    job = resume_job(shown.config, prompt=prompt_text, flags=_flag_values(flags), env=dict(os.environ), cwd=Path.cwd())
    if kind == "fork":
        anyio.run(store.fork, resolved.snapshot_id, session_id, job.model_dump(mode="json"))
        if with_files and not _restore_files(store, resolved.snapshot_id, job.environment.workspace):
            return 1
    return _drive(job, quiet=quiet, store=store, session_id=session_id, continuation=Continuation(prompt_text, answers))


def _restore_files(store: FileSessionStore, snapshot_id: str, directory: str) -> bool:
    """`tau fork --with-files`: put the fork's workspace (`directory`) in the state the forked snapshot pins; the
    report goes to stderr. False when a file could not be restored (the run does not start)."""
    import anyio
    from pydantic_ai.workspaces import Workspace

    from tau.checkpoints.recorder import RewindReport, restore_for_fork
    from tau.checkpoints.rewind import resolve_rewind
    from tau.environment import HostBackend
    from tau.sessions.checkpoints import store_objects

    if not Path(directory).is_dir():
        raise ConfigError(f"workspace directory {directory} does not exist", source="--with-files")
    target = resolve_rewind(store, snapshot_id)
    workspace = Workspace(HostBackend(directory))

    async def restore() -> RewindReport:
        return await restore_for_fork(store_objects(store), target.checkpoint, workspace, latest=target.latest)

    report = anyio.run(restore)
    sys.stderr.write(f"restore {directory} to snapshot {snapshot_id[:12]} (step {target.step})\n")
    for line in report.lines():
        sys.stderr.write(f"{line}\n")
    if report.errors:
        sys.stderr.write("tau: could not restore every file; the fork does not run\n")
    return not report.errors


_ANSWER_FLAGS = ("approve", "deny_calls", "reason", "answer")


def resume_plan(name: str, *, review: PlanReview, quiet: bool, state_dir: str | None, flags: dict[str, Any]) -> int:
    """`tau plan approve|reject SESSION` (and `tau resume SESSION --approve-plan|--reject-plan`): continue a
    session awaiting plan approval — approved: in execution mode (`review.mode`) with the plan as the next message;
    rejected: in plan mode with the reason. `flags` are run flags on top of the stored job."""
    import anyio

    from tau.config import resume_job
    from tau.runtime import Continuation
    from tau.runtime.plan import AWAITING_PLAN_APPROVAL

    given = dict(flags)
    verb = f"tau plan {review.decision}"
    if any(given.pop(key, None) for key in _ANSWER_FLAGS):
        raise ConfigError("a plan review answers no pending calls (--approve/--deny/--answer)", source=verb)
    if given.pop("prompt_text", None) is not None:
        raise ConfigError("a plan review sends its own prompt: -p does not apply", source=verb)
    values = _flag_values(given)
    store = open_store(state_dir)
    shown = anyio.run(store.show, name)
    session_id = shown.resolved.session_id
    if shown.resolved.kind != "session" or session_id is None:
        raise ConfigError(f"{name!r} names a snapshot, not a session", source=verb)
    if shown.snapshot.status != AWAITING_PLAN_APPROVAL:
        raise ConfigError(
            f"session {session_id} is not awaiting plan approval (its status is {shown.snapshot.status})", source=verb
        )
    stored_mode = shown.config.get("permissions", {}).get("mode", "default")
    values["permission_mode"] = review.mode(stored_mode, values.get("permission_mode"))
    job = resume_job(shown.config, prompt=None, flags=values, env=dict(os.environ), cwd=Path.cwd())
    continuation = Continuation(None, plan_review=review)
    return _drive(job, quiet=quiet, store=store, session_id=session_id, continuation=continuation)


def _inbox(store: FileSessionStore, session_id: str) -> Path:
    """The run's steering inbox, created now: a store that takes no new directory (a full disk) is a preflight
    failure (exit 3, one line), not an internal error of the steering watcher."""
    from tau.runtime.steering import inbox_dir

    inbox = inbox_dir(store.root, session_id)
    try:
        inbox.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PreflightError(f"session store: cannot create {inbox}: {error.strerror or error}") from None
    return inbox


def _drive(
    job: JobSpec,
    *,
    quiet: bool,
    store: FileSessionStore,
    session_id: str | None = None,
    continuation: Continuation | None = None,
) -> int:
    renderer = make_renderer(job.output.format, sys.stdout, sys.stderr, tty=sys.stderr.isatty(), quiet=quiet)
    import anyio

    from tau.runtime import prepare_run
    from tau.runtime.steering import steered
    from tau.sessions import StoreWriteError

    async def main() -> int:
        await store.settle_interrupted()  # sessions of killed runs read `interrupted`, not `running`
        driver = await prepare_run(
            job,
            sinks=[renderer],
            interactive=sys.stdin.isatty(),
            store=store,
            session_id=session_id,
            continuation=continuation,
        )
        driver.origin = started.monotonic_origin()  # --timeout counts from launch, start-up included
        import asyncio

        loop = asyncio.get_running_loop()

        def on_signal(name: str) -> None:
            driver.cancel(Interrupted(f"received {name}", signal_name=name))

        loop.add_signal_handler(signal.SIGINT, on_signal, "SIGINT")
        loop.add_signal_handler(signal.SIGTERM, on_signal, "SIGTERM")
        try:
            inbox = _inbox(store, driver.session_id)
            async with steered(inbox, inject=driver.inject, cancel=driver.cancel):
                try:
                    completed = await driver.run()
                except StoreWriteError as error:  # the session could not even begin (a full disk): nothing ran
                    raise PreflightError(error.message) from error
        finally:
            await driver.close()
            _ignore_late_signals(loop)
        return completed.exit_code

    try:
        return anyio.run(main)
    finally:
        renderer.close()
        # the process ends next: spare the interpreter's final collections of everything loaded (~0.3 s here)
        gc.freeze()
