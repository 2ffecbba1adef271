"""Operations routes: /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

from core.storage import jobqueue
from core.storage.migrate import is_current
from hub.keys import QUEUE_WORKER, RUNTIME

routes = web.RouteTableDef()

QUEUE_DEPTH = Gauge("hub_queue_jobs", "Jobs in the queue, by entrypoint and status.", ["entrypoint", "status"])


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process is alive."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """The database answers, its migrations are current, and the job worker (if any) runs."""
    rt = request.app[RUNTIME]
    try:
        current = await asyncio.wait_for(is_current(rt.db.pool), 5)
    except Exception as err:  # noqa: BLE001 - any failure means not ready
        return web.json_response({"status": "unavailable", "reason": f"database: {type(err).__name__}"}, status=503)
    if not current:
        return web.json_response({"status": "unavailable", "reason": "migrations pending: run `hub db migrate`"}, status=503)
    worker = request.app.get(QUEUE_WORKER)
    if worker is not None and worker.down_since is not None:
        return web.json_response({"status": "unavailable", "reason": "job worker: reconnecting to the database"}, status=503)
    return web.json_response({"status": "ready"})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics, with the queue depth read now."""
    rt = request.app[RUNTIME]
    try:
        rows = await jobqueue.depth(rt.db.pool)
    except Exception:  # noqa: BLE001 - the other metrics are still worth serving
        rows = []
    QUEUE_DEPTH.clear()
    for entrypoint, status, count in rows:
        QUEUE_DEPTH.labels(entrypoint, status).set(count)
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
