"""Off by default and free when off: a run without an endpoint imports no OpenTelemetry SDK (nor prometheus_client),
and every instrumentation point talks to `NO_TRACER`, whose methods hand back shared objects and the very
environment they were given. With an endpoint the same process does import the SDK (so the first check can fail)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
from pydantic_ai.workspaces import CommandResult
from receiver import http_receiver
from telemetry_kit import Box

from tau import telemetry
from tau.telemetry import NO_SPAN, NO_TRACER

# `tau run` in-process, then (at exit, after the run and the CLI's own shutdown) the heavy modules it imported
PROBE = """
import atexit, json, os, sys
def report():
    heavy = sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter",
                                                          "prometheus_client")))
    with open(os.environ["PROBE_OUT"], "w") as out:
        json.dump(heavy, out)
atexit.register(report)
sys.argv = ["tau", "run", "-p", "hello", "--model", "test:hello"]
from tau.cli.main import main
main()
"""


def heavy_modules_after_a_run(box: Box, **env: str) -> list[str]:
    out = box.root / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=box.work, env=box.env({"PROBE_OUT": str(out), **env}),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    modules: list[str] = json.loads(out.read_text())
    return modules


def test_a_run_without_telemetry_imports_no_sdk(box: Box) -> None:
    assert heavy_modules_after_a_run(box) == []


def test_a_run_with_an_endpoint_does_import_the_sdk(box: Box) -> None:
    with http_receiver() as receiver:
        modules = heavy_modules_after_a_run(box, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
        receiver.wait_for(lambda spans: any(s.name == "tau.run" for s in spans), "the run's span")
    assert "opentelemetry.sdk.trace" in modules
    assert "opentelemetry.exporter.otlp.proto.http.trace_exporter" in modules
    assert not [m for m in modules if m.startswith("prometheus_client")]  # metrics are tau serve's only


def test_the_no_op_tracer_hands_back_what_it_was_given() -> None:
    env = {"PATH": "/bin"}
    block = NO_TRACER.span("tau.run", {"tau.session.id": "s"})
    with block as outer, NO_TRACER.command("host", "true") as inner, NO_TRACER.incoming("00-bad"):
        assert outer is NO_SPAN and inner is NO_SPAN
        assert inner.propagate(env) is env and inner.propagate(None) is None
        inner.set({"a": 1})
        inner.content({"b": "secret"})
        inner.fail("no")
        finished = CommandResult(exit_code=3, stdout="", stderr="")
        assert inner.exited(finished) is finished
    assert NO_TRACER.span("other") is block  # one shared object: nothing allocated per call
    assert NO_TRACER.current() is NO_SPAN
    assert list(NO_TRACER.capabilities()) == []


def test_using_swaps_the_process_tracer_for_a_block() -> None:
    before = telemetry.tracer()

    class Marker(type(NO_TRACER)):  # type: ignore[misc]
        pass

    marker = Marker()
    with telemetry.using(marker):
        assert telemetry.tracer() is marker
    assert telemetry.tracer() is before


def test_a_run_in_process_with_tracing_off_still_completes(tmp_path: Path) -> None:
    from tau.config import load_job
    from tau.runtime import prepare_run

    job = load_job(prompt_text="hi", flags={"model": "test:x"}, env={"HOME": str(tmp_path)}, cwd=tmp_path)
    assert job.telemetry.endpoint is None and "telemetry" not in job.model_dump()

    async def main() -> str:
        with telemetry.using(NO_TRACER):
            driver = await prepare_run(job, environ={"HOME": str(tmp_path)})
            try:
                return (await driver.run()).status
            finally:
                await driver.close()

    assert anyio.run(main) == "completed"
