"""Permission evaluation: `PermissionPolicy.evaluate(tool, args) -> Decision` (allow / deny / ask, rule, reason).

Owns the decision for one tool call; pure (no I/O, no environment variables, no filesystem). The toolset wrapper in
`toolset.py` applies decisions to a run.

Precedence, in every mode: a matching **deny** rule wins; then the mode's hard limits (plan mode); then a matching
**ask** rule; then a matching **allow** rule; then the mode's default. `bypassPermissions` stops after deny rules.

Modes (`PermissionsSpec.mode`):

- `default`: read-only tools (`read`, `glob`, `grep`, `ls`) are allowed inside the workspace (or an additional
  directory); outside it they ask. `write`, `edit`, `bash`, MCP tools and unknown tools ask unless an allow rule
  matches. Tools named in `safe_tools` (tau's side-effect-free tools, e.g. `todo`) are allowed.
- `acceptEdits`: as default, and `write`/`edit` inside the workspace are allowed too.
- `plan`: only read-only work. `write`/`edit`, MCP and unknown tools are denied; file tools outside the workspace are
  denied; `bash` is allowed only if every simple command is on the read-only safelist (`readonly.py`) and denied
  otherwise. Allow rules cannot lift these limits; deny and ask rules still apply.
- `bypassPermissions`: everything is allowed except what a deny rule matches.

Bash: the command is split into simple commands (`shell.py`); a deny rule matching any part denies the whole line;
otherwise every part must be allowed for the line to be allowed, and any part that asks makes the line ask. Deny and
ask rules are matched against the command with wrappers stripped, as written, and with its program's basename
(`/bin/rm` -> `rm`); allow rules only against the stripped command. A line that cannot be analysed asks (plan: deny;
bypass: allowed only if no bash deny rule exists), after deny rules were tried on the parts found and on the line.
File tools: the `file_path` (else `path`) argument is resolved lexically against the workspace (missing -> the
workspace root) and matched as an absolute path. Known limits (as in Claude Code): Read/Edit rules are not applied to
files a bash command names or redirects to, and for `glob`/`grep` only the `path` argument is checked, not every file
a search below it reaches.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tau.config.spec import PermissionMode, PermissionsSpec
from tau.permissions.readonly import is_read_only
from tau.permissions.rules import PATH_TOOLS, Rule, parse_rules
from tau.permissions.shell import SimpleCommand, analyse
from tau.protocol.names import EDIT_TOOLS, READ_ONLY_TOOLS, tau_name

__all__ = ["DEFAULT_SAFE_TOOLS", "Decision", "DecisionKind", "PermissionPolicy"]

DecisionKind = Literal["allow", "deny", "ask"]
DEFAULT_SAFE_TOOLS: frozenset[str] = frozenset({"todo"})


@dataclass(frozen=True)
class Decision:
    """`rule` is the rule text that decided (for an allowed compound command, the rules of its parts joined by ', ');
    None when the mode's default decided. `reason` is one line, written for the model and the operator.
    `read_only` is True when an allowed bash command was judged read-only (plan mode, or the read-only safelist in
    the other modes): its commands then run under the `read-only` sandbox policy."""

    kind: DecisionKind
    rule: str | None
    reason: str
    read_only: bool = False


def _first(rules: Iterable[Rule], tool: str, test: Callable[[Rule], bool]) -> Rule | None:
    return next((rule for rule in rules if rule.covers(tool) and test(rule)), None)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


@dataclass(frozen=True)
class PermissionPolicy:
    """Rules + mode + workspace. Build with `from_spec`; `evaluate` is the only entry point."""

    mode: PermissionMode
    workspace: str
    home: str
    allow: tuple[Rule, ...] = ()
    ask: tuple[Rule, ...] = ()
    deny: tuple[Rule, ...] = ()
    additional_dirs: tuple[str, ...] = ()
    safe_tools: frozenset[str] = field(default=DEFAULT_SAFE_TOOLS)

    @classmethod
    def from_spec(
        cls,
        spec: PermissionsSpec,
        *,
        workspace: str,
        home: str | None = None,
        additional_dirs: Iterable[str] = (),
        safe_tools: Iterable[str] = DEFAULT_SAFE_TOOLS,
    ) -> PermissionPolicy:
        """Parse the spec's rules (ConfigError on a malformed one). `home` defaults to the current user's."""
        home = posixpath.normpath(home if home is not None else os.path.expanduser("~"))
        workspace = posixpath.normpath(workspace)
        parse = {"workspace": workspace, "home": home}
        return cls(
            mode=spec.mode,
            workspace=workspace,
            home=home,
            allow=parse_rules(spec.allow, **parse),
            ask=parse_rules(spec.ask, **parse),
            deny=parse_rules(spec.deny, **parse),
            additional_dirs=tuple(posixpath.normpath(d) for d in additional_dirs),
            safe_tools=frozenset(safe_tools),
        )

    def evaluate(self, tool: str, args: Mapping[str, Any]) -> Decision:
        name = tau_name(tool)
        if name == "bash":
            return self._bash(args.get("command"))
        if name in PATH_TOOLS:
            return self._file(name, args.get("file_path", args.get("path")))
        return self._other(name)

    # --- bash ----------------------------------------------------------------------------------------------

    def _bash(self, command: object) -> Decision:
        if not isinstance(command, str):
            return Decision("ask", None, "bash call without a command string")
        analysis = analyse(command)
        decisions = [self._bash_part(part) for part in analysis.commands]
        denied = next((d for d in decisions if d.kind == "deny"), None)
        if denied is not None:
            return denied
        if analysis.problem is not None:
            return self._unparseable(command, analysis.problem)
        asked = next((d for d in decisions if d.kind == "ask"), None)
        if asked is not None:
            return asked
        if not decisions:
            return Decision("allow", None, "empty command")
        if len(decisions) == 1:
            return decisions[0]
        rules = list(dict.fromkeys(d.rule for d in decisions if d.rule is not None))
        return Decision("allow", ", ".join(rules) or None, "every part of the command is allowed")

    def _bash_part(self, part: SimpleCommand) -> Decision:
        loose = {part.text, part.raw_text}
        if part.argv and posixpath.basename(part.argv[0]) != part.argv[0]:
            loose.add(" ".join((posixpath.basename(part.argv[0]), *part.argv[1:])))
        shown = part.text or part.raw_text or "redirection"
        if rule := _first(self.deny, "bash", lambda r: any(r.matches_command(t) for t in loose)):
            return Decision("deny", rule.text, f"`{shown}` is denied by rule {rule.text}")
        if self.mode == "bypassPermissions":
            return Decision("allow", None, "bypassPermissions mode")
        read_only = is_read_only(part)
        if self.mode == "plan" and not read_only:
            return Decision("deny", None, f"plan mode allows only read-only commands; `{shown}` is not one")
        if rule := _first(self.ask, "bash", lambda r: any(r.matches_command(t) for t in loose)):
            return Decision("ask", rule.text, f"`{shown}` requires approval by rule {rule.text}")
        if rule := _first(self.allow, "bash", lambda r: r.matches_command(part.text)):
            return Decision("allow", rule.text, f"`{shown}` is allowed by rule {rule.text}")
        if self.mode == "plan":
            return Decision("allow", None, f"`{shown}` is a read-only command (plan mode)")
        return Decision("ask", None, f"`{shown}` needs approval: no allow rule matches it ({self.mode} mode)")

    def _unparseable(self, command: str, problem: str) -> Decision:
        line = " ".join(command.split())
        if rule := _first(self.deny, "bash", lambda r: r.matches_command(line)):
            return Decision("deny", rule.text, f"the command is denied by rule {rule.text}")
        if self.mode == "bypassPermissions":
            if _first(self.deny, "bash", lambda r: True) is None:
                return Decision("allow", None, "bypassPermissions mode")
            return Decision("ask", None, f"cannot check bash deny rules: the command cannot be analysed ({problem})")
        if self.mode == "plan":
            return Decision("deny", None, f"plan mode: the command cannot be analysed safely ({problem})")
        return Decision("ask", None, f"the command cannot be analysed safely ({problem})")

    # --- file tools ----------------------------------------------------------------------------------------

    def _resolve(self, raw: object) -> str:
        if not isinstance(raw, str) or not raw.strip():
            return self.workspace
        path = raw.strip()
        if path == "~" or path.startswith("~/"):
            path = self.home + path[1:]
        path = posixpath.normpath(posixpath.join(self.workspace, path))
        return "/" + path.lstrip("/")

    def _in_workspace(self, path: str) -> bool:
        return any(_inside(path, root) for root in (self.workspace, *self.additional_dirs))

    def _file(self, tool: str, raw_path: object) -> Decision:
        path = self._resolve(raw_path)
        inside = self._in_workspace(path)
        if rule := _first(self.deny, tool, lambda r: r.matches_path(path)):
            return Decision("deny", rule.text, f"{tool} of {path} is denied by rule {rule.text}")
        if self.mode == "bypassPermissions":
            return Decision("allow", None, "bypassPermissions mode")
        if self.mode == "plan" and tool in EDIT_TOOLS:
            return Decision("deny", None, f"plan mode is read-only: {tool} is not allowed")
        if self.mode == "plan" and not inside:
            return Decision("deny", None, f"plan mode: {path} is outside the workspace")
        if rule := _first(self.ask, tool, lambda r: r.matches_path(path)):
            return Decision("ask", rule.text, f"{tool} of {path} requires approval by rule {rule.text}")
        if rule := _first(self.allow, tool, lambda r: r.matches_path(path)):
            return Decision("allow", rule.text, f"{tool} of {path} is allowed by rule {rule.text}")
        where = "inside" if inside else "outside"
        if tool in READ_ONLY_TOOLS and inside:
            return Decision("allow", None, f"{tool} is read-only and {path} is inside the workspace")
        if tool in EDIT_TOOLS and inside and self.mode == "acceptEdits":
            return Decision("allow", None, f"acceptEdits mode: {path} is inside the workspace")
        return Decision("ask", None, f"{tool} of {path} ({where} the workspace) needs approval in {self.mode} mode")

    # --- everything else -----------------------------------------------------------------------------------

    def _other(self, tool: str) -> Decision:
        if rule := _first(self.deny, tool, lambda r: r.matches_call(opaque=True)):
            return Decision("deny", rule.text, f"{tool} is denied by rule {rule.text}")
        if self.mode == "bypassPermissions":
            return Decision("allow", None, "bypassPermissions mode")
        safe = tool in self.safe_tools
        if self.mode == "plan" and not safe:
            return Decision("deny", None, f"plan mode allows only read-only tools; {tool} may have side effects")
        if rule := _first(self.ask, tool, lambda r: r.matches_call(opaque=True)):
            return Decision("ask", rule.text, f"{tool} requires approval by rule {rule.text}")
        if rule := _first(self.allow, tool, lambda r: r.matches_call(opaque=False)):
            return Decision("allow", rule.text, f"{tool} is allowed by rule {rule.text}")
        if safe:
            return Decision("allow", None, f"{tool} has no side effects")
        kind = "MCP tool" if tool.startswith("mcp__") else "tool"
        return Decision("ask", None, f"{kind} {tool} needs approval: no allow rule matches it ({self.mode} mode)")
