"""`python -m tau` — same entry point as the `tau` console script."""

from tau.cli.main import main

if __name__ == "__main__":
    main()
