"""Applying a `PermissionPolicy` to a pydantic-ai run: `PermissionToolset`, `PermissionCapability`, `permission_layer`.

Owns the mapping from decisions to pydantic-ai's native tool-call outcomes; owns no policy of its own.

- **allow** -> the wrapped toolset runs the call.
- **deny** -> `call_tool` returns `ToolDenied(message)`; pydantic-ai records it as `ToolReturnPart(outcome='denied')`
  whose content (tool, reason, rule) the model reads in its next request, and the run continues.
- **ask** -> `call_tool` raises `ApprovalRequired(metadata={'tau_permission': ...})`. After the batch of tool calls,
  pydantic-ai calls `PermissionCapability.handle_deferred_tool_calls`, which awaits the injected `asker` once per call:
  `True` -> `ToolApproved()` and pydantic-ai re-executes the call with `ctx.tool_call_approved=True` (the toolset
  then runs it); `False` or a message string -> `ToolDenied`; `None` -> left unresolved, so the call surfaces as the
  run's `DeferredToolRequests` output (the suspend seam; the agent's output type must include it).

File tools (`read`, `write`, `edit`, `glob`, `grep`, `ls`): a leading `~` in `file_path`/`path` is rewritten to the
policy's home for the policy AND the tool (the tool gets the rewritten arguments), then the path is resolved as the
tool will (`ctx.workspace.resolve`) and with symlinks followed (`ctx.workspace.realpath`; on error the lexical path);
a real path under the workspace's own real path is mapped back under the policy's workspace. Both go to
`PermissionPolicy.evaluate(paths=...)`. Without an attached workspace the policy resolves lexically.

Sandbox policy per call: the wrapped call runs inside `policy_scope("read-only")` when the decision is `read_only`
or the mode is plan, else `policy_scope(None)` (the run's configured policy).

Invariants: every resolved call emits exactly one `PermissionDecided` (seq=0; the caller renumbers): allow when it
runs, ask+allowed when an approved call runs (also one approved by `DeferredToolResults` on resume), deny or
ask+denied when denied here. Each denial here is appended once to the shared `denials` list. Deny rules win even for
an approved call. Calls denied by `DeferredToolResults` on resume never reach this layer: the runtime reports those.
A call approved with `RERUN_METADATA` in its metadata (a recovering run runs again a call cut off by a crash,
`tau.runtime.results`) is not an approval: it is decided afresh like any call.
Tool names in events and denials are the names the model called (tau's, `mcp__server__tool`).
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import ApprovalRequired
from pydantic_ai.messages import ToolCallPart
from pydantic_ai.tools import (
    AgentDepsT,
    DeferredToolApprovalResult,
    DeferredToolRequests,
    DeferredToolResults,
    RunContext,
    ToolApproved,
    ToolDenied,
)
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool, WrapperToolset

from tau.confine import inside
from tau.environment.policy import policy_scope
from tau.permissions.bash_policy import UNCHECKED_GLOB
from tau.permissions.policy import Decision, PermissionPolicy, ResolvedPath
from tau.permissions.rules import PATH_TOOLS
from tau.protocol import PermissionDecided, PermissionDenial
from tau.protocol.names import tau_name
from tau.telemetry import tracer
from tau.telemetry.spans import permission_attributes

__all__ = [
    "RERUN_METADATA",
    "AskAnswer",
    "AskRequest",
    "Asker",
    "Emit",
    "PermissionCapability",
    "PermissionGate",
    "PermissionLayer",
    "PermissionToolset",
    "permission_layer",
]

METADATA_KEY = "tau_permission"
RERUN_METADATA = "tau_rerun"  # a recovering run's re-run of a cut-off call: decided afresh, not approved


def _rerun(metadata: Any) -> bool:
    return isinstance(metadata, dict) and bool(metadata.get(RERUN_METADATA))


@dataclass(frozen=True)
class AskRequest:
    """A call the policy says needs a human: what the asker shows (tool, args, the decision with its reason)."""

    call_id: str
    tool: str
    args: dict[str, Any]
    decision: Decision


AskAnswer = bool | str | None
"""True approves; False denies; a string denies with that text for the model; None suspends (leaves it pending)."""
Asker = Callable[[AskRequest], Awaitable[AskAnswer]]
Emit = Callable[[PermissionDecided], None]


@dataclass
class PermissionGate:
    """State shared by the toolset and the capability of one run: policy, I/O callbacks, the denials so far."""

    policy: PermissionPolicy
    asker: Asker
    emit: Emit
    denials: list[PermissionDenial] = field(default_factory=list[PermissionDenial])

    def report(self, call_id: str, tool: str, decision: Decision, *, allowed: bool, reason: str | None = None) -> None:
        """Emit the decision; it also goes on the current span (the tool call's, when tracing: `tau.telemetry`)."""
        event = PermissionDecided(
            seq=0,
            call_id=call_id,
            tool=tool,
            decision=decision.kind,
            resolution="allowed" if allowed else "denied",
            rule=decision.rule,
            reason=reason or decision.reason,
        )
        tracer().current().set(permission_attributes(event))
        self.emit(event)

    def deny(self, call_id: str, tool: str, args: dict[str, Any], decision: Decision, detail: str = "") -> ToolDenied:
        reason = f"{decision.reason}; {detail}" if detail else decision.reason
        self.report(call_id, tool, decision, allowed=False, reason=reason)
        self.denials.append(PermissionDenial(call_id=call_id, tool=tool, input=dict(args), reason=reason))
        return ToolDenied(f"Permission denied for {tool}: {reason}. Do not retry the same call; take another approach.")

    async def resolve(self, call: ToolCallPart, decision: Decision) -> DeferredToolApprovalResult | None:
        args = call.args_as_dict()
        answer = await self.asker(AskRequest(call.tool_call_id, call.tool_name, args, decision))
        if answer is None:
            return None
        if answer is True:
            return ToolApproved()
        detail = answer if isinstance(answer, str) and answer else "approval was not given"
        return self.deny(call.tool_call_id, call.tool_name, args, decision, detail)


def _has_wildcard(path: str) -> bool:
    return any(c in path for c in "*?[")


@dataclass
class PermissionToolset(WrapperToolset[AgentDepsT]):
    """Evaluates every call of the wrapped toolset (function and MCP tools alike) before it runs."""

    gate: PermissionGate = field(kw_only=True)
    _workspace_real: dict[str, str] = field(default_factory=dict[str, str], init=False, repr=False)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[AgentDepsT], tool: ToolsetTool[AgentDepsT]
    ) -> Any:
        policy = self.gate.policy
        paths: ResolvedPath | None = None
        real: dict[str, str] | None = None
        if tau_name(name) in PATH_TOOLS:
            tool_args, paths = await self._resolve_path(tool_args, ctx)
        elif tau_name(name) == "bash" and isinstance(tool_args.get("command"), str) and ctx.workspace.attached:
            real = await self._resolve_reads(tool_args["command"], ctx)
        decision = policy.evaluate(name, tool_args, paths=paths, real=real)
        call_id = ctx.tool_call_id or ""
        if decision.kind == "deny":
            return self.gate.deny(call_id, name, tool_args, decision)
        approved = ctx.tool_call_approved and not _rerun(ctx.tool_call_metadata)
        if decision.kind == "ask" and not approved:
            raise ApprovalRequired(
                metadata={METADATA_KEY: {"kind": decision.kind, "rule": decision.rule, "reason": decision.reason}}
            )
        self.gate.report(call_id, name, decision, allowed=True)
        with policy_scope("read-only" if decision.read_only or policy.mode == "plan" else None):
            return await super().call_tool(name, tool_args, ctx, tool)

    async def _resolve_path(
        self, args: dict[str, Any], ctx: RunContext[AgentDepsT]
    ) -> tuple[dict[str, Any], ResolvedPath | None]:
        """The arguments the tool gets (`~` made absolute) and where its path leads, when a workspace is attached."""
        key = "file_path" if "file_path" in args else "path"
        raw = args.get(key)
        if isinstance(raw, str) and (raw == "~" or raw.startswith("~/")):
            raw = self.gate.policy.home + raw[1:]
            args = {**args, key: raw}
        workspace = ctx.workspace
        if not workspace.attached:
            return args, None
        try:
            lexical = await workspace.resolve(raw) if isinstance(raw, str) and raw else await workspace.working_dir()
        except Exception:  # the tool will fail the same way; the policy judges the lexical path
            return args, None
        try:
            real = await workspace.realpath(lexical)
        except Exception:
            real = lexical
        return args, ResolvedPath(lexical, await self._under_policy_root(real, ctx))

    async def _resolve_reads(self, command: str, ctx: RunContext[AgentDepsT]) -> dict[str, str]:
        """Where each location a command's read-only parts read really leads: symlinks followed, and a pattern
        whose wildcards are all in its last part expanded against its directory (any match leading outside
        counts). A pattern with a wildcard in a directory part cannot be checked here (`UNCHECKED_GLOB`)."""
        real: dict[str, str] = {}
        for location in self.gate.policy.read_locations(command):
            if not _has_wildcard(location):
                real[location] = await self._real(location, ctx)
                continue
            directory, pattern = posixpath.split(location)
            if _has_wildcard(directory):
                real[location] = UNCHECKED_GLOB
                continue
            real[location] = location
            try:
                entries = await ctx.workspace.list_dir(directory)
            except Exception:
                continue  # nothing to match: the shell passes the pattern as written
            for entry in entries:
                name = posixpath.basename(entry.path.rstrip("/"))
                if fnmatch.fnmatchcase(name, pattern) and not (name.startswith(".") and not pattern.startswith(".")):
                    leads = await self._real(posixpath.join(directory, name), ctx)
                    if not self.gate.policy.in_workspace(leads):
                        real[location] = leads
                        break
        return real

    async def _real(self, path: str, ctx: RunContext[AgentDepsT]) -> str:
        try:
            return await self._under_policy_root(await ctx.workspace.realpath(path), ctx)
        except Exception:
            return path

    async def _under_policy_root(self, real: str, ctx: RunContext[AgentDepsT]) -> str:
        """Map a real path under the workspace's real root back under the policy's (lexical) workspace root."""
        root = self.gate.policy.workspace
        key = repr(ctx.workspace.ref)  # per environment: the toolset may outlive one workspace object
        if ctx.workspace.ref is None or key not in self._workspace_real:
            try:
                self._workspace_real[key] = await ctx.workspace.realpath(root)
            except Exception:
                self._workspace_real[key] = root
        real_root = self._workspace_real[key]
        if real_root != root and inside(real, real_root):
            return root + real[len(real_root.rstrip("/")) :] if real != real_root else root
        return real


