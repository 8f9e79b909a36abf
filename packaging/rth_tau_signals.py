"""PyInstaller runtime hook of the `tau` binary, run before every other hook and before tau's own code.

SIGINT/SIGTERM that arrive while the frozen interpreter is still starting end the process quietly with 130/143
instead of a traceback from another runtime hook, and a one-file child ties itself to its launcher (see
`tau.cli.frozen`). Listed first in `runtime_hooks` in tau.spec.
"""

from tau.cli.frozen import adopt_launcher, quiet_early_signals

quiet_early_signals()
adopt_launcher()
