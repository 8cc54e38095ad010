"""``dlmctl serve``: the Python API over HTTP, and a playground page, for one model."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from dlmctl.cli import app
from dlmctl.cli.common import open_model, show_plugin_warnings
from dlmctl.errors import UsageError

Opt = typer.Option


def check_address(host: str, port: int) -> None:
    """A usage error, before the model loads, when this process cannot listen on ``host:port``."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise UsageError(f"cannot listen on --host {host} --port {port}: {exc.strerror or exc}") from None


@app.command("serve")
def serve_command(
    model: Annotated[Optional[str], Opt(help="Model directory or installed model name (default: the bundled model).")] = None,
    host: Annotated[str, Opt(help="Address to listen on; the default answers this machine only.")] = "127.0.0.1",
    port: Annotated[int, Opt(help="TCP port.")] = 8000,
    queue: Annotated[int, Opt(help="Requests that may wait behind the running one; more get 503.")] = 4,
    max_n: Annotated[int, Opt(help="Most samples one request may ask for.")] = 16,
    max_steps: Annotated[int, Opt(help="Most sampling steps one request may ask for.")] = 400,
    max_candidates: Annotated[int, Opt(help="Most candidates per sample one request may ask for.")] = 16,
    device: Annotated[Optional[str], Opt(help="auto, cpu, cuda or cuda:N.")] = None,
) -> None:
    """Serve MODEL over HTTP: JSON API under /v1/ (generate, infill, controls, health) and a playground at /."""
    for name, value, least in (("--port", port, 1), ("--queue", queue, 0), ("--max-n", max_n, 1),
                               ("--max-steps", max_steps, 1), ("--max-candidates", max_candidates, 1)):
        if value < least or (name == "--port" and value > 65535):
            raise UsageError(f"{name} must be {'1 to 65535' if name == '--port' else f'at least {least}'}, got {value}")
    try:
        import uvicorn

        from dlmctl.server.app import Limits, create_app
    except ImportError:
        raise UsageError("dlmctl serve needs its web stack: pip install 'dlmctl[serve]'") from None
    from dlmctl.api import Model

    check_address(host, port)
    lm = open_model(model, device)
    show_plugin_warnings()
    limits = Limits(max_n=max_n, max_steps=max_steps, max_candidates=max_candidates, queue=queue)
    uvicorn.run(create_app(Model(lm), limits), host=host, port=port, log_level="warning")
