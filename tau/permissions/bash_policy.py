"""The bash decision: `judge_bash(policy, command) -> Decision`, over the parts `shell.analyse` finds.

Order, for the whole line:

1. **Deny** (every mode): a deny rule matching any part (its command after wrappers, as written, with the program's
   basename, and for git without global options: `git -C x push` is `git push`) denies the line; so does an Edit
   deny rule matching a file a part writes through a redirection, a Read deny rule matching a file it reads through
   `<` or names as an operand of a read-only program. When the line cannot be proven, deny rules are also tried on
   the whole line and, when it does not even parse, on every word sequence in it (`{rm,-f,x}` is `rm -f x`).
2. `bypassPermissions`: allowed; a line that cannot be proven is allowed only when no bash deny rule exists.
3. A line-level problem (syntax error, unknown syntax, an assignment or expansion outside a command that can change
   or run code): ask (plan: deny).
4. Each part, and the line is the first deny, else the first ask, else allowed (rules of the parts joined):
   - plan mode: the part must be read-only (`readonly.py`: program, options, no write, no exported variable outside
     the safe list, no problem) and name no path outside the workspace, else deny;
   - an ask rule matching the part (loose texts as for deny) asks;
   - a part with a problem asks, unless its only problems are code-running expansions (`$((x))`, `${!x}`, ...) and
     an allow rule both matches it and spells every one of those expansions in its pattern: an allow rule for the
     program alone is not enough, because the expansion runs code no rule saw;
   - exported variables outside `envnames.SAFE_ENV` (`X=1 cmd`, `env X=1 cmd`, `export X`): only an allow rule
     matching the command as written, assignments included, allows it;
   - output redirections are judged as an `edit` of the target (resolved against where the part runs: the
     workspace root, or the directories a `cd` may have moved to): outside the workspace asks; inside it, allowed
     where an edit would be (acceptEdits, an Edit allow rule), else asks. A computed target, or a relative one after
     a `cd` to an unknown place, asks. `/dev/null` and `>&2`-style duplications are harmless;
   - the program: an allow rule matching the command after wrappers (after an escalating wrapper such as `sudo`:
     only the command as written), else the read-only allowlist when every path it names is inside the workspace
     (`read_only=True`), else ask.

`Decision.read_only` is True in plan mode and when every part is read-only (program and no write); the toolset then
runs the command under the `read-only` sandbox.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from tau.permissions.decision import Decision, ResolvedPath, first_rule
from tau.permissions.readonly import COMPUTED, read_paths
from tau.permissions.readonly_git import GIT_HARMLESS_GLOBALS
from tau.permissions.rules import Rule
from tau.permissions.shell import ShellAnalysis, SimpleCommand, analyse

UNCHECKED_GLOB = "\x00unchecked-glob"
"""`real` value for a pattern the toolset could not expand (a wildcard in a directory part): judged outside."""

if TYPE_CHECKING:
    from tau.permissions.policy import PermissionPolicy

__all__ = ["judge_bash"]

_GIT_WITH_VALUE = frozenset(
    {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env", "--super-prefix"}
)
_GIT_FLAGS = frozenset({"-p", "--paginate", "--bare", "--no-pager", "-P", *GIT_HARMLESS_GLOBALS})


def judge_bash(policy: PermissionPolicy, command: object, real: Mapping[str, str] | None = None) -> Decision:
    """The decision for one bash call. `real` maps read locations (`read_locations`) to where they really lead
    (symlinks followed, globs expanded by the toolset); without it, paths are judged as written."""
    if not isinstance(command, str):
        return Decision("ask", None, "bash call without a command string")
    analysis = analyse(command)
    denied = _denied(policy, analysis, command)
    if denied is not None:
        return denied
    if policy.mode == "bypassPermissions":
        if analysis.parseable or first_rule(policy.deny, "bash", lambda r: True) is None:
            return Decision("allow", None, "bypassPermissions mode")
        problem = analysis.first_problem
        return Decision("ask", None, f"cannot check bash deny rules: the command cannot be analysed ({problem})")
    if analysis.problem is not None:
        if policy.mode == "plan":
            return Decision("deny", None, f"plan mode: the command cannot be analysed safely ({analysis.problem})")
        return Decision("ask", None, f"the command cannot be analysed safely ({analysis.problem})")
    decisions = [_part(policy, part, real or {}) for part in analysis.commands]
    for kind in ("deny", "ask"):
        found = next((d for d in decisions if d.kind == kind), None)
        if found is not None:
            return found
    if not decisions:
        return Decision("allow", None, "empty command", read_only=True)
    read_only = policy.mode == "plan" or all(d.read_only for d in decisions)
    if len(decisions) == 1:
        return replace(decisions[0], read_only=read_only)
    rules = list(dict.fromkeys(d.rule for d in decisions if d.rule is not None))
    return Decision("allow", ", ".join(rules) or None, "every part of the command is allowed", read_only=read_only)


# --- deny ---------------------------------------------------------------------------------------------------------


def _denied(policy: PermissionPolicy, analysis: ShellAnalysis, command: str) -> Decision | None:
    for part in analysis.commands:
        if rule := _matching(policy.deny, _loose_texts(part)):
            return Decision("deny", rule.text, f"`{_shown(part)}` is denied by rule {rule.text}")
        if (denied := _denied_paths(policy, part)) is not None:
            return denied
    if analysis.parseable:
        return None
    if rule := _matching(policy.deny, {" ".join(command.split()), *analysis.suspects}):
        return Decision("deny", rule.text, f"the command is denied by rule {rule.text}")
    return None


def _denied_paths(policy: PermissionPolicy, part: SimpleCommand) -> Decision | None:
    checks: list[tuple[str, str, str]] = []  # tool, target as written, verb
    for redirect in part.redirects:
        if redirect.dynamic:
            continue
        if redirect.writes:
            checks.append(("edit", redirect.target, "writes"))
        elif redirect.reads:
            checks.append(("read", redirect.target, "reads"))
    checks.extend(("read", path, "reads") for path in read_paths(part) or () if path != COMPUTED)
    for tool, target, verb in checks:
        for path in _locations(policy, target, part.cwd or (".",)) or ():
            if rule := _path_rule(policy.deny, tool, path):
                return Decision("deny", rule.text, f"`{_shown(part)}` {verb} {path}, denied by rule {rule.text}")
    return None


# --- one part ------------------------------------------------------------------------------------------------------


def _part(policy: PermissionPolicy, part: SimpleCommand, real: Mapping[str, str]) -> Decision:
    shown = _shown(part)
    program_read = read_paths(part)
    read_only = program_read is not None and not part.writes_files
    outside = _outside(policy, part, program_read, real)
    if policy.mode == "plan" and (limit := _plan_limit(part, shown, read_only, outside)) is not None:
        return limit
    if rule := _matching(policy.ask, _loose_texts(part)):
        return Decision("ask", rule.text, f"`{shown}` requires approval by rule {rule.text}")
    program_rule = _unproven(policy, part, shown)
    if isinstance(program_rule, Decision):
        return program_rule
    redirected = _redirects(policy, part, shown)
    if redirected is not None:
        return redirected
    if program_rule is None and part.words:
        program_rule = _matching(policy.allow, _strict_texts(part))
    if program_rule is not None:
        return Decision("allow", program_rule.text, f"`{shown}` is allowed by rule {program_rule.text}", read_only)
    if not part.words:
        return Decision("allow", None, f"`{shown}` only redirects", read_only)
    if program_read is not None and outside is None:
        return Decision("allow", None, f"`{shown}` is a read-only command ({policy.mode} mode)", read_only)
    if program_read is not None:
        return Decision("ask", None, f"`{shown}` reads {outside}, outside the workspace: needs approval")
    return Decision("ask", None, f"`{shown}` needs approval: no allow rule matches it ({policy.mode} mode)")


def _plan_limit(part: SimpleCommand, shown: str, read_only: bool, outside: str | None) -> Decision | None:
    if not read_only:
        detail = f" ({part.problem})" if part.problem else ""
        return Decision("deny", None, f"plan mode allows only read-only commands; `{shown}` is not one{detail}")
    if outside is not None:
        return Decision("deny", None, f"plan mode: `{shown}` reads {outside}, outside the workspace")
    return None


def _unproven(policy: PermissionPolicy, part: SimpleCommand, shown: str) -> Rule | Decision | None:
    """For a part with a problem or unsafe exported names: the allow rule that accepts it, or the ask."""
    if part.problem is not None:
        rule = _lifting_rule(policy, part)
        return rule or Decision("ask", None, f"`{shown}` cannot be proven safe: {part.problem}")
    if part.unsafe_assignments:
        rule = _matching(policy.allow, {part.raw_text})
        names = ", ".join(dict.fromkeys(part.unsafe_assignments))
        return rule or Decision("ask", None, f"`{shown}` sets {names}, which can make a program run other code")
    return None


def _matching(rules: tuple[Rule, ...], texts: set[str]) -> Rule | None:
    return first_rule(rules, "bash", lambda r: any(r.matches_command(t) for t in texts))


def _path_rule(rules: tuple[Rule, ...], tool: str, path: str) -> Rule | None:
    return first_rule(rules, tool, lambda r: r.matches_path(path))


def _lifting_rule(policy: PermissionPolicy, part: SimpleCommand) -> Rule | None:
    """An allow rule that spells out every code-running expansion of `part` and matches it."""
    if not part.liftable:
        return None
    texts = (part.text, part.raw_text)

    def names_all(rule: Rule) -> bool:
        source = rule.bash.source if rule.bash is not None else ""
        return all(h in source for h in part.hazards) and any(rule.matches_command(t) for t in texts)

    return first_rule(policy.allow, "bash", names_all)


def _redirects(policy: PermissionPolicy, part: SimpleCommand, shown: str) -> Decision | None:
    for redirect in part.redirects:
        if not redirect.writes:
            continue
        if redirect.dynamic:
            return Decision("ask", None, f"`{shown}` writes to a computed path ({redirect.target})")
        paths = _locations(policy, redirect.target, part.cwd)
        if paths is None:
            return Decision("ask", None, f"`{shown}` writes {redirect.target} in a directory the line may have changed")
        for path in paths:
            decision = policy.file_decision("edit", ResolvedPath(path, path))
            if decision.kind != "allow":
                return Decision(decision.kind, decision.rule, f"`{shown}` writes {path}: {decision.reason}")
    return None


def _reads(part: SimpleCommand, read: tuple[str, ...] | None) -> list[str]:
    """What a part reads: its program's path operands and its input redirections (`cat < f`, `xargs -a f`)."""
    targets = list(read or ())
    for redirect in part.redirects:
        if redirect.reads:
            targets.append(COMPUTED if redirect.dynamic else redirect.target)
    return targets


