"""The warm server's provider connection pool (issue #19 item 3): one helper process, forked by `tau serve --local`
before any run, that forwards the runs' model requests to the providers over long-lived keep-alive connections.

Why a process: each warm run is its own forked process, and a TLS connection lives in the process that made it, so
connections can only be shared by a process that outlives the runs and makes the requests itself. The runs reach it
through `tau.models.provider_proxy` (the wire format is there).

Contract:
- `start(env, directory, ...)` binds `provider.sock` (0600, in the server's 0700 runtime directory), makes a random
  per-server secret, forks the helper and configures `tau.models.provider_proxy` in the parent, so every run forked
  afterwards inherits path and secret in memory. A connection whose first line does not carry the secret gets one
  `refused` line and is closed: a tool process of a run (same uid, it can connect) cannot use the pool as a way out
  to the network. The helper keeps no authentication and no cookies: it speaks to httpx2 transports (below the
  client layer: no cookie jar, no auth, no redirects), one per origin (scheme, host, port), with the server's TLS
  trust (`SSL_CERT_FILE`/`SSL_CERT_DIR` of the server's environment), HTTP/1.1 like a run's own client, and no
  proxy. Each request is sent with the run's own headers and timeouts; errors go back by exception class.
- `adopt(env)` (a forked run, with the client's environment) keeps the pool only when the run would have built the
  same transport: the pool is bypassed when the run sets `TAU_PROVIDER_POOL=0`, any of `HTTP_PROXY`, `HTTPS_PROXY`,
  `ALL_PROXY` (any case; `NO_PROXY` only narrows them, so it is honoured by the run's own client then), or
  `SSL_CERT_FILE`/`SSL_CERT_DIR` values other than the server's.
- `TAU_PROVIDER_POOL=0` (or false/no/off) in the server's environment: no helper, every run connects itself.
  Providers on a loopback address go direct (nothing distant to save) unless it is `TAU_PROVIDER_POOL=all`.
  `TAU_PROVIDER_POOL_IDLE`: seconds an idle upstream connection is kept (default 60).
- The helper dies with the server: it reads a pipe whose write end only the server holds (runs close their copy),
  and exits at end of file. It is in its own session, so a terminal's Ctrl-C reaches the server, which drains its
  runs (their requests still in flight through the helper) before exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import secrets
import signal
import socket
import struct
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tau.cli import warm
from tau.models import provider_proxy

__all__ = ["SOCKET_NAME", "PoolProcess", "adopt", "enabled_in", "running", "start", "stop"]

SOCKET_NAME = "provider.sock"
_OFF = ("0", "false", "no", "off")
_PROXY_ENV = ("http_proxy", "https_proxy", "all_proxy")  # NO_PROXY only narrows these: alone it changes nothing
_TRUST_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_MAX_BODY = 256 * 1024 * 1024
_DEFAULT_IDLE_S = 60.0
_SERVER_TRUST: list[tuple[str, ...]] = []  # the server's SSL_CERT_FILE/DIR, inherited by runs with the secret
_PIPES: list[int] = []  # the server's end of the helper's life pipe: closed in every run


@dataclass
class PoolProcess:
    pid: int
    path: Path


def _mode(env: Mapping[str, str]) -> str:
    return env.get("TAU_PROVIDER_POOL", "").strip().lower()


def enabled_in(env: Mapping[str, str]) -> bool:
    return _mode(env) not in _OFF


def _idle_seconds(env: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(env.get("TAU_PROVIDER_POOL_IDLE") or _DEFAULT_IDLE_S))
    except ValueError:
        return _DEFAULT_IDLE_S


def _trust(env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(env.get(name) or "" for name in _TRUST_ENV)


def start(
    env: Mapping[str, str], directory: Path, report: Callable[[str], None], *, close: tuple[int, ...]
) -> PoolProcess | None:
    """Fork the helper (module docstring); None when the pool is off. `close`: the parent's descriptors the helper
    must not keep (the listening socket, the serve lock)."""
    if not enabled_in(env):
        return None
    path = directory / SOCKET_NAME
    listener = warm.listen_owner_only(path, 128)
    secret = secrets.token_hex(32)
    life_r, life_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(life_w)
            for fd in close:
                with contextlib.suppress(OSError):
                    os.close(fd)
            os.setsid()
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            asyncio.run(_Helper(secret, _idle_seconds(env)).serve(listener, life_r))
            code = 0
        finally:
            os._exit(code)
    os.close(life_r)
    listener.close()
    _PIPES[:] = [life_w]
    _SERVER_TRUST[:] = [_trust(env)]
    provider_proxy.configure(str(path), secret, loopback=_mode(env) == "all")
    report(f"tau: provider connection pool (pid {pid})")
    return PoolProcess(pid, path)


@contextlib.contextmanager
def running(
    env: Mapping[str, str], directory: Path, report: Callable[[str], None], *, close: tuple[int, ...]
) -> Iterator[PoolProcess | None]:
    """`start`, then `stop` once the body (the server's loop, its runs drained) has ended."""
    pool = start(env, directory, report, close=close)
    try:
        yield pool
    finally:
        stop(pool)


def stop(pool: PoolProcess | None) -> None:
    """In the server, after its runs ended: the helper exits (end of its pipe) and is reaped."""
    for fd in _PIPES:
        with contextlib.suppress(OSError):
            os.close(fd)
    _PIPES.clear()
    provider_proxy.disable()
    if pool is None:
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pool.pid, 0)
    with contextlib.suppress(FileNotFoundError):
        pool.path.unlink()


