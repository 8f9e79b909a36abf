"""The value a permission evaluation returns (`Decision`), the resolved path of a file tool (`ResolvedPath`), and
`first_rule`, the one way rules are searched. Pure values shared by `policy.py` and `bash_policy.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from tau.permissions.rules import Rule

__all__ = ["Decision", "DecisionKind", "ResolvedPath", "first_rule"]

DecisionKind = Literal["allow", "deny", "ask"]


@dataclass(frozen=True)
class Decision:
    """`rule` is the rule text that decided (for an allowed compound command, the rules of its parts joined by ', ');
    None when the mode's default decided. `reason` is one line, written for the model and the operator.
    `read_only` is True when an allowed bash command was judged read-only (plan mode, or the read-only allowlist in
    the other modes): its commands then run under the `read-only` sandbox policy."""

    kind: DecisionKind
    rule: str | None
    reason: str
    read_only: bool = False


@dataclass(frozen=True)
class ResolvedPath:
    """Where a file tool's path leads: `lexical` as the tool resolves it, `real` with every symlink followed."""

    lexical: str
    real: str


def first_rule(rules: Iterable[Rule], tool: str, test: Callable[[Rule], bool]) -> Rule | None:
    """The first rule of `rules` that is about `tool` and passes `test`."""
    return next((rule for rule in rules if rule.covers(tool) and test(rule)), None)
