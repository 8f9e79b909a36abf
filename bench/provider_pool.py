"""Provider pool: bench/peers.py's task (one bash call, the npm aimock partner as the model) run warm through
`tau serve --local` with and without the server's provider connection pool (issue #19 item 3), against a TLS
endpoint, and cold for reference. Prints JSON.

The model endpoint is aimock behind a TLS-terminating relay with a self-signed certificate for 127.0.0.1 (made by
`openssl`; server and runs trust it through `SSL_CERT_FILE`). `--rtt-ms N` makes the relay wait 2 x N ms before
each new connection's TLS handshake, modelling a distant provider's connection set-up (TCP + TLS 1.3: two round
trips; the requests themselves cost no extra latency, in either runner). Runners, each one untimed warm-up and then
the median of `--runs` (default 7, `--quick` 3), the two warm runners alternating run by run (both servers up at
once); `connections` is how many TCP connections the relay accepted during a runner's runs:

- `warm_pool`: the venv's `python -m tau` through `python -m tau serve --local` with `TAU_PROVIDER_POOL=all` (the
  relay listens on 127.0.0.1, which the pool otherwise leaves to the runs);
- `warm_no_pool`: the same server started with `TAU_PROVIDER_POOL=0` (each run connects itself);
- `cold`: `--no-server`.

Needs the test partners (scripts/install-test-partners.sh) and `openssl`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from peers import _aimock, _base_env, _local_server, _measure, _once, _tau_argv

VENV = [sys.executable, "-m", "tau"]


def _certificate(root: Path) -> tuple[Path, Path]:
    cert, key = root / "cert.pem", root / "key.pem"
    names = ["-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), *names],
        check=True,
        capture_output=True,
    )
    return cert, key


class _Relay:
    """TLS in front of a plain HTTP origin; counts accepted connections."""

    def __init__(self, origin: tuple[str, int], context: ssl.SSLContext, delay_s: float) -> None:
        self.origin = origin
        self.context = context
        self.delay_s = delay_s
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        time.sleep(self.delay_s)
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as a provider's front end: no 40 ms stalls
            client = self.context.wrap_socket(conn, server_side=True)
            upstream = socket.create_connection(self.origin)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            conn.close()
            return
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def _tls_relay(url: str, root: Path, rtt_ms: float) -> Iterator[tuple[str, Path, _Relay]]:
    """(https base URL, certificate, relay) in front of the plain `url`."""
    cert, key = _certificate(root)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    host, port = url.removeprefix("http://").split("/")[0].rsplit(":", 1)
    relay = _Relay((host, int(port)), context, 2 * rtt_ms / 1000)
    threading.Thread(target=relay.serve, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{relay.port}", cert, relay
    finally:
        relay.listener.close()


def _runner(argv: list[str], env: dict[str, str], root: Path, runs: int, relay: _Relay) -> dict[str, Any]:
    before = relay.connections
    result = _measure(argv, env, root, runs)
    result["connections"] = relay.connections - before
    return result


def _warm_pair(argv: list[str], env: dict[str, str], root: Path, runs: int, relay: _Relay) -> dict[str, Any]:
    """Both servers up at once (their own runtime dirs), runs alternating between them: on a shared machine the
    load then drifts alike for both (each server's connections are counted apart by its runs' order)."""
    envs = {
        "warm_pool": {**env, "TAU_PROVIDER_POOL": "all"},
        "warm_no_pool": {**env, "XDG_RUNTIME_DIR": str(root / "runtime-no-pool")},
    }
    Path(envs["warm_no_pool"]["XDG_RUNTIME_DIR"]).mkdir(mode=0o700)
    times: dict[str, list[float]] = {name: [] for name in envs}
    connections = dict.fromkeys(envs, 0)
    with (
        _local_server(VENV, envs["warm_pool"], root),
        _local_server(VENV, {**envs["warm_no_pool"], "TAU_PROVIDER_POOL": "0"}, root),
    ):
        for attempt in range(runs + 1):
            for name, run_env in envs.items():
                before = relay.connections
                elapsed, problem = _once(argv, run_env, root)
                if problem is not None:
                    return {name: {"error": problem}}
                connections[name] += relay.connections - before
                if attempt:
                    times[name].append(elapsed)
    return {
        name: {
            "median_s": round(statistics.median(times[name]), 3),
            "min_s": round(min(times[name]), 3),
            "runs": runs,
            "connections": connections[name],
        }
        for name in envs
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="timed runs per runner (default 7, --quick 3)")
    parser.add_argument("--quick", action="store_true", help="3 runs per runner (CI)")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="modelled round trip to the provider (default 0)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold runner")
    options = parser.parse_args()
    runs = options.runs or (3 if options.quick else 7)
    results: dict[str, Any] = {"rtt_ms": options.rtt_ms, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="tau-bench-providers-") as scratch:
        root = Path(scratch)
        with _aimock(root) as plain, _tls_relay(plain, root, options.rtt_ms) as (url, cert, relay):
            argv, extra = _tau_argv(VENV, url, local=False)
            env = {**_base_env(root), **extra, "SSL_CERT_FILE": str(cert)}
            results.update(_warm_pair(argv, env, root, runs, relay))
            if not options.no_cold:
                results["cold"] = _runner([*argv, "--no-server"], env, root, runs, relay)
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
