"""Which variable names a command line may set without changing what a program does: `env_safe`, `shell_local_safe`.

Owns the two short lists the shell analysis consults. Pure.

- `env_safe(name)`: a name that may be *exported* to a program (`X=1 cmd`, `env X=1 cmd`, `export X=1`): locale
  (`LANG`, `LANGUAGE`, `LC_*`), `TZ`, colour and terminal size switches (`NO_COLOR`, `FORCE_COLOR`, `CLICOLOR`,
  `CLICOLOR_FORCE`, `COLORTERM`, `TERM`, `COLUMNS`, `LINES`) and three Python output switches
  (`PYTHONUNBUFFERED`, `PYTHONDONTWRITEBYTECODE`, `PYTHONIOENCODING`). None of them names a program, a library, a
  directory to run from or a configuration file, so none can make an allowed program run another one. Everything
  else (`PATH`, `LD_PRELOAD`, `BASH_ENV`, `GIT_*`, `PAGER`, `EDITOR`, `PYTHONPATH`, `NODE_OPTIONS`, ...) is not.
- `shell_local_safe(name)`: a name a plain shell assignment, a `for` variable or `read`/`printf -v` may set. The
  env-safe names, plus lower-case names (the shell and the programs tau runs read upper-case variables), except the
  proxy variables (`http_proxy`, `no_proxy`, ...) that programs do read in lower case: assigning an already exported
  variable changes what every later program sees.
"""

from __future__ import annotations

import re

__all__ = ["SAFE_ENV", "env_safe", "shell_local_safe"]

SAFE_ENV: frozenset[str] = frozenset(
    {
        "LANG",
        "LANGUAGE",
        "TZ",
        "NO_COLOR",
        "FORCE_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
        "COLORTERM",
        "TERM",
        "COLUMNS",
        "LINES",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONIOENCODING",
    }
)
_LOCALE = re.compile(r"LC_[A-Z]+")
_LOCAL = re.compile(r"[a-z_][a-z0-9_]*")


def env_safe(name: str) -> bool:
    """True when exporting `name` to a program cannot make it run other code."""
    return name in SAFE_ENV or _LOCALE.fullmatch(name) is not None


def shell_local_safe(name: str) -> bool:
    """True when a shell assignment to `name` changes nothing but later expansions of `$name`."""
    if env_safe(name):
        return True
    return _LOCAL.fullmatch(name) is not None and "proxy" not in name and name != "_"