@dataclass
class PermissionCapability(AbstractCapability[AgentDepsT]):
    """Resolves the layer's asks through the asker; with `wrap_toolsets`, also wraps the run's toolset."""

    gate: PermissionGate
    wrap_toolsets: bool = True

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None

    def get_wrapper_toolset(self, toolset: AbstractToolset[AgentDepsT]) -> AbstractToolset[AgentDepsT] | None:
        return PermissionToolset(toolset, gate=self.gate) if self.wrap_toolsets else None

    async def handle_deferred_tool_calls(
        self, ctx: RunContext[AgentDepsT], *, requests: DeferredToolRequests
    ) -> DeferredToolResults | None:
        results: dict[str, bool | DeferredToolApprovalResult] = {}
        for call in requests.approvals:
            info = (requests.metadata.get(call.tool_call_id) or {}).get(METADATA_KEY)
            if not isinstance(info, dict):
                continue  # someone else's approval request
            decision = Decision(kind="ask", rule=info.get("rule"), reason=str(info.get("reason", "")))
            result = await self.gate.resolve(call, decision)
            if result is not None:
                results[call.tool_call_id] = result
        return DeferredToolResults(approvals=results) if results else None


@dataclass(frozen=True)
class PermissionLayer:
    """What the runtime installs: `capability` on the Agent; `denials` for the final report; `wrap` if it wraps."""

    gate: PermissionGate
    capability: PermissionCapability[Any]

    @property
    def denials(self) -> list[PermissionDenial]:
        return self.gate.denials

    def wrap(self, toolset: AbstractToolset[AgentDepsT]) -> PermissionToolset[AgentDepsT]:
        return PermissionToolset(toolset, gate=self.gate)


def permission_layer(
    policy: PermissionPolicy, *, asker: Asker, emit: Emit, wrap_toolsets: bool = True
) -> PermissionLayer:
    """Build the permission layer of one run.

    With `wrap_toolsets=True` (default) the capability wraps the agent's whole non-output toolset each run; pass
    False to wrap chosen toolsets with `layer.wrap(...)` instead (the capability then only resolves asks).
    """
    gate = PermissionGate(policy=policy, asker=asker, emit=emit)
    return PermissionLayer(gate=gate, capability=PermissionCapability(gate, wrap_toolsets=wrap_toolsets))
