"""Serving `RuntimeServiceImpl` over HTTP: connectrpc's ASGI app under uvicorn, in-process.

Protocols, all on one port: Connect (JSON and binary) and gRPC-Web over HTTP/1.1 and HTTP/2, and plain gRPC over
HTTP/2 — cleartext (h2c with prior knowledge, what grpcio's `insecure_channel` speaks) or TLS (`tls=`; ALPN offers
`h2` and `http/1.1`). HTTP/2 is uvicorn's `zttp` protocol (`http="zttp", http2=True`): it sniffs the h2 preface on
cleartext connections and reads ALPN on TLS ones, and it delivers ASGI response trailers, which gRPC's status needs.
`application/grpc` over HTTP/1.1 (no trailers there) gets one clean answer from `grpc_needs_http2` — HTTP 505 with
`grpc-status: 14` (UNAVAILABLE) and a one-line message — and never reaches connectrpc (which would log a traceback).
Auth: with a token, `BearerAuth` guards every method (gRPC clients send it as `authorization: Bearer <token>`
metadata); binding a non-loopback address without a token is refused before anything listens (ConfigError, exit 2).
Shutdown (SIGTERM/SIGINT in the main thread, or `stop()`): the service drains first — every run is cancelled and ends
with its final event, followers end — then uvicorn closes the connections, then the service's model providers and
journal are closed (`RuntimeServiceImpl.aclose`). Then uvicorn raises the caught signal again, and a SIGTERM meets
its default action: the process dies of it (status -15, 143 in a shell: a clean stop for systemd), not through tau's
own SIGTERM handler, whose `SystemExit(143)` is an exit status systemd counts as a failure. Public API:

- `RuntimeServer(service, host=, port=, token=, tls=, metrics_public=)`: `await serve()`, `stop()` (thread-safe),
  `port` once `started`; `GET /metrics` (Prometheus) and incoming `traceparent` headers are `tau.telemetry.asgi`'s;
- `build_app(service, token=)`: the ASGI application alone (to mount elsewhere), with the session viewer's page and
  read-only JSON routes at `/` and `/ui/` in front (`tau.viewer.web`; its API behind the same token), and Server-Sent
  Events at `GET /v1/sessions/{id}/events` (`rpc.sse`, same token);
- `TlsFiles(cert, key)`: a PEM certificate chain and its private key (`tau serve --tls-cert --tls-key`);
- `run_server(host=, port=, token_file=, tls=, env=, cwd=, state_dir=, ...)`: what `tau serve` calls; blocks until
  shutdown, returns 0. Once listening it prints `tau serve: listening on http(s)://HOST:PORT` on stderr (the bound
  port, also for `--port 0`). Sessions persist to the `FileSessionStore` of `default_state_dir(env, cwd, state_dir)`,
  the same store as `tau run` (so `tau sessions`, `tau resume` and ForkSession see RPC sessions). Checked before
  anything listens: `presets_dir`, when given, must be an existing directory (ConfigError, exit 2); and the store's
  sessions whose writer is gone are shown `interrupted` (`FileSessionStore.settle_interrupted`). Telemetry: the
  server's own settings (`tau.config.telemetry.load_telemetry`: config files and `OTEL_*` variables) decide where
  its runs' traces go; `metrics_public` (None: `telemetry.metrics_public`) serves /metrics without the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
import stat
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from tau import telemetry
from tau.config.telemetry import load_telemetry
from tau.errors import ConfigError
from tau.rpc._gen.runtime_connect import RuntimeServiceASGIApplication
from tau.rpc.auth import BearerAuth, load_token, require_token_off_loopback
from tau.rpc.service import RuntimeServiceImpl, ServiceLimits
from tau.rpc.sse import with_sse
from tau.runtime.engine import Engine, ModelFactory
from tau.sessions import FileSessionStore, SessionStore, default_state_dir, file_store
from tau.signal_death import death_handler
from tau.telemetry.asgi import telemetry_routes
from tau.viewer.web import with_viewer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7433
# The largest request body accepted (connectrpc answers RESOURCE_EXHAUSTED beyond it); prompts have their own,
# smaller limit in ServiceLimits so that their error names the field.
READ_MAX_BYTES = 8 * 1024 * 1024


GRPC_OVER_HTTP1 = (
    "gRPC needs HTTP/2 (cleartext with prior knowledge, or TLS with ALPN h2); over HTTP/1.1 use Connect or gRPC-Web"
)


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def check(self) -> None:
        """ConfigError (exit 2, before anything listens) unless the pair loads."""
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as error:
            problem = getattr(error, "strerror", None) or getattr(error, "reason", None) or str(error)
            raise ConfigError(f"cannot load the TLS certificate and key: {problem}", source=str(self.cert)) from None


def build_app(service: RuntimeServiceImpl, *, token: str | None) -> ASGIApp:
    auth = BearerAuth(token) if token else None
    interceptors = [auth] if auth is not None else []
    app = RuntimeServiceASGIApplication(service, interceptors=interceptors, read_max_bytes=READ_MAX_BYTES)
    store = file_store(service.store)  # the viewer reads the file store's layout; other stores have no viewer yet
    viewed = with_viewer(app, store, authorize=auth.check if auth is not None else None)  # GET / and /ui/: the viewer
    streamed = with_sse(
        viewed, service, authorize=auth.check if auth is not None else None
    )  # GET /v1/sessions/ID/events
    return grpc_needs_http2(streamed)


def grpc_needs_http2(app: ASGIApp) -> ASGIApp:
    """`app`, except that a plain gRPC call on a connection without response trailers (HTTP/1.1) is answered here
    with HTTP 505 and grpc-status 14 (UNAVAILABLE), one line, instead of failing inside connectrpc."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope.get("type") == "http"
            and _is_plain_grpc(scope)
            and "http.response.trailers" not in scope.get("extensions", {})
        ):
            message = GRPC_OVER_HTTP1.encode()
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(message)).encode()),
                (b"grpc-status", b"14"),
                (b"grpc-message", GRPC_OVER_HTTP1.replace(" ", "%20").encode()),
                (b"connection", b"close"),
            ]
            await send({"type": "http.response.start", "status": 505, "headers": headers})
            await send({"type": "http.response.body", "body": message})
            return
        await app(scope, receive, send)

    return guarded


