"""`tau` with the rule engine forced to allow every call: the kernel wall is then all that stands.

Run as `python sec_rules_off.py run ...`: the real CLI, the real runtime and sandbox, but
`PermissionPolicy.evaluate` answers allow (not read-only) for every tool call. The deny predicates the sandbox
derives masks from (`denies_read`, `denies_write`, `mask_roots`) are untouched, and the permission toolset still
chooses the sandbox policy from the permission mode (plan mode: `read-only`), so whatever a command manages after
this point is the kernel's doing alone. Used only by tests/security (the issue's "kernel-level proof").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tau.permissions.decision import Decision
from tau.permissions.policy import PermissionPolicy


def _allow_everything(self: PermissionPolicy, tool: str, args: Mapping[str, Any], **_: Any) -> Decision:
    return Decision("allow", None, "rules forced off by tests/security")


if __name__ == "__main__":
    PermissionPolicy.evaluate = _allow_everything  # type: ignore[method-assign]
    from tau.cli.main import main

    main()
