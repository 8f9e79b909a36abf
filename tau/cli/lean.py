"""Import stubs for the CLI's cold path: third-party modules that dependencies import eagerly and tau never uses.

`skip_httpx_cli()`: `import httpx` imports its command-line client (`httpx._main`: click, rich, pygments; ~70 ms of
a cold `tau run`) whenever click is installed, which it always is for tau. Before httpx is first imported, a stub
`httpx._main` is registered whose `main` loads the real client on first call, so `httpx.main` still works for
anyone who calls it. A no-op once httpx is imported.

Invariant: a stub only ever stands for a module tau does not call; nothing here changes what a run does.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["skip_httpx_cli"]

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
