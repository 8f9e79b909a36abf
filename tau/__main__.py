"""`python -m tau` and the frozen binary's entry point — same as the `tau` console script.

Before anything heavy is imported: early SIGINT/SIGTERM end the process quietly (130/143), a one-file child ties
itself to its launcher (`tau.cli.frozen`), and `tau run|resume|fork` is handed to this user's local server when one
answers (`tau.cli.warm`, stdlib only: a warm run never imports click, pydantic or pydantic-ai in this process).
"""

import sys

from tau.cli.frozen import adopt_launcher, quiet_early_signals
from tau.cli.warm import handoff

quiet_early_signals()
adopt_launcher()
if __name__ == "__main__":
    handoff(sys.argv[1:])  # returns only for a local run

from tau.cli.main import main  # noqa: E402 -- after the signal set-up and the hand-off, on purpose

if __name__ == "__main__":
    main()
