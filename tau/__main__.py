"""`python -m tau` and the frozen binary's entry point — same as the `tau` console script.

Before anything heavy is imported: early SIGINT/SIGTERM end the process quietly (130/143), and a one-file child
ties itself to its launcher (`tau.cli.frozen`).
"""

from tau.cli.frozen import adopt_launcher, quiet_early_signals

quiet_early_signals()
adopt_launcher()

from tau.cli.main import main  # noqa: E402 -- after the signal set-up, on purpose

if __name__ == "__main__":
    main()
