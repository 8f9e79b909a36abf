"""`tau watch DIR`: run every job file dropped into DIR, as `tau run` would; results land in done/ or failed/.

The command owns the event loop and the signal handlers (SIGINT/SIGTERM -> `Watcher.stop`; a second signal stops
waiting for the cancelled jobs). Job settings come from each job file plus the flags below, which mean what they mean
for `tau run` (`tau.cli.run._flag_values` turns them into config flags). Exit code: 0 after a signal (a clean stop);
with `--once`, 1 if any job of the pass failed (a job found cut off by a crash counts), else 0; 2 for a usage error
(e.g. DIR is already watched). Progress lines go to stderr (`tau watch: ...`) unless `--quiet`. Imports the runtime
lazily.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from tau.cli.options import (
    allow_option,
    base_url_option,
    cwd_option,
    deny_option,
    examples,
    max_tool_calls_option,
    max_turns_option,
    max_usd_option,
    model_option,
    permission_mode_option,
    quiet_option,
    state_dir_option,
    timeout_option,
    var_option,
)


@click.command("watch", epilog=examples("tau watch jobs/", "tau watch jobs/ --once -m openai:gpt-4.1 --max-turns 30"))
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("-j", "--concurrency", default=2, show_default=True, type=click.IntRange(min=1), help="Jobs at once.")
@click.option("--once", is_flag=True, help="Process the job files present at start, then exit.")
@click.option(
    "--done-dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Where finished jobs go (default: DIR/done).",
)
@click.option(
    "--failed-dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Where failed jobs go (default: DIR/failed).",
)
@click.option(
    "--settle",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="How long a file must stay unchanged before it is picked up.",
)
@model_option
@base_url_option
@var_option
@max_turns_option
@max_tool_calls_option
@max_usd_option
@timeout_option
@allow_option
@deny_option
@permission_mode_option
@cwd_option()
@state_dir_option
@quiet_option
def watch_command(
    directory: Path,
    concurrency: int,
    once: bool,
    done_dir: Path | None,
    failed_dir: Path | None,
    settle: float,
    state_dir: str | None,
    quiet: bool,
    **flags: Any,
) -> None:
    """Watch DIR for job files (*.md) and run each one as `tau run FILE` would; the run flags below apply to every
    job (limits per job) and mean what they mean for `tau run`.

    A job moves DIR/job.md -> DIR/processing/job/ -> DIR/done/job/ (exit 0) or DIR/failed/job/, holding the job file,
    result.json (the --output json object), events.jsonl (stream-json), session_id and, on failure, error.txt.
    Drop files by writing a temp name (.job.md.tmp) and renaming. A job cut off by a crash is failed at the next
    start, never re-run. SIGINT/SIGTERM cancel running jobs (each ends with its terminal event) and exit 0.
    """
    import asyncio
    import signal

    from tau.cli.render import result_object
    from tau.cli.run import _flag_values, open_store
    from tau.config.layers import flags_layer
    from tau.config.loader import parse_var_flags
    from tau.config.paths import user_path
    from tau.watch import JobRunner, WatchConfig, Watcher

    def log(line: str) -> None:
        if not quiet:
            click.echo(f"tau watch: {line}", err=True)

    values = _flag_values(flags)
    flags_layer(values, Path.cwd())  # a bad flag is one usage error now, not one failed job per file
    parse_var_flags(values.get("vars", []))

    def where(path: Path, name: str) -> Path:
        return user_path(str(path), base_dir=Path.cwd(), source="tau watch", field=name)

    config = WatchConfig(
        inbox=where(directory, "DIR"),
        done_dir=where(done_dir, "--done-dir") if done_dir else None,
        failed_dir=where(failed_dir, "--failed-dir") if failed_dir else None,
        concurrency=concurrency,
        settle=settle,
        once=once,
    )
    runner = JobRunner(
        env=dict(os.environ),
        cwd=Path.cwd(),
        flags=values,
        result_object=result_object,
        store=open_store(state_dir),  # the same session store as `tau run`: `tau resume SESSION_ID` works
    )

    async def main() -> int:
        watcher = Watcher(config, runner, log=log)
        loop = asyncio.get_running_loop()
        for signum, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
            loop.add_signal_handler(signum, watcher.stop, name)
        report = await watcher.run()
        if report.stopped_by is not None or not once:
            return 0
        return 1 if report.any_failed else 0

    sys.exit(asyncio.run(main()))
