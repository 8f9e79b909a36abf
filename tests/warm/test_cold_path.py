"""The import diet (issue #19 item 1) stays: a cold `tau run` of the README's example imports none of the modules its
job does not use, and the thin client of a warm run imports nothing of the run path at all.

The lists, and why each module is on them:

- `UNUSED_BY_A_HOST_REPLAY_RUN`: provider SDKs (the model is a replayed cassette), the MCP SDK (the job has no MCP
  servers), docker (host environment), the OpenTelemetry SDK and exporters (telemetry is off), the RPC stack and the
  other front ends (uvicorn, starlette, connectrpc, grpc, prometheus_client, tau.rpc, tau.watch, tau.viewer,
  tau.temporal and temporalio), the Postgres drivers (file store), and httpx's own CLI (rich, pygments: stubbed by
  `tau.cli.lean`).
- `NEVER_IN_THE_THIN_CLIENT`: what a local run needs before its first model request (click, pydantic, pydantic-ai,
  anyio, yaml, tau's config, runtime and sessions); a warm run's client process imports none of it.
"""

from __future__ import annotations

import pytest
from tau_e2e import Sandbox
from warm_helpers import LocalServer, run_traced

UNUSED_BY_A_HOST_REPLAY_RUN = (
    "openai",
    "anthropic",
    "google",
    "mcp",
    "docker",
    "opentelemetry.sdk",
    "opentelemetry.exporter",
    "uvicorn",
    "starlette",
    "connectrpc",
    "grpc",
    "prometheus_client",
    "temporalio",
    "psycopg",
    "asyncpg",
    "rich",
    "pygments",
    "tau.rpc",
    "tau.watch",
    "tau.viewer",
    "tau.temporal",
)

NEVER_IN_THE_THIN_CLIENT = (
    "click",
    "pydantic",
    "pydantic_core",
    "pydantic_ai",
    "anyio",
    "yaml",
    "httpx",
    "tau.cli.main",
    "tau.config",
    "tau.runtime",
    "tau.sessions",
    "tau.protocol",
)


def _matching(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == name or m.startswith(f"{name}.") for name in names))


def test_a_cold_hello_run_imports_nothing_it_does_not_use(sandbox: Sandbox) -> None:
    sandbox.copy_hello()
    result = run_traced("run", "hello.md", "-q", "--no-server", env=sandbox.env, cwd=sandbox.work)
    assert result.returncode == 0, result.stderr
    assert b"3 lines and 20 words" in result.stdout
    assert {"pydantic_ai", "tau.runtime", "httpx"} <= result.modules  # what it does use (the check can fail)
    assert _matching(result.modules, UNUSED_BY_A_HOST_REPLAY_RUN) == []


@pytest.mark.parametrize("command", [("run", "hello.md", "-q"), ("run", "missing.md")])
def test_the_thin_client_imports_nothing_of_the_run_path(
    sandbox: Sandbox, server: LocalServer, command: tuple[str, ...]
) -> None:
    sandbox.copy_hello()
    result = run_traced(*command, env=sandbox.env, cwd=sandbox.work)
    assert result.remote, result.stderr
    assert result.returncode == (0 if command[1] == "hello.md" else 2)
    assert _matching(result.modules, NEVER_IN_THE_THIN_CLIENT) == []