def _outside(
    policy: PermissionPolicy, part: SimpleCommand, read: tuple[str, ...] | None, real: Mapping[str, str]
) -> str | None:
    """The first path a read-only part reads outside the workspace (or that cannot be located), None if none.
    A location is judged where it really leads when the toolset resolved it (`real`), else as written."""
    for target in _reads(part, read if read is not None else ()):
        if target == COMPUTED:
            return "a computed path (it may lie anywhere)"  # `cat $HOME/.aws/credentials`
        paths = _locations(policy, target, part.cwd)
        if paths is None:
            return target
        for path in paths:
            leads = real.get(path, path)
            if leads == UNCHECKED_GLOB:
                return f"{path} (a pattern whose matches could not be checked)"
            if not policy.in_workspace(leads):
                return path if leads == path else f"{path} (-> {leads})"
    return None


def read_locations(policy: PermissionPolicy, command: str) -> tuple[str, ...]:
    """Every location (absolute, as written) a bash command's read-only parts read, for the toolset to resolve.
    Pure; empty when the command cannot be analysed (then nothing is auto-allowed anyway)."""
    analysis = analyse(command)
    if analysis.problem is not None:
        return ()
    found: list[str] = []
    for part in analysis.commands:
        read = read_paths(part)
        if read is None:
            continue
        for target in _reads(part, read):
            if target != COMPUTED:
                found += _locations(policy, target, part.cwd) or []
    return tuple(dict.fromkeys(found))


