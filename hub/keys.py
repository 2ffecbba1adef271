"""Typed application keys: what the aiohttp app holds, instead of globals."""

from __future__ import annotations

from aiohttp import web

from core.jobs import QueueWorker
from core.plugins import LoadedConnector
from core.runtime import Runtime
from core.settings import HubSettings

SETTINGS = web.AppKey("settings", HubSettings)
RUNTIME = web.AppKey("runtime", Runtime)
CONNECTORS = web.AppKey("connectors", list[LoadedConnector])
QUEUE_WORKER = web.AppKey("queue_worker", QueueWorker)

#: Request key of the authenticated account id.
ACCOUNT = "hub.account_id"
