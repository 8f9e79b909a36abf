"""A scripted OpenAI-compatible chat server (stdlib only) that fails on purpose: the provider faults of issue #13.

Like tests/security/sec_model.py, a script is chosen by a `[[fault:KEY]]` tag in the conversation's first user
message and the step by the number of assistant messages already in it. Unlike it, each step is a list of *attempts*:
the n-th request the server sees for that step gets the n-th reply (the last one repeats), so "fail, then succeed"
is `[Status(500), Text("ok")]` and the server counts how often the client asked (`attempts(KEY)`), which is how a
test tells a retried fault from one that was not.

Replies:
- `Text(text, finish_reason)`: a normal answer (`finish_reason="length"` is an answer cut by the output limit);
- `Calls((name, args), ...)`: tool calls;
- `Status(code, message, headers, body)`: an HTTP error with an OpenAI-shaped error body (or a raw one);
- `Malformed(body, content_type)`: a 200 whose body is not what the API promises;
- `Cut(text, after)`: a stream that sends `after` chunks of `text`, then drops the connection.

Requests with `stream: true` (what tau sends) get server-sent `chat.completion.chunk` events ending with `[DONE]`,
others a plain `chat.completion`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Calls", "Cut", "FaultServer", "Malformed", "Status", "Text", "serve"]

_TAG = re.compile(r"\[\[fault:([A-Za-z0-9_.-]+)\]\]")


@dataclass(frozen=True)
class Text:
    text: str
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Calls:
    calls: tuple[tuple[str, Mapping[str, Any]], ...]

    def __init__(self, *calls: tuple[str, Mapping[str, Any]]) -> None:
        object.__setattr__(self, "calls", tuple(calls))


@dataclass(frozen=True)
class Status:
    """An HTTP error: an OpenAI-shaped JSON error body with `message`, or `body` as it is (an HTML page, say)."""

    code: int
    message: str = "scripted failure"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class Malformed:
    body: bytes = b"{malformed json: <<<fault>>>"
    content_type: str = "application/json"


@dataclass(frozen=True)
class Cut:
    text: str
    after: int = 1


Reply = Text | Calls | Status | Malformed | Cut
Step = Reply | Sequence[Reply]


class FaultServer:
    """Scripts by key and the number of requests each (key, step) received."""

    def __init__(self) -> None:
        self._scripts: dict[str, list[list[Reply]]] = {}
        self._seen: dict[tuple[str, int], int] = {}
        self._bodies: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.base_url = ""

    def script(self, key: str, *steps: Step) -> str:
        """Register `steps` under `key`; returns the prompt tag that selects it."""
        with self._lock:
            self._scripts[key] = [[step] if isinstance(step, Reply) else list(step) for step in steps]
        return f"[[fault:{key}]]"

    def attempts(self, key: str) -> list[int]:
        """Requests received per step of `key`'s script."""
        with self._lock:
            steps = len(self._scripts.get(key, []))
            return [self._seen.get((key, index), 0) for index in range(steps)]

    def bodies(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._bodies.get(key, []))

    def reply(self, body: dict[str, Any]) -> tuple[str, int, Reply]:
        messages = body.get("messages") or []
        match = _TAG.search(_first_user_text(messages))
        if match is None:
            return "", 0, Text("no fault tag in the prompt")
        key = match.group(1)
        step = sum(1 for message in messages if message.get("role") == "assistant")
        with self._lock:
            self._bodies.setdefault(key, []).append(body)
            attempt = self._seen.get((key, step), 0)
            self._seen[(key, step)] = attempt + 1
            steps = self._scripts.get(key, [])
        if step >= len(steps):
            return key, step, Text(f"done {key}")
        replies = steps[step]
        return key, step, replies[min(attempt, len(replies) - 1)]


def _first_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in messages:
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def _completion(model: str, key: str, step: int, reply: Text | Calls) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text if isinstance(reply, Text) else None}
    if isinstance(reply, Calls):
        message["tool_calls"] = [
            {"id": f"{key}-{step}-{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(reply.calls)
        ]
    finish = reply.finish_reason if isinstance(reply, Text) else "tool_calls"
    return {
        "id": f"chatcmpl-{key}-{step}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _chunks(completion: dict[str, Any], pieces: int = 3) -> Iterator[dict[str, Any]]:
    base = {key: completion[key] for key in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    choice = completion["choices"][0]
    message = choice["message"]
    text = message["content"] or ""
    size = max(1, -(-len(text) // pieces))
    parts = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    for index, part in enumerate(parts):
        delta: dict[str, Any] = {"content": part}
        if index == 0:
            delta["role"] = "assistant"
            if "tool_calls" in message:
                delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        yield base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    yield base | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}
    yield base | {"choices": [], "usage": completion["usage"]}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        if not self.path.endswith("/chat/completions"):
            self._send(404, "application/json", b'{"error": {"message": "not found"}}')
            return
        body = json.loads(raw or b"{}")
        key, step, reply = self.server.faults.reply(body)
        model = str(body.get("model", "scripted"))
        if isinstance(reply, Status):
            error = {"error": {"message": reply.message, "type": "scripted", "code": f"http_{reply.code}"}}
            data = json.dumps(error).encode() if reply.body is None else reply.body
            self._send(reply.code, reply.content_type, data, reply.headers)
        elif isinstance(reply, Malformed):
            self._send(200, reply.content_type, reply.body)
        elif isinstance(reply, Cut):
            self._cut(model, key, step, reply)
        elif body.get("stream"):
            chunks = [f"data: {json.dumps(chunk)}\n\n" for chunk in _chunks(_completion(model, key, step, reply))]
            self._send(200, "text/event-stream", "".join([*chunks, "data: [DONE]\n\n"]).encode())
        else:
            self._send(200, "application/json", json.dumps(_completion(model, key, step, reply)).encode())

    def _cut(self, model: str, key: str, step: int, reply: Cut) -> None:
        """Headers promising a long body, `after` chunks of it, then the connection is closed under the client."""
        chunks = list(_chunks(_completion(model, key, step, Text(reply.text)), pieces=8))[: reply.after]
        data = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks).encode()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(data) + 10_000))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = True

    def _send(self, code: int, content_type: str, data: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, faults: FaultServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.faults = faults


@contextmanager
def serve() -> Iterator[FaultServer]:
    """A running server on 127.0.0.1 (a free port); `base_url` is its `/v1` endpoint."""
    faults = FaultServer()
    server = _Server(faults)
    faults.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, name="fault-model", daemon=True)
    thread.start()
    try:
        yield faults
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
