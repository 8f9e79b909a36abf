"""What every run of the hostile suite must show, untrusted and trusted, and small helpers the cases' checks use.

Untrusted (`assert_untrusted`): the exit code is one the case documents (0, or a one-line exit 2/3); nothing the
repository names ran (`Outcome.ran`); the capture server got nothing from this run; no outside canary reached a
model request, the output or any file tau wrote; the user's own endpoint served the run with the user's own key; a
notice (or, for exit 2/3, the one stderr line) says what was skipped and how to trust; the run is still in the
workspace and the user's permission mode.
"""

from __future__ import annotations

import json
from typing import Any

from hostile_kit import CANARY_TOKENS, EXECUTED, SECRET_MARK, Outcome


def _trust_notices(o: Outcome) -> list[str]:
    return [n for n in o.notices if "untrusted workspace" in n]


def assert_exit(o: Outcome, allowed: frozenset[int]) -> None:
    code = o.result.returncode
    assert code in allowed, f"exit {code}, expected one of {sorted(allowed)}\n{o.result!r}"
    if code in (2, 3):
        lines = [line for line in o.result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, f"exit {code} must be one stderr line\n{o.result!r}"
    elif o.result.stdout.strip():
        assert o.events and o.events[-1]["type"] == "run.completed", o.result


def assert_nothing_ran(o: Outcome) -> None:
    assert not o.ran(), f"the repository's code ran: {o.ran()}\n{o.result!r}"


def assert_nothing_captured(o: Outcome) -> None:
    seen = [f"{r.method} {r.path}" for r in o.captured]
    assert not seen, f"the repository's server got requests: {seen}\n{o.result!r}"


def outside_leaks(o: Outcome) -> list[str]:
    """Where content of a file outside the repository turned up."""
    found = [f"file {path}" for path, data in o.files.items() if SECRET_MARK.encode() in data]
    texts = {"stdout": o.result.stdout, "stderr": o.result.stderr, "model requests": o.model_text()}
    return found + [where for where, text in texts.items() if SECRET_MARK in text]


def assert_nothing_outside_read(o: Outcome) -> None:
    leaks = outside_leaks(o)
    assert not leaks, f"content from outside the repository reached: {leaks}\n{o.result!r}"


def assert_user_endpoint(o: Outcome) -> None:
    """The run's model requests went to the user's endpoint, each with the user's own key and nothing else."""
    assert o.model_requests, f"the user's model endpoint got no request\n{o.result!r}"
    keys = {r.header("authorization") for r in o.model_requests}
    assert keys == {f"Bearer {o.world.user_key}"}, f"model requests carried keys {keys}"


def assert_trust_notice(o: Outcome, *parts: str) -> None:
    """A notice says the workspace is untrusted, what was skipped (`parts`) and how to trust."""
    if o.result.returncode in (2, 3):
        text = o.result.stderr
    else:
        notices = _trust_notices(o)
        assert notices, f"no `untrusted workspace` notice; notices: {o.notices}\n{o.result!r}"
        assert all("tau trust" in n for n in notices), notices
        text = "\n".join(o.notices)
    missing = [p for p in parts if o.world.expand(p) not in text]
    assert not missing, f"the notices do not name {missing}: {text}"


def assert_untrusted(o: Outcome) -> None:
    case = o.case
    assert_exit(o, case.exits)
    assert_nothing_ran(o)
    assert_nothing_captured(o)
    assert_nothing_outside_read(o)
    if o.result.returncode == 0:
        assert_user_endpoint(o)
        assert o.started["cwd"] == str(o.world.work), o.started
        assert o.started["permission_mode"] == case.mode, o.started
    if case.notices:
        assert_trust_notice(o, *case.notices)
    if case.check is not None:
        case.check(o)


# -- helpers for the cases' own checks ------------------------------------------------------------------------------


def ran_tag(o: Outcome, tag: str) -> bool:
    """Whether the ran canary ran with `tag` (a marker file, or its `EXECUTED:tag` line anywhere)."""
    if (o.world.ran_dir / tag).exists() or (o.world.work / f"RAN-{tag}").exists():
        return True
    texts = [o.result.stdout, o.result.stderr, o.model_text()]
    return any(f"{EXECUTED}{tag}" in text for text in texts)


def assert_ran(o: Outcome, tag: str) -> None:
    assert ran_tag(o, tag), f"expected the repository's {tag!r} to run (trusted)\n{o.result!r}"


def mcp_status(o: Outcome) -> dict[str, dict[str, Any]]:
    return {server["name"]: server for server in o.started.get("mcp", [])}


def assert_mcp(o: Outcome, name: str, status: str) -> None:
    servers = mcp_status(o)
    assert name in servers, f"no MCP server {name!r} in {servers}"
    assert servers[name]["status"] == status, servers[name]


def denied(o: Outcome) -> list[dict[str, Any]]:
    return [e for e in o.of_type("permission.decided") if e.get("resolution") != "allowed"]


def tool_outputs(o: Outcome) -> list[str]:
    return [str(e.get("output", "")) for e in o.of_type("tool.completed")]


def canaries_in(text: str) -> list[str]:
    return sorted({name for token, name in CANARY_TOKENS.items() if token in text})


def request_json(o: Outcome) -> list[Any]:
    return [json.loads(r.body) for r in o.model_requests if r.body]
