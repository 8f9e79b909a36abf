"""`python -m tau` and the frozen binary's entry point — same as the `tau` console script.

Before anything heavy is imported: early SIGINT/SIGTERM end the process quietly (130/143), a one-file child ties
itself to its launcher (`tau.cli.frozen`), and `tau run|resume|fork` is handed to this user's local server when one
answers (`tau.cli.warm`, stdlib only: a warm run never imports click, pydantic or pydantic-ai in this process).
`entry()` is the same for a console script pointed here (`tau = "tau.__main__:entry"`), which then skips click too.
"""

import sys

from tau.cli.frozen import adopt_launcher, quiet_early_signals
from tau.cli.warm import handoff

quiet_early_signals()
adopt_launcher()


def entry() -> None:
    """The hand-off to a local server (returns only for a local run), then the CLI."""
    handoff(sys.argv[1:])
    from tau.cli.main import main

    main()


if __name__ == "__main__":
    entry()
