"""The proto contract: generated code is current, `buf lint` is clean, StreamEventsResponse stays wire-identical to
RunResponse, and the seed shapes KernelService clients know are present."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.descriptor import Descriptor

from tau.rpc._gen import runtime_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"
BUF = ROOT / "tests" / "partners" / "node_modules" / ".bin" / "buf"


def _need(available: bool, what: str) -> None:
    if not available:
        if IN_CI:
            pytest.fail(f"{what} is required under CI=true")
        pytest.skip(f"{what} is not installed")


def test_regenerating_produces_the_committed_files() -> None:
    _need(importlib.util.find_spec("grpc_tools") is not None, "grpcio-tools")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-proto"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_lint_is_clean() -> None:
    _need(BUF.exists(), "buf (npm @bufbuild/buf in tests/partners)")
    result = subprocess.run([str(BUF), "lint"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def _layout(descriptor: Descriptor) -> list[tuple[str, int, int, str | None]]:
    return [
        (f.name, f.number, f.type, f.containing_oneof.name if f.containing_oneof else None)
        for f in sorted(descriptor.fields, key=lambda f: f.number)
    ]


def test_stream_events_response_is_wire_identical_to_run_response() -> None:
    stream: Descriptor = pb.StreamEventsResponse.DESCRIPTOR  # type: ignore[assignment]  # the stubs' upb union
    run: Descriptor = pb.RunResponse.DESCRIPTOR  # type: ignore[assignment]
    assert _layout(stream) == _layout(run)


def test_seed_shapes_stay_recognisable() -> None:
    service = pb.DESCRIPTOR.services_by_name["RuntimeService"]
    assert service.full_name == "tau.runtime.v1.RuntimeService"
    assert {"CreateSession", "Run", "InjectContext", "GetSession"} <= {m.name for m in service.methods}
    assert service.methods_by_name["Run"].server_streaming
    assert [f.name for f in pb.ContextEntry.DESCRIPTOR.fields] == ["key", "content", "content_type"]
    events = {f.name for f in pb.RunResponse.DESCRIPTOR.oneofs_by_name["event"].fields}
    assert {"token", "tool_call", "tool_result", "status", "error", "final"} <= events
    statuses = set(pb.SessionStatus.keys())
    assert {f"SESSION_STATUS_{s}" for s in ("ACTIVE", "RUNNING", "COMPLETED", "ERROR", "SUSPENDED")} <= statuses
    assert pb.RunResponse.DESCRIPTOR.fields_by_name["seq"].number == 1


def test_generated_code_does_not_live_under_the_proto_path() -> None:
    assert pb.RunResponse.__module__ == "tau.rpc._gen.runtime_pb2"
    assert pb.DESCRIPTOR.name == "tau/runtime/v1/runtime.proto"
    assert importlib.util.find_spec("tau.runtime.v1") is None
