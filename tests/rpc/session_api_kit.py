"""A third-party client for the session-API tests: `buf curl` (npm @bufbuild/buf in tests/partners) speaking Connect
JSON to a real `tau serve`, against the proto file itself (no tau code on the client side), and `curl -N` for SSE."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rpc_helpers import TOKEN, Served

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "tests" / "partners" / "node_modules" / ".bin" / "buf"
CURL = shutil.which("curl")
SERVICE = "tau.runtime.v1.RuntimeService"

# buf curl exits with 8 x the Connect code of an error (its documented exit status for RPC errors)
CODES = {
    3: "invalid_argument",
    5: "not_found",
    6: "already_exists",
    8: "resource_exhausted",
    9: "failed_precondition",
    10: "aborted",
    11: "out_of_range",
    14: "unavailable",
    16: "unauthenticated",
}

needs_buf = pytest.mark.skipif(not BUF.exists(), reason="buf (npm @bufbuild/buf) is not installed in tests/partners")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


@dataclass
class Failed:
    """An RPC error as buf curl reports it."""

    code: str
    message: str


@dataclass
class Buf:
    served: Served

    def __call__(self, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """The method's response (the test fails on an RPC error)."""
        answer = self.call(method, body)
        assert not isinstance(answer, Failed), f"{method} failed: {answer}"
        return answer

    def fails(self, method: str, body: dict[str, Any] | None = None) -> Failed:
        answer = self.call(method, body)
        assert isinstance(answer, Failed), f"{method} succeeded: {answer}"
        return answer

    def call(self, method: str, body: dict[str, Any] | None = None) -> dict[str, Any] | Failed:
        command = [str(BUF), "curl", "--protocol", "connect", "--schema", str(ROOT / "proto"),
                   "-H", f"Authorization: Bearer {TOKEN}", "--data", json.dumps(body or {}),
                   f"{self.served.url}/{SERVICE}/{method}"]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode == 0:
            return documents(done.stdout)[-1]  # a server stream (Run): its last event
        if done.returncode % 8 or done.returncode // 8 not in CODES:
            raise AssertionError(f"buf curl exited {done.returncode}: {done.stderr}")
        error = json.loads(done.stderr[done.stderr.index("{") :])
        assert error["code"] == CODES[done.returncode // 8], error
        return Failed(error["code"], error["message"])


def documents(text: str) -> list[dict[str, Any]]:
    """The JSON documents buf curl printed one after the other (one per message of a stream)."""
    decoder, found, index = json.JSONDecoder(), [], 0
    while text[index:].strip():
        while text[index].isspace():
            index += 1
        document, index = decoder.raw_decode(text, index)
        found.append(dict(document))
    return found or [{}]


def sse(url: str, *args: str, token: str | None = TOKEN) -> tuple[int, str]:
    """`curl -N` on an SSE URL (the stream must end by itself: follow=0); (HTTP status, body)."""
    command = [CURL or "curl", "-sS", "-N", "-o", "-", "-w", "\n%{http_code}", *args]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=60).stdout
    body, _, status = out.rpartition("\n")
    return int(status), body


def sse_messages(body: str) -> list[dict[str, str]]:
    """The SSE messages of a stream body: each a dict of its fields (comments and `retry` left out)."""
    messages = []
    for block in body.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        if "data" in fields:
            messages.append(fields)
    return messages
