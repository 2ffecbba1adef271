"""The daemon: ``create_app(settings)`` builds the aiohttp app of ``hub serve``.

Resources come up in ``cleanup_ctx`` order (the runtime: database, connectors, HTTP session; then
the job workers) and go down in reverse: on SIGTERM aiohttp stops accepting requests, the workers
stop taking jobs and give the running ones ``jobs.shutdown_seconds`` to finish; any still running
then are put back in the queue at once for the next worker (core.usecases.jobs).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from core.infra.plugins import LoadedConnector
from core.infra.runtime import open_runtime
from core.infra.settings import HubSettings
from core.usecases.jobs import running_workers
from hub import ops
from hub import web as pages
from hub.api import openapi
from hub.api.errors import errors_middleware
from hub.api.routes import auth_middleware
from hub.api.routes import routes as api_routes
from hub.keys import CONNECTORS, QUEUE_WORKER, RUNTIME, SETTINGS
from hub.web import session as sessions

log = logging.getLogger(__name__)

#: Largest request body, bytes.
MAX_BODY = 1024 * 1024


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the runtime (database with migrations, connectors, HTTP session) for the app's life."""
    settings = app[SETTINGS]
    async with open_runtime(settings, connectors=app.get(CONNECTORS)) as rt:
        app[RUNTIME] = rt
        yield


async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the job workers and the scheduler while the app runs."""
    if not app[SETTINGS].jobs.enabled:
        yield
        return
    async with running_workers(app[RUNTIME]) as worker:
        app[QUEUE_WORKER] = worker
        yield


def create_app(settings: HubSettings, connectors: list[LoadedConnector] | None = None) -> web.Application:
    """The hub's aiohttp application; ``connectors`` replaces the installed ones (tests)."""
    # The session middleware wraps the pages' (added by pages.setup), which read and change the session.
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware, sessions.middleware(settings)], client_max_size=MAX_BODY
    )
    app[SETTINGS] = settings
    if connectors is not None:
        app[CONNECTORS] = connectors
    app.add_routes(ops.routes)
    app.add_routes(openapi.routes)
    app.add_routes(api_routes)
    pages.setup(app)
    app.cleanup_ctx.append(runtime_ctx)
    app.cleanup_ctx.append(workers_ctx)
    return app
