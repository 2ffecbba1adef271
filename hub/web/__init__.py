"""The merchant pages: sign-in, Settings > All integrations, Connect and Reconnect (the form each
connector declares) and their result, Integration details, Shipping > Import from shop and
Shipments, in Dutch and English.

Server-rendered with jinja2 (aiohttp-jinja2), one CSS file and one small script for live progress;
no front-end build. ``setup(app)`` adds the templates, the static files, the routes and the
middleware to the hub's app.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from hub.web import connect, connect_form, integrations, shipping, signin
from hub.web.pages import TEMPLATES, pages_middleware

STATIC = Path(__file__).parent / "static"


def setup(app: web.Application) -> None:
    """Add the pages to the hub's app (after the API's middlewares, so theirs wrap these)."""
    aiohttp_jinja2.setup(
        app,
        app_key=TEMPLATES,
        loader=jinja2.PackageLoader("hub.web", "templates"),
        undefined=jinja2.StrictUndefined,
        default_helpers=False,
    )
    app.middlewares.append(pages_middleware)
    for module in (signin, integrations, connect_form, connect, shipping):
        app.add_routes(module.routes)
    app.router.add_static("/static/", STATIC, name="static")
