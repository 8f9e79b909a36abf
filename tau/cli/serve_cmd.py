"""`tau serve`: the `tau.runtime.v1.RuntimeService` over HTTP (uvicorn in-process). Imports the RPC stack lazily."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from tau.cli.mail_cmd import mail_options, service_limits
from tau.cli.options import engine_options, examples, state_dir_option


@click.command(
    "serve",
    epilog=examples(
        "tau serve", "tau serve --host 0.0.0.0 --port 7433 --token-file ~/.config/tau/token", "tau serve --local"
    ),
)
@click.option(
    "--local",
    is_flag=True,
    help="Serve this user's warm runs instead: `tau run` hands its job to this server over a Unix socket "
    "($XDG_RUNTIME_DIR/tau or /tmp/tau-UID, owner only); no HTTP.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=7433,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to bind (0 = any free port).",
)
@click.option("--token-file", metavar="FILE", help="File holding the bearer token every call must present.")
@click.option("--tls-cert", metavar="FILE", help="PEM certificate chain: serve HTTPS (needs --tls-key).")
@click.option("--tls-key", metavar="FILE", help="PEM private key of --tls-cert.")
@click.option("--presets-dir", metavar="DIR", help="Directory of preset job files (<name>.md).")
@click.option(
    "--metrics-public",
    is_flag=True,
    help="Serve GET /metrics (Prometheus) without the token (telemetry.metrics_public).",
)
@state_dir_option
@engine_options
@mail_options
def serve_command(
    host: str,
    port: int,
    token_file: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    presets_dir: str | None,
    metrics_public: bool,
    state_dir: str | None,
    engine: str,
    address: str | None,
    namespace: str,
    task_queue: str,
    local: bool,
    **mail: Any,
) -> None:
    """Serve the runtime over RPC, on one port: Connect (JSON and binary) and gRPC-Web over HTTP/1.1 and HTTP/2,
    and plain gRPC over HTTP/2 (cleartext h2c, or TLS with --tls-cert/--tls-key).

    gRPC clients connect with prior-knowledge HTTP/2 (grpcio: insecure_channel) and send the token as
    "authorization: Bearer TOKEN" metadata; gRPC over HTTP/1.1 is refused with HTTP 505. A non-loopback --host
    requires --token-file. SIGTERM drains: running runs end with a terminal event. GET /metrics serves Prometheus
    metrics (behind the token unless --metrics-public); OTEL_EXPORTER_OTLP_ENDPOINT (or the telemetry settings)
    exports the runs' traces, and a request's traceparent header parents its run. With --engine temporal the
    server runs nothing itself: it submits runs to `tau worker` processes (sharing its --state-dir) and streams them.
    """
    from tau.errors import ConfigError

    if local:
        sys.exit(_serve_local())
    from tau.cli.engines import EngineChoice
    from tau.cli.stores import open_any_store, store_choice
    from tau.rpc.server import TlsFiles, run_server

    if (tls_cert is None) != (tls_key is None):
        raise ConfigError(
            "give both --tls-cert and --tls-key, or neither", field="--tls-key" if tls_cert else "--tls-cert"
        )
    tls = TlsFiles(Path(tls_cert), Path(tls_key)) if tls_cert and tls_key else None
    code = run_server(
        host=host,
        port=port,
        token_file=Path(token_file) if token_file else None,
        tls=tls,
        env=dict(os.environ),
        cwd=Path.cwd(),
        presets_dir=Path(presets_dir) if presets_dir else None,
        state_dir=Path(state_dir) if state_dir else None,
        metrics_public=True if metrics_public else None,
        engine=EngineChoice(engine, address, namespace, task_queue).build(),
        store=open_any_store(state_dir) if store_choice() is not None else None,  # --store postgres://…
        limits=service_limits(mail),  # the mailbox's guard rails (--mail-debounce, --max-agents, ...)
    )
    sys.exit(code)


def _serve_local() -> int:
    """`tau serve --local` (tau.cli.warm_server); dies of the SIGTERM/SIGINT that stopped it, as `tau serve` does."""
    from tau.cli.warm_server import serve_local
    from tau.signal_death import die_by

    signum = serve_local(env=dict(os.environ), report=lambda line: click.echo(line, err=True))
    die_by(signum)