def adopt(env: Mapping[str, str]) -> None:
    """In a forked run with the client's environment: drop the server's pipe; keep the pool only when the run
    would have built the same transport (module docstring)."""
    for fd in _PIPES:
        with contextlib.suppress(OSError):
            os.close(fd)
    _PIPES.clear()
    lowered = {name.lower(): value for name, value in env.items()}
    proxied = any(lowered.get(name) for name in _PROXY_ENV)
    if not enabled_in(env) or proxied or not _SERVER_TRUST or _trust(env) != _SERVER_TRUST[0]:
        provider_proxy.disable()


class _Helper:
    """The helper's event loop: one connection per request (`tau.models.provider_proxy` has the wire)."""

    def __init__(self, secret: str, idle_s: float) -> None:
        import httpcore2
        import httpx2

        self._httpx2 = httpx2
        self._secret = secret.encode()
        self._context = httpcore2.default_ssl_context()  # the server's environment: its SSL_CERT_FILE/DIR
        self._limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=idle_s)
        self._transports: dict[tuple[str, str, int | None], Any] = {}
        self._handlers: set[asyncio.Task[None]] = set()

    async def serve(self, listener: socket.socket, life: int) -> None:
        server = await asyncio.start_unix_server(self._handle, sock=listener, limit=provider_proxy.MAX_LINE)
        loop = asyncio.get_running_loop()
        ended = loop.create_future()

        def at_end() -> None:
            if not ended.done():
                ended.set_result(None)

        loop.add_reader(life, at_end)
        try:
            await ended
        finally:
            loop.remove_reader(life)
            server.close()  # no new requests; those in flight (runs the server no longer waits for) may end
            while self._handlers:
                await asyncio.wait(set(self._handlers))
            for transport in self._transports.values():
                with contextlib.suppress(Exception):
                    await transport.aclose()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._request(reader, writer)
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = json.loads(await reader.readuntil(b"\n"))
            secret = head.get("secret") if isinstance(head, dict) else None
            if not isinstance(secret, str) or not hmac.compare_digest(secret.encode(), self._secret):
                writer.write(b'{"refused": "not a run of this server"}\n')
                await writer.drain()
                return
            length = head.get("length")
            if not isinstance(length, int) or not 0 <= length <= _MAX_BODY:
                return
            body = await reader.readexactly(length)
            await _until_gone(reader, self._forward(head, body, writer))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError, KeyError):
            pass

    def _transport(self, url: Any) -> Any:
        origin = (url.scheme, url.host, url.port)
        transport = self._transports.get(origin)
        if transport is None:
            transport = self._httpx2.AsyncHTTPTransport(verify=self._context, limits=self._limits, trust_env=False)
            self._transports[origin] = transport
        return transport

    async def _forward(self, head: dict[str, Any], body: bytes, writer: asyncio.StreamWriter) -> None:
        httpx2 = self._httpx2
        url = httpx2.URL(head["url"])
        headers = [(str(name).encode("latin-1"), str(value).encode("latin-1")) for name, value in head["headers"]]
        timeout = {
            k: v for k, v in dict(head.get("timeout") or {}).items() if k in ("connect", "read", "write", "pool")
        }
        request = httpx2.Request(head["method"], url, headers=headers, content=body, extensions={"timeout": timeout})
        try:
            response = await self._transport(url).handle_async_request(request)
        except Exception as error:  # its class goes back to the run, which raises the same
            writer.write(_error_line(error))
            await writer.drain()
            return
        answer = {
            "status": response.status_code,
            "headers": [[name.decode("latin-1"), value.decode("latin-1")] for name, value in response.headers.raw],
            "reason": response.extensions.get("reason_phrase", b"").decode("latin-1"),
            "http_version": response.extensions.get("http_version", b"HTTP/1.1").decode("latin-1"),
        }
        try:
            writer.write(json.dumps(answer).encode() + b"\n")
            async for chunk in response.stream:
                if chunk:
                    writer.write(struct.pack(">I", len(chunk)) + chunk)
                    await writer.drain()
            writer.write(struct.pack(">I", provider_proxy.END))
        except httpx2.HTTPError as error:  # the upstream failed in the middle of the body
            writer.write(struct.pack(">I", provider_proxy.ERROR) + _error_line(error))
        finally:
            await response.aclose()  # a body not read to its end closes its upstream connection
        await writer.drain()


async def _until_gone(reader: asyncio.StreamReader, forward: Coroutine[Any, Any, None]) -> None:
    """Run `forward`, cancelled when the run closes its connection (a cancelled request, a run that ended): the
    upstream request is then abandoned and its connection closed, as the run's own client would have done."""
    task = asyncio.ensure_future(forward)
    gone = asyncio.ensure_future(reader.read(1))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
        gone.cancel()
        await asyncio.gather(task, gone, return_exceptions=True)
    error = None if task.cancelled() else task.exception()
    if error is not None:
        raise error


def _error_line(error: BaseException) -> bytes:
    name = type(error).__name__
    import httpx2

    if not (isinstance(error, httpx2.RequestError) and provider_proxy.error_class(name) is type(error)):
        name = "ConnectError"
    return json.dumps({"error": name, "message": str(error)}).encode() + b"\n"
