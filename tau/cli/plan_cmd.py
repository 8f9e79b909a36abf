"""`tau plan approve SESSION` / `tau plan reject SESSION --reason TEXT`: the operator's verdict on a submitted plan.

A plan-mode run ends suspended with terminal reason `awaiting_plan_approval` (exit 4) after writing its plan to
`.tau/plans/<session>.md`. `approve` continues the same session in execution mode (`--permission-mode`, default
the job's own non-plan mode, else `acceptEdits`) with the plan — the file as the operator left it — as the next user
message; `reject` continues it in plan mode with the reason, so the model plans again. Both are
`tau resume SESSION --approve-plan` / `--reject-plan REASON` under another name.

The run itself is `tau.cli.run.resume_plan(name, review=PlanReview, quiet=, state_dir=, flags=) -> exit code`,
resolved when a command runs (`_resumer`), so this module imports only click. Registered by main.py
(`cli.add_command(plan_group)`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from tau.cli.options import engine_options, examples, model_option, output_option, quiet_option, state_dir_option

EXECUTION_MODES = ("default", "acceptEdits", "bypassPermissions")

Resumer = Callable[..., int]


def _resumer() -> Resumer:
    """`tau.cli.run.resume_plan`, which runs the continuation and returns the exit code."""
    from tau.cli import run as run_cli
    from tau.errors import InternalError

    resume = getattr(run_cli, "resume_plan", None)
    if resume is None:
        raise InternalError("plan approval is not wired: tau.cli.run.resume_plan is missing")
    resumer: Resumer = resume
    return resumer


def _run(session: str, decision: str, reason: str | None, quiet: bool, state_dir: str | None, **flags: Any) -> int:
    from tau.runtime.features.plan import PlanReview

    review = PlanReview("approve" if decision == "approve" else "reject", reason)
    given = {key: value for key, value in flags.items() if value is not None}
    return _resumer()(session, review=review, quiet=quiet, state_dir=state_dir, flags=given)


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.argument("session"),
        output_option,
        model_option,
        quiet_option,
        state_dir_option,
        engine_options,
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(
    "plan", epilog=examples("tau plan approve nightly-1", 'tau plan reject nightly-1 --reason "add a rollback step"')
)
def plan_group() -> None:
    """Approve or reject the plan a `tau run --plan` session submitted (it exited 4, awaiting approval)."""


@plan_group.command("approve", epilog=examples("tau plan approve nightly-1 --permission-mode acceptEdits -o json"))
@_common
@click.option(
    "--permission-mode",
    type=click.Choice(EXECUTION_MODES),
    help="Mode the plan executes in (default: the job's own mode if it was not plan, else acceptEdits).",
)
def approve_command(
    session: str,
    output: str | None,
    model: str | None,
    quiet: bool,
    state_dir: str | None,
    permission_mode: str | None,
    **engine: Any,
) -> None:
    """Execute SESSION's plan: continue the session in execution mode with the plan (the plan file as it is now,
    edits included) as the next message."""
    import sys

    sys.exit(
        _run(
            session,
            "approve",
            None,
            quiet,
            state_dir,
            output=output,
            model=model,
            permission_mode=permission_mode,
            **engine,
        )
    )


@plan_group.command("reject", epilog=examples('tau plan reject nightly-1 --reason "add a rollback step"'))
@_common
@click.option("--reason", required=True, metavar="TEXT", help="What is wrong with the plan (the model reads it).")
def reject_command(
    session: str, output: str | None, model: str | None, quiet: bool, state_dir: str | None, reason: str, **engine: Any
) -> None:
    """Send SESSION back to planning: the model reads REASON and submits a new plan (exit 4 again)."""
    import sys

    if not reason.strip():
        raise click.BadParameter("give the model a reason", param_hint="--reason")
    sys.exit(_run(session, "reject", reason, quiet, state_dir, output=output, model=model, **engine))
