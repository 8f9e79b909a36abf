"""Shipped test doubles, the way pydantic-ai ships `FunctionModel`: scripted models for tau's runtime.

Used by tau's own tests and benchmarks and by anyone embedding tau. Never imported by the CLI.
"""

from tau.testing.scripted import ScriptedModel, Turn, calls, reply, scripted_model

__all__ = ["ScriptedModel", "Turn", "calls", "reply", "scripted_model"]
