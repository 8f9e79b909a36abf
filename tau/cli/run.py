"""`tau run`: flags -> JobSpec -> runtime, with renderers as sinks; owns the event loop and signal handling.

Returns the process exit code. The terminal event is always rendered before returning, also on SIGINT/SIGTERM
(the handlers cancel the run through the driver, which commits and emits `run.completed`).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from tau.cli.render import make_renderer
from tau.errors import Interrupted


def _flag_values(flags: dict[str, Any]) -> dict[str, Any]:
    """CLI flags as the config layer takes them: only the ones given, list flags as lists."""
    values: dict[str, Any] = {}
    for key, value in flags.items():
        if value is None or value == () or value is False:
            continue
        values[key.rstrip("_")] = list(value) if isinstance(value, tuple) else value
    return values


def execute(*, job_file: str | None, prompt_text: str | None, quiet: bool, flags: dict[str, Any]) -> int:
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
    renderer = make_renderer(job.output.format, sys.stdout, sys.stderr, tty=sys.stderr.isatty(), quiet=quiet)
    import anyio

    from tau.runtime import prepare_run

    async def main() -> int:
        driver = await prepare_run(job, sinks=[renderer], interactive=sys.stdin.isatty())
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
