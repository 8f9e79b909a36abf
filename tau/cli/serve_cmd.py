"""`tau serve`: the ConnectRPC `RuntimeService` over HTTP (uvicorn in-process). Imports the RPC stack lazily."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", default=7433, show_default=True, type=click.IntRange(0, 65535), help="Port to bind (0 = any free port)."
)
@click.option("--token-file", metavar="FILE", help="File holding the bearer token every call must present.")
@click.option("--presets-dir", metavar="DIR", help="Directory of preset job files (<name>.md).")
@click.option("--state-dir", metavar="DIR", help="Session store (default as for tau run).")
def serve_command(host: str, port: int, token_file: str | None, presets_dir: str | None, state_dir: str | None) -> None:
    """Serve the runtime over ConnectRPC (Connect JSON/binary and gRPC-Web).

    A non-loopback --host requires --token-file. SIGTERM drains: running runs end with a terminal event.
    """
    from tau.rpc.server import run_server

    code = run_server(
        host=host,
        port=port,
        token_file=Path(token_file) if token_file else None,
        env=dict(os.environ),
        cwd=Path.cwd(),
        presets_dir=Path(presets_dir) if presets_dir else None,
        state_dir=Path(state_dir) if state_dir else None,
    )
    sys.exit(code)
