"""Typed application keys: what the aiohttp app holds, instead of globals."""

from __future__ import annotations

from aiohttp import web

from core.infra.plugins import LoadedConnector
from core.infra.runtime import Runtime
from core.infra.settings import HubSettings
from core.usecases.jobs import QueueWorker

SETTINGS = web.AppKey("settings", HubSettings)
RUNTIME = web.AppKey("runtime", Runtime)
CONNECTORS = web.AppKey("connectors", list[LoadedConnector])
QUEUE_WORKER = web.AppKey("queue_worker", QueueWorker)

#: Request key of the authenticated account id.
ACCOUNT = "hub.account_id"
