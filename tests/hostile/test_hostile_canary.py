"""The canary test: every run of the hostile suite (each case untrusted, and the trusted twins) ran with every
environment variable holding a unique canary value (`hostile_kit.CANARIES`: credential-like names such as
`GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`, `MY_API_KEY`, `DATABASE_URL`, and plain ones such as `FOO`,
`DEPLOY_TARGET`, `USER`, `TERM`). Only what must stay valid is not a canary: PATH, HOME, LANG/LC_ALL, TMPDIR, the XDG
directories, the user's model endpoint and key (`OPENAI_API_KEY`, unique per run; `OPENAI_BASE_URL` where the user
configured the endpoint that way), `NO_PROXY`, and the proxy / `ANTHROPIC_BASE_URL` variables, which point at the
capture server so that an attempt to reach any other host is recorded instead of sent.

Across all runs: no canary reaches the repository's server or any request to the model endpoint (the user's own
environment is never part of a prompt), none appears on stdout (the event stream) or stderr, and none is in any file
left under the run's root (the session store wherever it went, caches, plans, memory). The user's own key travels
only as the model request's bearer token. Trusted twins that deliberately send an expanded `${VAR}` to the
repository's server (`expanded_but_masked`) or use `api_key_env` are the documented exceptions for that server or
header only: their output and files must still be clean.
"""

from __future__ import annotations

import pytest
from conftest import SETUP_TIMEOUT, HostileRuns
from hostile_cases import ALL_CASES
from hostile_checks import canaries_in
from hostile_kit import CANARIES, PREFIX, Case

pytestmark = [pytest.mark.node, pytest.mark.slow, pytest.mark.timeout(SETUP_TIMEOUT)]


def _runs(*, known: bool) -> list[object]:
    """(token, case) of every run; with `known`, the untrusted runs of cases whose known failure leaks a canary
    are strict xfails."""
    params: list[object] = []
    for case in ALL_CASES:
        xfail = known and case.known is not None and case.canary_known
        marks = [pytest.mark.xfail(strict=True, reason=case.known or "")] if xfail else []
        params.append(pytest.param(f"u-{case.id}", case, id=f"u-{case.id}", marks=marks))
        params += [
            pytest.param(f"{PREFIX[t.how]}-{case.id}", case, id=f"{PREFIX[t.how]}-{case.id}") for t in case.twins
        ]
    return params


RUNS = _runs(known=False)
CANARY_RUNS = _runs(known=True)


def test_the_environment_is_full_of_canaries() -> None:
    credential_like = [name for name in CANARIES if any(w in name for w in ("TOKEN", "KEY", "SECRET", "PASSWORD"))]
    plain = [name for name in CANARIES if name not in credential_like]
    assert len(credential_like) >= 8 and len(plain) >= 8, (credential_like, plain)
    assert len(set(CANARIES.values())) == len(CANARIES)


@pytest.mark.parametrize(("token", "case"), CANARY_RUNS)
def test_no_canary_leaves_or_is_kept(token: str, case: Case, hostile_runs: HostileRuns) -> None:
    outcome = hostile_runs.outcomes[token]
    untrusted = token.startswith("u-")
    found: dict[str, list[str]] = {}
    if untrusted:
        found["the repository's server"] = canaries_in("\n".join(r.text() for r in outcome.captured))
        found["model request headers"] = canaries_in("\n".join(str(r.headers) for r in outcome.model_requests))
    found["model request bodies"] = canaries_in(
        "\n".join(r.body.decode(errors="replace") for r in outcome.model_requests)
    )
    found["stdout (events)"] = canaries_in(outcome.result.stdout)
    found["stderr"] = canaries_in(outcome.result.stderr)
    for path, data in outcome.files.items():
        if names := canaries_in(data.decode("utf-8", errors="replace")):
            found[f"file {path}"] = names
    leaks = {where: names for where, names in found.items() if names}
    assert not leaks, f"canaries leaked: {leaks}\n{outcome.result!r}"


@pytest.mark.parametrize(("token", "case"), RUNS)
def test_the_user_key_is_only_a_bearer_token(token: str, case: Case, hostile_runs: HostileRuns) -> None:
    outcome = hostile_runs.outcomes[token]
    key = outcome.world.user_key
    places = {"stdout": outcome.result.stdout, "stderr": outcome.result.stderr}
    places |= {f"model request body {i}": r.body.decode(errors="replace") for i, r in enumerate(outcome.model_requests)}
    if token.startswith("u-"):  # a trusted project endpoint gets the key as documented (`went_to_capture`)
        places |= {f"request to the repository's server {r.path}": r.text() for r in outcome.captured}
    places |= {f"file {path}": data.decode("utf-8", errors="replace") for path, data in outcome.files.items()}
    assert not [where for where, text in places.items() if key in text]


def test_every_request_is_some_runs(hostile_runs: HostileRuns) -> None:
    """A request no run can be blamed for (a wrong prefix, a proxy CONNECT, a stray key) is a finding by itself."""
    assert [f"{r.method} {r.path}" for r in hostile_runs.unattributed_capture] == []
    assert [f"{r.method} {r.path}" for r in hostile_runs.unattributed_model] == []
