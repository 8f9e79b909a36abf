"""Import stubs for the CLI's cold path: third-party modules that dependencies import eagerly and tau never uses.

`skip_httpx_cli()`: `import httpx` imports its command-line client (`httpx._main`: click, rich, pygments; ~70 ms of
a cold `tau run`) whenever click is installed, which it always is for tau. Before httpx is first imported, a stub
`httpx._main` is registered whose `main` loads the real client on first call, so `httpx.main` still works for
anyone who calls it. A no-op once httpx is imported.

`pause_collector(argv)` / `run_path_imported()`: for `tau run|resume|fork` the cyclic garbage collector is off while
the run path is imported (imports create hundreds of thousands of objects and almost no garbage; the collections
they trigger cost ~50 ms of a cold run); `run_path_imported()` imports what every run needs, moves all of it to the
permanent generation (`gc.freeze`: later collections of a long run do not walk it again) and turns the collector on
before the run starts. Other commands never turn it off.

Invariant: a stub only ever stands for a module tau does not call; nothing here changes what a run does.
"""

from __future__ import annotations

import gc
import sys
import types
from typing import Any

__all__ = ["pause_collector", "run_path_imported", "skip_httpx_cli"]

_RUN_COMMANDS = frozenset({"run", "resume", "fork"})

_HTTPX_CLI = "httpx._main"


def _real_httpx_main(*args: Any, **kwargs: Any) -> Any:
    import importlib

    sys.modules.pop(_HTTPX_CLI, None)
    real = importlib.import_module(_HTTPX_CLI)
    return real.main(*args, **kwargs)


def skip_httpx_cli() -> None:
    """Register the `httpx._main` stub (module docstring), unless httpx or its CLI is imported already."""
    if "httpx" in sys.modules or _HTTPX_CLI in sys.modules:
        return
    stub = types.ModuleType(_HTTPX_CLI, "stand-in for httpx's command-line client (tau.cli.lean)")
    stub.main = _real_httpx_main  # type: ignore[attr-defined]
    sys.modules[_HTTPX_CLI] = stub


def pause_collector(argv: list[str]) -> None:
    """Turn the cyclic collector off when `argv` (without the program name) is a run command (module docstring)."""
    if argv and argv[0] in _RUN_COMMANDS:
        gc.disable()


def run_path_imported() -> None:
    """Import the run path, freeze what was imported, and turn the collector (back) on."""
    import tau.config
    import tau.runtime
    import tau.sessions  # noqa: F401 -- imported for the side effect: loaded while the collector is off

    gc.freeze()
    gc.enable()
