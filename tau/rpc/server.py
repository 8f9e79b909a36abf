"""Serving `RuntimeServiceImpl` over HTTP: connectrpc's ASGI app under uvicorn, in-process.

Protocols: Connect (JSON and binary) and gRPC-Web over HTTP/1.1 (uvicorn has no HTTP/2 trailers, so no plain gRPC).
Auth: with a token, `BearerAuth` guards every method; binding a non-loopback address without a token is refused
before anything listens (ConfigError, exit 2). Shutdown (SIGTERM/SIGINT in the main thread, or `stop()`): the
service drains first — every run is cancelled and ends with its final event, followers end — then uvicorn closes
the connections. Public API:

- `RuntimeServer(service, host=, port=, token=)`: `await serve()`, `stop()` (thread-safe), `port` once `started`;
- `build_app(service, token=)`: the ASGI application alone (to mount elsewhere);
- `run_server(host=, port=, token_file=, env=, cwd=, state_dir=, ...)`: what `tau serve` calls; blocks until shutdown,
  returns 0. Once listening it prints `tau serve: listening on http://HOST:PORT` on stderr (the bound port, also for
  `--port 0`). Sessions persist to the `FileSessionStore` of `default_state_dir(env, cwd, state_dir)`, the same store
  as `tau run` (so `tau sessions`, `tau resume` and ForkSession see RPC sessions).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import uvicorn

from tau.rpc._gen.runtime_connect import RuntimeServiceASGIApplication
from tau.rpc.auth import BearerAuth, load_token, require_token_off_loopback
from tau.rpc.launch import ModelFactory
from tau.rpc.service import RuntimeServiceImpl, ServiceLimits
from tau.sessions import default_state_dir

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7433
# The largest request body accepted (connectrpc answers RESOURCE_EXHAUSTED beyond it); prompts have their own,
# smaller limit in ServiceLimits so that their error names the field.
READ_MAX_BYTES = 8 * 1024 * 1024


def build_app(service: RuntimeServiceImpl, *, token: str | None) -> RuntimeServiceASGIApplication:
    interceptors = [BearerAuth(token)] if token else []
    return RuntimeServiceASGIApplication(service, interceptors=interceptors, read_max_bytes=READ_MAX_BYTES)


class _UvicornServer(uvicorn.Server):
    """uvicorn with two hooks: report the bound port once listening, drain the service before closing."""

    def __init__(self, config: uvicorn.Config, owner: RuntimeServer) -> None:
        super().__init__(config)
        self._owner = owner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._owner._on_started(self)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self._owner.service.drain()
        await super().shutdown(sockets)
        await self._owner.service.aclose()


class RuntimeServer:
    def __init__(
        self,
        service: RuntimeServiceImpl,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        token: str | None = None,
        on_started: Callable[[RuntimeServer], None] | None = None,
    ) -> None:
        require_token_off_loopback(host, token)
        self.service = service
        self.host = host
        self.port = port
        self.started = threading.Event()
        self._on_started_hook = on_started
        self._config = uvicorn.Config(
            build_app(service, token=token),
            host=host,
            port=port,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=int(service.limits.drain_timeout) + 5,
        )
        self._server: _UvicornServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def serve(self) -> None:
        """Serve until SIGINT/SIGTERM (main thread) or `stop()`; drains the service on the way out."""
        self._loop = asyncio.get_running_loop()
        self._server = _UvicornServer(self._config, self)
        await self._server.serve()

    def stop(self) -> None:
        """Ask the server to drain and exit. Safe from any thread."""
        server = self._server
        if server is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(setattr, server, "should_exit", True)
        else:
            server.should_exit = True

    def _on_started(self, server: _UvicornServer) -> None:
        for listener in server.servers:
            for sock in listener.sockets:
                self.port = int(sock.getsockname()[1])
                break
        self.started.set()
        if self._on_started_hook is not None:
            self._on_started_hook(self)


def run_server(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token_file: Path | None = None,
    env: Mapping[str, str],
    cwd: Path,
    presets_dir: Path | None = None,
    state_dir: Path | str | None = None,
    model_factory: ModelFactory | None = None,
    limits: ServiceLimits | None = None,
    on_started: Callable[[RuntimeServer], None] | None = None,
) -> int:
    """`tau serve`: validate (ConfigError before listening), then serve until a signal. Returns the exit code (0).

    `env` and `cwd` are the process environment and working directory (config layering and the default workspace);
    `presets_dir` holds preset job files (`<name>.md`); `state_dir` is `--state-dir` (None: as for `tau run`)."""
    token = load_token(token_file) if token_file is not None else None
    require_token_off_loopback(host, token)
    service = RuntimeServiceImpl(
        env=env,
        cwd=cwd,
        presets_dir=presets_dir,
        state_dir=default_state_dir(env, cwd, state_dir),
        model_factory=model_factory,
        limits=limits,
    )
    server = RuntimeServer(service, host=host, port=port, token=token, on_started=on_started or _announce)
    asyncio.run(server.serve())
    return 0


def _announce(server: RuntimeServer) -> None:
    sys.stderr.write(f"tau serve: listening on {server.url}\n")
    sys.stderr.flush()
