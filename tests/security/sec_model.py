"""A scripted OpenAI-compatible chat server (stdlib only) that plays a hostile model for `tau run`.

Unlike a cassette, it answers from a script whatever the tools returned, so an attack script runs the same whether
the attack is contained or not. A script is a list of steps; the server finds the script by a `[[script:KEY]]` tag
in the conversation's first user message and the step by the number of assistant messages already in the
conversation (stateless per request: a provider retry replays the same step). A step is a list of tool calls
`(tool_name, arguments)` (a dict, sent as JSON, or a raw string sent as-is), a `str` (a text reply), or a callable
computing the calls from the first user message (for values the test learns only after tau started, such as its
pid). After the last step the server replies `done KEY`.

Tool call ids are `KEY-<step>-<index>`, so every `tool.completed` event maps back to its step. Every request body is
kept (`requests(KEY)`), so the tool results the model was sent can be searched for canaries. Any other request (a
sandboxed command trying to reach this host service on 127.0.0.1) is answered 404 and recorded in `strays`.

Both response shapes are served: a plain `chat.completion`, and server-sent `chat.completion.chunk` events ending
with `[DONE]` when the request has `stream: true` (what pydantic-ai's OpenAI chat model sends).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Call", "ScriptServer", "Step", "serve"]

Call = tuple[str, Mapping[str, Any] | str]
Step = Sequence[Call] | str | Callable[[str], Sequence[Call]]

_TAG = re.compile(r"\[\[script:([A-Za-z0-9_.-]+)\]\]")


class ScriptServer:
    """Scripts by key, the requests each script received, and requests that were not model calls."""

    def __init__(self) -> None:
        self._scripts: dict[str, list[Step]] = {}
        self._requests: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.strays: list[str] = []
        self.base_url = ""

    def script(self, key: str, steps: Sequence[Step]) -> str:
        """Register `steps` under `key`; returns the prompt tag that selects it."""
        with self._lock:
            self._scripts[key] = list(steps)
            self._requests[key] = []
        return f"[[script:{key}]]"

    def requests(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._requests.get(key, []))

    def stray(self, line: str) -> None:
        with self._lock:
            self.strays.append(line)

    def answer(self, body: dict[str, Any]) -> tuple[str, int, list[Call], str]:
        """(key, step index, tool calls, text) for one request."""
        messages = body.get("messages") or []
        prompt = _first_user_text(messages)
        match = _TAG.search(prompt)
        if match is None:
            return "", 0, [], "no script tag in the prompt"
        key = match.group(1)
        with self._lock:
            self._requests.setdefault(key, []).append(body)
            steps = self._scripts.get(key, [])
        index = sum(1 for message in messages if message.get("role") == "assistant")
        if index >= len(steps):
            return key, index, [], f"done {key}"
        step = steps[index]
        if isinstance(step, str):
            return key, index, [], step
        calls = step(prompt) if callable(step) else step
        return key, index, list(calls), ""


def _first_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in messages:
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def _completion(body: dict[str, Any], key: str, step: int, calls: Sequence[Call], text: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = [
            {
                "id": f"{key}-{step}-{index}",
                "type": "function",
                "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
            }
            for index, (name, args) in enumerate(calls)
        ]
    return {
        "id": f"chatcmpl-{key}-{step}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _chunks(completion: dict[str, Any]) -> Iterator[dict[str, Any]]:
    base = {key: completion[key] for key in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    choice = completion["choices"][0]
    message = choice["message"]
    delta: dict[str, Any] = {"role": "assistant", "content": message["content"]}
    if "tool_calls" in message:
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
    yield base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    yield base | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}
    yield base | {"choices": [], "usage": completion["usage"]}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.scripts.stray(f"GET {self.path}")
        self.send_error(404)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        if not self.path.endswith("/chat/completions"):
            self.server.scripts.stray(f"POST {self.path} {raw[:200]!r}")
            self.send_error(404)
            return
        body = json.loads(raw or b"{}")
        key, step, calls, text = self.server.scripts.answer(body)
        completion = _completion(body, key, step, calls, text)
        if body.get("stream"):
            chunks = [f"data: {json.dumps(chunk)}\n\n" for chunk in _chunks(completion)]
            self._send("text/event-stream", "".join([*chunks, "data: [DONE]\n\n"]).encode())
        else:
            self._send("application/json", json.dumps(completion).encode())

    def _send(self, content_type: str, data: bytes) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, scripts: ScriptServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scripts = scripts


@contextmanager
def serve() -> Iterator[ScriptServer]:
    """A running server on 127.0.0.1 (a free port); `base_url` is its `/v1` endpoint."""
    scripts = ScriptServer()
    server = _Server(scripts)
    scripts.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, name="script-model", daemon=True)
    thread.start()
    try:
        yield scripts
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
