"""tau: a headless agent runtime.

Owns only the version string; importing `tau` must stay cheap (no provider SDKs, no pydantic-ai) because
`tau --version` and `tau --help` are on the startup budget.
"""

__version__ = "0.1.0"
