"""Permission evaluation: `PermissionPolicy.evaluate(tool, args, paths=...) -> Decision` (allow / deny / ask, rule,
reason, read_only).

Owns the decision for one tool call; pure (no I/O, no environment variables, no filesystem). The toolset wrapper in
`toolset.py` does the I/O (it resolves the path a file tool will touch, symlinks followed) and applies decisions.

Precedence, in every mode: a matching **deny** rule wins; then the mode's hard limits (plan mode); then a matching
**ask** rule; then a matching **allow** rule; then the mode's default. `bypassPermissions` stops after deny rules.

Modes (`PermissionsSpec.mode`):

- `default`: read-only tools (`read`, `glob`, `grep`, `ls`) are allowed inside the workspace (or an additional
  directory); outside it they ask. Bash commands on the read-only allowlist (`readonly.py`) are allowed too, with
  `Decision.read_only` (they then run under the `read-only` sandbox). `write`, `edit`, other bash commands, MCP tools
  and unknown tools ask unless an allow rule matches. Tools named in `safe_tools` (e.g. `todo`) are allowed.
- `acceptEdits`: as default, and `write`/`edit` inside the workspace are allowed too, and so are bash output
  redirections into the workspace.
- `plan`: only read-only work. `write`/`edit`, MCP and unknown tools are denied; file tools outside the workspace are
  denied; `bash` is allowed only if every part is on the read-only allowlist and names no path outside the
  workspace, and denied otherwise. Allow rules cannot lift these limits; deny and ask rules still apply. Every
  allowed bash decision has `read_only=True`.
- `bypassPermissions`: everything is allowed except what a deny rule matches (a bash line that cannot be proven is
  allowed only when no bash deny rule exists).

Bash: see `bash_policy.py`. File tools: the path is the one the tool will touch: `paths=(lexical, real)` from the
toolset (the tool's own resolution, and the same with symlinks followed), else the `file_path` (or `path`) argument
resolved lexically against the workspace (missing: the workspace root; `~` is `home`). Deny rules are matched
against both paths; inside/outside the workspace and allow decisions use the real path; ask rules either.
`dir/**` covers `dir` itself, so a `grep` of `secrets` is a read of `secrets/**`. Known limit (as in Claude Code):
for `glob`/`grep` only the `path` argument is checked, not every file a search below it reaches; the sandbox's
masks (`denies_read`, `mask_roots`) carry that for commands.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tau.config.spec import PermissionMode, PermissionsSpec
from tau.confine import inside, inside_any, normalise
from tau.environment.policy import PROTECTED
from tau.permissions.bash_policy import judge_bash, read_locations
from tau.permissions.decision import Decision, DecisionKind, ResolvedPath, first_rule
from tau.permissions.rules import PATH_TOOLS, Rule, parse_rules
from tau.protocol.names import EDIT_TOOLS, READ_ONLY_TOOLS, tau_name

__all__ = ["DEFAULT_SAFE_TOOLS", "Decision", "DecisionKind", "PermissionPolicy", "ResolvedPath"]

DEFAULT_SAFE_TOOLS: frozenset[str] = frozenset({"todo"})


@dataclass(frozen=True)
class PermissionPolicy:
    """Rules + mode + workspace. Build with `from_spec`; `evaluate` is the only entry point for decisions."""

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
        """Parse the spec's rules (ConfigError on a malformed one). `home` defaults to the current user's; the spec's
        `additional_directories` count as inside the workspace, with `additional_dirs`."""
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
            additional_dirs=tuple(posixpath.normpath(d) for d in (*spec.additional_directories, *additional_dirs)),
            safe_tools=frozenset(safe_tools),
        )

    def evaluate(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        paths: ResolvedPath | None = None,
        real: Mapping[str, str] | None = None,
    ) -> Decision:
        """Decide one call. `paths`: for a file tool, where its path really leads; `real`: for bash, where the
        locations its read-only parts read really lead (`read_locations`). The toolset resolves both."""
        name = tau_name(tool)
        if name == "bash":
            return judge_bash(self, args.get("command"), real)
        if name in PATH_TOOLS:
            if paths is None:
                lexical = self.resolve(args.get("file_path", args.get("path")))
                paths = ResolvedPath(lexical, lexical)
            return self._file(name, paths)
        return self._other(name)

    def read_locations(self, command: str) -> tuple[str, ...]:
        """The absolute locations a bash command's read-only parts read, as written (for `evaluate(real=...)`)."""
        return read_locations(self, command)

    # --- for the sandbox -----------------------------------------------------------------------------------------

    def denies_read(self, path: str) -> bool:
        """True when a deny rule covering reads matches the absolute, real `path`, whatever the mode."""
        return first_rule(self.deny, "read", lambda r: r.matches_path(path)) is not None

    def denies_write(self, path: str) -> bool:
        """True when a deny rule covering edits or writes matches the absolute, real `path`, whatever the mode."""
        return any(r.matches_path(path) for r in self.deny if r.covers("edit") or r.covers("write"))

    def mask_roots(self) -> tuple[str, ...]:
        """Directories where paths `denies_read`/`denies_write` cover can exist: the workspace, and the glob-free
        prefix of every deny Read/Edit/Write rule anchored outside it (`~/.ssh` for `Read(~/.ssh/**)`)."""
        roots = {
            rule.path.root
            for rule in self.deny
            if rule.path is not None
            and rule.path.root is not None
            and (rule.covers("read") or rule.covers("edit") or rule.covers("write"))
        }
        out = [self.workspace]
        for root in sorted(roots, key=lambda r: (len(r), r)):
            if not inside_any(root, tuple(out)):
                out.append(root)
        return tuple(out)

    # --- paths -----------------------------------------------------------------------------------------------------

    def resolve(self, raw: object, base: str | None = None) -> str:
        """`raw` as an absolute, normalised path: `~` is home, relative paths start at `base` (the workspace)."""
        if not isinstance(raw, str) or not raw.strip():
            return base or self.workspace
        path = self.expand_home(raw.strip())
        return normalise(posixpath.join(base or self.workspace, path))

    def expand_home(self, path: str) -> str:
        if path == "~" or path.startswith("~/"):
            return self.home + path[1:]
        return path

    def in_workspace(self, path: str) -> bool:
        return inside_any(path, (self.workspace, *self.additional_dirs))

    def file_decision(self, tool: str, paths: ResolvedPath) -> Decision:
        """The decision for `tool` touching `paths` (bash redirections use it with tool `edit` or `read`)."""
        return self._file(tool, paths)

    # --- file tools ----------------------------------------------------------------------------------------------

    def _file(self, tool: str, paths: ResolvedPath) -> Decision:
        path = paths.real
        both = (paths.lexical, paths.real)
        shown = path if paths.lexical == path else f"{paths.lexical} (really {path})"
        if rule := first_rule(self.deny, tool, lambda r: any(r.matches_path(p) for p in both)):
            return Decision("deny", rule.text, f"{tool} of {shown} is denied by rule {rule.text}")
        if self.mode == "bypassPermissions":
            return Decision("allow", None, "bypassPermissions mode")
        inside_ws = self.in_workspace(path)
        if self.mode == "plan" and tool in EDIT_TOOLS:
            return Decision("deny", None, f"plan mode is read-only: {tool} is not allowed")
        if self.mode == "plan" and not inside_ws:
            return Decision("deny", None, f"plan mode: {shown} is outside the workspace")
        if rule := first_rule(self.ask, tool, lambda r: any(r.matches_path(p) for p in both)):
            return Decision("ask", rule.text, f"{tool} of {shown} requires approval by rule {rule.text}")
        if tool in EDIT_TOOLS and (guarded := self._protected(both)) is not None:
            return guarded
        if rule := first_rule(self.allow, tool, lambda r: r.matches_path(path)):
            return Decision("allow", rule.text, f"{tool} of {shown} is allowed by rule {rule.text}")
        where = "inside" if inside_ws else "outside"
        if tool in READ_ONLY_TOOLS and inside_ws:
            return Decision("allow", None, f"{tool} is read-only and {shown} is inside the workspace", read_only=True)
        if tool in EDIT_TOOLS and inside_ws and self.mode == "acceptEdits":
            return Decision("allow", None, f"acceptEdits mode: {shown} is inside the workspace")
        return Decision("ask", None, f"{tool} of {shown} ({where} the workspace) needs approval in {self.mode} mode")

    def _protected(self, both: tuple[str, str]) -> Decision | None:
        """An edit of a path that configures the next run (`PROTECTED`: git hooks and config, `.tau`, `.claude`,
        `.mcp.json`) is never auto-allowed: only an allow rule that names it (`Edit(.claude/**)`, not a bare
        `Edit`) lets it through without asking."""
        guarded = [p for p in both for item in PROTECTED if inside(p, posixpath.join(self.workspace, item))]
        if not guarded:
            return None
        if rule := first_rule(self.allow, "edit", lambda r: r.kind == "path" and r.matches_path(guarded[0])):
            return Decision("allow", rule.text, f"edit of {guarded[0]} is allowed by rule {rule.text}")
        return Decision(
            "ask", None, f"{guarded[0]} configures later runs (hooks, settings, MCP servers): it needs approval"
        )

    # --- everything else -----------------------------------------------------------------------------------------

    def _other(self, tool: str) -> Decision:
        if rule := first_rule(self.deny, tool, lambda r: r.matches_call(opaque=True)):
            return Decision("deny", rule.text, f"{tool} is denied by rule {rule.text}")
        if self.mode == "bypassPermissions":
            return Decision("allow", None, "bypassPermissions mode")
        safe = tool in self.safe_tools
        if self.mode == "plan" and not safe:
            return Decision("deny", None, f"plan mode allows only read-only tools; {tool} may have side effects")
        if rule := first_rule(self.ask, tool, lambda r: r.matches_call(opaque=True)):
            return Decision("ask", rule.text, f"{tool} requires approval by rule {rule.text}")
        if rule := first_rule(self.allow, tool, lambda r: r.matches_call(opaque=False)):
            return Decision("allow", rule.text, f"{tool} is allowed by rule {rule.text}")
        if safe:
            return Decision("allow", None, f"{tool} has no side effects")
        kind = "MCP tool" if tool.startswith("mcp__") else "tool"
        return Decision("ask", None, f"{kind} {tool} needs approval: no allow rule matches it ({self.mode} mode)")
