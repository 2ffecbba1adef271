"""`hub serve`: the daemon with its API, pages and job workers."""

from __future__ import annotations

import logging

import click
from aiohttp import web

from core.infra.logs import setup_logging
from hub.app import create_app
from hub.cli.base import ensure_port_free, settings_of

log = logging.getLogger(__name__)


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: server.host).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: server.port).")
@click.option("--no-jobs", is_flag=True, help="Serve requests only; leave background jobs to other processes.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, no_jobs: bool) -> None:
    """Run the hub: JSON API, merchant pages, scheduled imports and tracking pushes."""
    settings = settings_of(ctx)
    if no_jobs:
        settings = settings.model_copy(update={"jobs": settings.jobs.model_copy(update={"enabled": False})})
    host = host or settings.server.host
    port = port if port is not None else settings.server.port
    ensure_port_free(host, port)
    setup_logging(settings.log)
    web.run_app(
        create_app(settings),
        host=host,
        port=port,
        shutdown_timeout=30,
        print=_announce,
    )


def _announce(text: str) -> None:
    """aiohttp's start banner as a log line, so that JSON logs stay one object per line."""
    for line in text.splitlines():
        if "Running on" in line:
            log.info("%s", line.strip("= "))