def _locations(policy: PermissionPolicy, target: str, cwd: tuple[str, ...] | None) -> list[str] | None:
    """Where `target` may lead, from each directory the part may run in; None when that cannot be known."""
    if target.startswith("~") and not (target == "~" or target.startswith("~/")):
        return None
    expanded = policy.expand_home(target)
    if posixpath.isabs(expanded):
        return [policy.resolve(expanded)]
    if cwd is None:
        return None
    return list(dict.fromkeys(policy.resolve(target, base=policy.resolve(base)) for base in cwd))


# --- texts rules are matched against -------------------------------------------------------------------------------


def _shown(part: SimpleCommand) -> str:
    if part.words or part.raw:
        return part.text or part.raw_text
    return " ".join(f"{r.fd if r.fd is not None else ''}{r.op} {r.target}" for r in part.redirects) or "redirection"


def _loose_texts(part: SimpleCommand) -> set[str]:
    """Deny and ask rules see the command after wrappers, as written, by basename, and git without globals."""
    texts = {part.text, part.raw_text}
    argv = part.argv
    if argv:
        base = posixpath.basename(argv[0])
        texts.add(" ".join((base, *argv[1:])))
        if base == "git":
            texts.add(" ".join(_git_subcommand(argv, harmless_only=False)))
    texts.discard("")
    return texts


def _strict_texts(part: SimpleCommand) -> set[str]:
    """Allow rules see the command after transparent wrappers only, and git without its harmless globals."""
    if any(c.isspace() for word in part.argv[:2] for c in word):
        return set()  # `'git diff' x` would read as `git diff x`: a program or subcommand with a blank never matches
    if part.escalates:
        return {part.raw_text}
    texts = {part.text}
    if part.argv and part.argv[0] == "git":
        texts.add(" ".join(_git_subcommand(part.argv, harmless_only=True)))
    return texts


def _git_subcommand(argv: tuple[str, ...], *, harmless_only: bool) -> list[str]:
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in GIT_HARMLESS_GLOBALS or (not harmless_only and arg in _GIT_FLAGS):
            i += 1
        elif not harmless_only and arg in _GIT_WITH_VALUE:
            i += 2
        elif not harmless_only and arg.split("=", 1)[0] in _GIT_WITH_VALUE and "=" in arg:
            i += 1
        else:
            break
    return [argv[0], *argv[i:]]
