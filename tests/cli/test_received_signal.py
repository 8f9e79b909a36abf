"""tau.cli.frozen.received_signal: a SIGINT/SIGTERM raised as an exception is remembered, so that the CLI ends as
that signal (130/143) even when a library wrapped the exception (pydantic-core turns a KeyboardInterrupt raised while
it builds a validator into a SchemaError: the frozen kill test once saw "internal error", exit 1, for a Ctrl-C)."""

from __future__ import annotations

import signal
import subprocess
import sys

PROBE = """
import os, signal, sys
from tau.cli import frozen
frozen.ordinary_signals()
def library_step():
    try:
        os.kill(os.getpid(), signal.SIGINT)
        signal.pthread_sigmask(signal.SIG_BLOCK, [])  # a point where the handler runs
    except KeyboardInterrupt as error:  # what a catch-all library does
        raise RuntimeError(f"Error building validator: {error!r}") from None
try:
    library_step()
except RuntimeError:
    print(frozen.received_signal())
"""


def test_a_wrapped_keyboard_interrupt_is_still_known_as_sigint() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(int(signal.SIGINT))


def test_the_cli_ends_with_the_signals_code_not_an_internal_error() -> None:
    script = """
import os, signal, sys
import click
from tau.cli import frozen
from tau.cli.main import cli
frozen.ordinary_signals()  # as the CLI's dispatch does
@cli.command("probe-wrapped-signal")
def probe() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    signal.pthread_sigmask(signal.SIG_BLOCK, [])
cli.main(["probe-wrapped-signal"], prog_name="tau", standalone_mode=False)
sys.exit(0)
"""
    wrapped = script.replace(
        "    os.kill(os.getpid(), signal.SIGINT)\n    signal.pthread_sigmask(signal.SIG_BLOCK, [])\n",
        "    try:\n        os.kill(os.getpid(), signal.SIGINT)\n        signal.pthread_sigmask(signal.SIG_BLOCK, [])\n"
        "    except KeyboardInterrupt:\n        raise ValueError('SchemaError: KeyboardInterrupt') from None\n",
    )
    done = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, "internal error" in done.stderr) == (130, False), done.stderr
