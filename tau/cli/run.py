"""`tau run`, `tau resume`, `tau fork`: flags -> JobSpec -> runtime, with renderers as sinks; owns the event loop and
signal handling.

Returns the process exit code. The terminal event is always rendered before returning, also on SIGINT/SIGTERM
(the handlers cancel the run through the driver, which commits and emits `run.completed`). Every run persists to
the `FileSessionStore` of `default_state_dir(env, cwd, --state-dir)`.

`resume`/`fork` rebuild the job from the snapshot's stored config (`tau.config.resume_job`: prompt replaced, flags on
top, credentials from the current environment) and run it as a `Continuation` of the session; answers to pending
calls (`--approve`, `--deny CALL[=REASON]`, `--answer CALL=TEXT`) are checked against the pending calls before any
work starts (exit 2 naming an unknown call).
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tau.cli.render import make_renderer
from tau.errors import ConfigError, Interrupted

if TYPE_CHECKING:
    from tau.config import JobSpec
    from tau.runtime import Answers, Continuation
    from tau.sessions import FileSessionStore

_NOT_CONFIG = frozenset({"state_dir"})  # CLI flags that are not job settings


def _flag_values(flags: dict[str, Any]) -> dict[str, Any]:
    """CLI flags as the config layer takes them: only the ones given, list flags as lists."""
    values: dict[str, Any] = {}
    for key, value in flags.items():
        if value is None or value == () or value is False or key in _NOT_CONFIG:
            continue
        values[key.rstrip("_")] = list(value) if isinstance(value, tuple) else value
    return values


def open_store(state_dir: str | None) -> FileSessionStore:
    """The file store this invocation uses (see `tau.sessions.default_state_dir` for the order)."""
    from tau.sessions import FileSessionStore, default_state_dir

    return FileSessionStore(default_state_dir(os.environ, Path.cwd(), state_dir))


def execute(
    *, job_file: str | None, prompt_text: str | None, quiet: bool, flags: dict[str, Any], state_dir: str | None = None
) -> int:
    from tau.config import load_job

    stdin_text = None
    if job_file == "-":
        stdin_text = sys.stdin.read()
    job = load_job(
        job_path=job_file,
        prompt_text=prompt_text,
        stdin_text=stdin_text,
        flags=_flag_values(flags),
        env=dict(os.environ),
        cwd=Path.cwd(),
    )
    store = open_store(state_dir)
    if job.session_id is not None and store.refs.read(job.session_id) is not None:
        raise ConfigError(f"session {job.session_id!r} already exists in {store.root}", source="--session-id")
    return _drive(job, quiet=quiet, store=store)


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

    flags = dict(flags)
    answers = parse_answers(flags.pop("approve"), flags.pop("deny_calls"), flags.pop("reason"), flags.pop("answer"))
    new_id = flags.pop("session_id", None)
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
        raise ConfigError(f"{label} is not waiting on any call: give -p TEXT to continue it", source=f"tau {kind}")
    job = resume_job(shown.config, prompt=prompt_text, flags=_flag_values(flags), env=dict(os.environ), cwd=Path.cwd())
    if kind == "fork":
        anyio.run(store.fork, resolved.snapshot_id, session_id, job.model_dump(mode="json"))
    return _drive(job, quiet=quiet, store=store, session_id=session_id, continuation=Continuation(prompt_text, answers))


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

    async def main() -> int:
        driver = await prepare_run(
            job,
            sinks=[renderer],
            interactive=sys.stdin.isatty(),
            store=store,
            session_id=session_id,
            continuation=continuation,
        )
        import asyncio

        loop = asyncio.get_running_loop()

        def on_signal(name: str) -> None:
            driver.cancel(Interrupted(f"received {name}", signal_name=name))

        loop.add_signal_handler(signal.SIGINT, on_signal, "SIGINT")
        loop.add_signal_handler(signal.SIGTERM, on_signal, "SIGTERM")
        try:
            completed = await driver.run()
        finally:
            await driver.close()
        return completed.exit_code

    try:
        return anyio.run(main)
    finally:
        renderer.close()
