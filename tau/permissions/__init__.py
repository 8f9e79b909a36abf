"""Permissions: Claude-Code rules, evaluated deny > ask > allow, applied to a run as one pydantic-ai capability.

Modules: `rules` (parse `Tool` / `Tool(specifier)`), `shell` (split a bash line into simple commands), `readonly`
(plan mode's command safelist), `policy` (`PermissionPolicy.evaluate -> Decision`), `toolset` (the run wiring).
Imports only tau.protocol, tau.config, tau.errors, pydantic-ai and the stdlib.

How the runtime uses it::

    policy = PermissionPolicy.from_spec(job.permissions, workspace=job.environment.workspace, home=home)
    layer = permission_layer(policy, asker=asker, emit=emit)      # ConfigError above on a malformed rule
    agent = Agent(..., capabilities=[layer.capability, ...], output_type=[..., DeferredToolRequests])
    ...
    RunCompleted(..., permission_denials=list(layer.denials))

- `asker(AskRequest) -> Awaitable[bool | str | None]`: True approve; False deny; str deny with that text shown to
  the model (the headless asker says no human is available); None suspend, leaving the call in the run's
  `DeferredToolRequests` output (only valid if the output type includes it).
- `emit(PermissionDecided)`: one event per resolved call, `seq=0`; the caller assigns seq.
- Denied calls reach the model as `ToolReturnPart(outcome='denied')` with the reason and rule; the run continues.
"""

from tau.permissions.policy import DEFAULT_SAFE_TOOLS, Decision, DecisionKind, PermissionPolicy
from tau.permissions.rules import Rule, parse_rule, parse_rules
from tau.permissions.shell import ShellAnalysis, SimpleCommand, analyse
from tau.permissions.toolset import (
    AskAnswer,
    Asker,
    AskRequest,
    Emit,
    PermissionCapability,
    PermissionLayer,
    PermissionToolset,
    permission_layer,
)

__all__ = [
    "DEFAULT_SAFE_TOOLS",
    "AskAnswer",
    "AskRequest",
    "Asker",
    "Decision",
    "DecisionKind",
    "Emit",
    "PermissionCapability",
    "PermissionLayer",
    "PermissionPolicy",
    "PermissionToolset",
    "Rule",
    "ShellAnalysis",
    "SimpleCommand",
    "analyse",
    "parse_rule",
    "parse_rules",
    "permission_layer",
]