def _is_plain_grpc(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind = bytes(value).split(b";")[0].strip().lower()
            return kind == b"application/grpc" or kind.startswith(b"application/grpc+")
    return False


class _UvicornServer(uvicorn.Server):
    """uvicorn with two hooks: report the bound port once listening, drain the service before closing."""

    def __init__(self, config: uvicorn.Config, owner: RuntimeServer) -> None:
        super().__init__(config)
        self._owner = owner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._owner.service.serving()  # mail and background agents an earlier server left (rpc.mailbox)
            self._owner._on_started(self)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self._owner.service.drain()
        await super().shutdown(sockets)
        await self._owner.service.aclose()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's, over SIGTERM's default action: the SIGTERM uvicorn raises again after the drain ends the
        process by the signal (see the module docstring)."""
        if threading.current_thread() is not threading.main_thread():
            with super().capture_signals():
                yield
            return
        previous = signal.signal(signal.SIGTERM, death_handler())
        try:
            with super().capture_signals():
                yield
        finally:
            signal.signal(signal.SIGTERM, previous)  # reached when no SIGTERM ended the server


class RuntimeServer:
    def __init__(
        self,
        service: RuntimeServiceImpl,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        token: str | None = None,
        tls: TlsFiles | None = None,
        on_started: Callable[[RuntimeServer], None] | None = None,
        metrics_public: bool = False,
    ) -> None:
        require_token_off_loopback(host, token)
        if tls is not None:
            tls.check()
        self.service = service
        self.host = host
        self.port = port
        self.tls = tls
        self.started = threading.Event()
        self._on_started_hook = on_started
        self._config = uvicorn.Config(
            telemetry_routes(build_app(service, token=token), token=token, public=metrics_public),  # /metrics
            host=host,
            port=port,
            http="zttp",
            http2=True,  # h2c by prior knowledge, h2 by ALPN: plain gRPC beside Connect and gRPC-Web
            ssl_certfile=str(tls.cert) if tls is not None else None,
            ssl_keyfile=str(tls.key) if tls is not None else None,
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
        return f"{'https' if self.tls is not None else 'http'}://{host}:{self.port}"

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
    tls: TlsFiles | None = None,
    env: Mapping[str, str],
    cwd: Path,
    presets_dir: Path | None = None,
    state_dir: Path | str | None = None,
    model_factory: ModelFactory | None = None,
    limits: ServiceLimits | None = None,
    on_started: Callable[[RuntimeServer], None] | None = None,
    metrics_public: bool | None = None,
    engine: Engine | None = None,
    store: SessionStore | None = None,
) -> int:
    """`tau serve`: validate (ConfigError before listening), then serve until a signal. Returns the exit code (0).
    `engine` executes the runs (default: inline; `tau serve --engine temporal` submits them to workers); `store`
    replaces the file store of the state dir (`--store postgres://…`: the state dir keeps the journal).

    `env` and `cwd` are the process environment and working directory (config layering and the default workspace);
    `presets_dir` holds preset job files (`<name>.md`); `state_dir` is `--state-dir` (None: as for `tau run`)."""
    token = load_token(token_file) if token_file is not None else None
    require_token_off_loopback(host, token)
    if tls is not None:
        tls.check()
    if presets_dir is not None:
        check_presets_dir(presets_dir)
    settings = load_telemetry(env, cwd)  # the server's own: where it exports traces, who may read /metrics
    telemetry.install(settings)
    state = default_state_dir(env, cwd, state_dir)
    if store is None and state.is_dir():
        asyncio.run(FileSessionStore(state).settle_interrupted())
    service = RuntimeServiceImpl(
        env=env,
        cwd=cwd,
        presets_dir=presets_dir,
        store=store,
        state_dir=state,
        model_factory=model_factory,
        limits=limits,
        engine=engine,
    )
    announce = on_started or _announce
    public = settings.metrics_public if metrics_public is None else metrics_public
    server = RuntimeServer(
        service, host=host, port=port, token=token, tls=tls, on_started=announce, metrics_public=public
    )
    asyncio.run(server.serve())
    return 0


def check_presets_dir(path: Path) -> None:
    """`--presets-dir` must name an existing directory: one line, exit 2, before anything listens."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        problem = "does not exist" if isinstance(error, FileNotFoundError) else f"cannot be read ({error.strerror})"
        raise ConfigError(f"{path} {problem}", field="--presets-dir") from None
    if not stat.S_ISDIR(mode):
        raise ConfigError(f"{path} is not a directory", field="--presets-dir")


def _announce(server: RuntimeServer) -> None:
    sys.stderr.write(f"tau serve: listening on {server.url}\n")
    sys.stderr.flush()
