"""Permissions: Claude-Code rules, evaluated deny > ask > allow, applied to a run as one pydantic-ai capability.

Modules: `rules` (parse `Tool` / `Tool(specifier)`), `shell` (every program a bash line runs, from tree-sitter-bash:
`shell_parse`, `shell_walk`, `shell_words`, `shell_redirects`, `shell_builtins`, `wrappers`, `options`, `envnames`,
`shell_types`), `readonly` / `readonly_git` (the read-only allowlist), `policy` (`PermissionPolicy.evaluate ->
Decision`, and the deny predicates the sandbox uses), `bash_policy` (the bash decision), `decision`, `toolset` (the
run wiring: real paths, `~`, the sandbox policy per call). Imports tau.protocol, tau.config, tau.errors, tau.confine,
tau.environment.policy, pydantic-ai, tree-sitter and the stdlib.

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

from tau.permissions.policy import DEFAULT_SAFE_TOOLS, Decision, DecisionKind, PermissionPolicy, ResolvedPath
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
    "ResolvedPath",
    "Rule",
    "ShellAnalysis",
    "SimpleCommand",
    "analyse",
    "parse_rule",
    "parse_rules",
    "permission_layer",
]
