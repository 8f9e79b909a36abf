"""Plain gRPC against a real `tau serve` subprocess (issue 13): a grpcio client whose stubs are generated from
proto/tau/runtime/v1/runtime.proto in the test's temp dir (`grpc_tools.protoc`) calls every RPC, streams included,
with token auth — over cleartext HTTP/2 (h2c) and over TLS — on the same port that serves Connect and gRPC-Web; and
`application/grpc` over HTTP/1.1 gets a clean refusal, never a traceback.

The client runs in its own process (`grpc_client.py`): its generated `runtime.proto` descriptors would clash with
tau's own in this one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from serve_process import TOKEN, ServeProcess, record_sleep_cassette

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto" / "tau" / "runtime" / "v1" / "runtime.proto"
CLIENT = Path(__file__).resolve().parent / "grpc_client.py"


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("grpc-stubs")
    shutil.copy(PROTO, out / "runtime.proto")  # at the include root: modules `runtime_pb2`, not `tau.runtime...`
    command = [sys.executable, "-m", "grpc_tools.protoc", f"-I{out}", f"--python_out={out}"]
    subprocess.run([*command, f"--grpc_python_out={out}", str(out / "runtime.proto")], check=True)
    return out


def run_client(stubs: Path, target: str, cassette: Path, *ca: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, str(CLIENT), str(stubs), target, TOKEN, str(cassette), *ca],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


EXPECTED = {
    "unauthenticated": "UNAUTHENTICATED",
    "run_plan_ids": ["plan-1"],
    "run_final": ["suspended", "awaiting_plan_approval"],
    "get": ["SESSION_STATUS_AWAITING_PLAN_APPROVAL", ["plan-1"], 1],
    "inject": [False, 1],
    "respond": "SESSION_STATUS_RUNNING",
    "stream_plan_ids": ["plan-2"],
    "late_approve": "FAILED_PRECONDITION",
    "fork": [True, "SESSION_STATUS_ACTIVE"],
    "list": [True, True],
    "cancel": True,
    "cancelled_final": ["failed", "interrupted"],
    "cancelled_run": ["error", "status", "final"],
    "idle_cancel": False,
}


def check(out: dict[str, object]) -> None:
    assert {key: out.get(key) for key in EXPECTED} == EXPECTED
    run = out["run"]
    assert isinstance(run, list) and run[0] == "status" and run[-3:] == ["plan", "status", "final"], run
    later = out["stream_events"]
    assert isinstance(later, list) and later[0] == "status" and later[-3:] == ["plan", "status", "final"], later


def test_every_rpc_over_cleartext_http2(tmp_path: Path, stubs: Path) -> None:
    served = ServeProcess.start(tmp_path)
    try:
        cassette = tmp_path / "sleep.cassette.json"
        record_sleep_cassette(cassette, served.workspace, served.home, "Sleep.")
        out = run_client(stubs, f"127.0.0.1:{served.port}", cassette)
        check(out)
        assert out["wrong_token"] == "UNAUTHENTICATED"
        # the same port still serves Connect JSON over HTTP/1.1
        request = urllib.request.Request(
            f"{served.url}/tau.runtime.v1.RuntimeService/ListSessions",
            data=b"{}",
            headers={"content-type": "application/json", "authorization": f"Bearer {TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert len(json.loads(response.read())["sessions"]) == 3
    finally:
        stderr = served.stop()
    assert "Traceback" not in stderr, stderr


def test_every_rpc_over_tls(tmp_path: Path, stubs: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    served = ServeProcess.start(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert served.url.startswith("https://")
        cassette = tmp_path / "sleep.cassette.json"
        record_sleep_cassette(cassette, served.workspace, served.home, "Sleep.")
        check(run_client(stubs, f"localhost:{served.port}", cassette, str(cert)))
    finally:
        stderr = served.stop()
    assert "Traceback" not in stderr, stderr


def test_grpc_over_http1_is_refused_cleanly(tmp_path: Path) -> None:
    served = ServeProcess.start(tmp_path)
    try:
        request = urllib.request.Request(
            f"{served.url}/tau.runtime.v1.RuntimeService/ListSessions",
            data=b"\x00\x00\x00\x00\x00",
            headers={"content-type": "application/grpc", "te": "trailers", "authorization": f"Bearer {TOKEN}"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        error = refused.value
        assert (error.code, error.headers["grpc-status"]) == (505, "14")
        assert error.read().decode() == (
            "gRPC needs HTTP/2 (cleartext with prior knowledge, or TLS with ALPN h2); over HTTP/1.1 use Connect or "
            "gRPC-Web"
        )
        # gRPC-Web, which carries its status in the body, still works over HTTP/1.1
        web = urllib.request.Request(
            f"{served.url}/tau.runtime.v1.RuntimeService/ListSessions",
            data=b"\x00\x00\x00\x00\x00",
            headers={"content-type": "application/grpc-web+proto", "authorization": f"Bearer {TOKEN}"},
        )
        with urllib.request.urlopen(web, timeout=30) as response:
            assert b"grpc-status: 0" in response.read()
    finally:
        stderr = served.stop()
    assert "Traceback" not in stderr and "Exception" not in stderr, stderr
