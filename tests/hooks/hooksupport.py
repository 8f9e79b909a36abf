"""Helpers shared by the hook tests (imported by module name: pytest puts this directory on sys.path)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tau.hooks import HookConfig, merge_sources
from tau.protocol import HookRan

ScriptMaker = Callable[[str, str], str]


def make_script(bin_dir: Path, name: str, body: str) -> str:
    """An executable `#!/bin/sh` script in `bin_dir`; returns its absolute path."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body.lstrip("\n"))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def config_of(hooks: dict[str, Any], source: str = "test-settings.json") -> HookConfig:
    """A `HookConfig` from one settings document's `hooks` map."""
    return merge_sources([(source, {"hooks": hooks})])


def group(command: str, matcher: str | None = None, **handler: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"hooks": [{"type": "command", "command": command, **handler}]}
    if matcher is not None:
        entry["matcher"] = matcher
    return entry


class Events(list[HookRan]):
    """A recording `emit`."""

    def __call__(self, event: HookRan) -> None:
        self.append(event)
