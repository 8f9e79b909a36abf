"""The frozen binary (`TAU_BINARY`) exports a traced run: `tau run hello.md` with `OTEL_EXPORTER_OTLP_ENDPOINT`
pointed at a real OTLP/HTTP receiver (tests/telemetry/receiver.py, loaded by path) sends the run's span tree — the
OpenTelemetry SDK, its OTLP exporter and pydantic-ai's instrumentation are inside the binary, imported only when
tracing is on."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
RunTau = Callable[..., subprocess.CompletedProcess[str]]  # the `run_tau` fixture of conftest.py


def _load_receiver() -> ModuleType:
    path = ROOT / "tests" / "telemetry" / "receiver.py"
    spec = importlib.util.spec_from_file_location("_tau_frozen_otlp_receiver", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_receiver = _load_receiver()


def test_a_traced_run_of_the_binary_exports_its_span_tree(run_tau: RunTau) -> None:
    with _receiver.http_receiver() as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "tau-frozen"}
        result = run_tau("run", "hello.md", env=env)
        assert result.returncode == 0, result.stderr
        spans = receiver.wait_for(lambda spans: any(s.name == "tau.run" for s in spans), "the run's root span")
    run = next(s for s in spans if s.name == "tau.run")
    assert run.parent_span_id == "" and run.resource["service.name"] == "tau-frozen"
    agent = [s for s in spans if s.name == "invoke_agent tau"]
    assert len(agent) == 1 and agent[0].parent_span_id == run.span_id and agent[0].trace_id == run.trace_id
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert chats and all(s.trace_id == run.trace_id for s in chats)
    assert all(s.attributes.get("gen_ai.request.model") for s in chats)
