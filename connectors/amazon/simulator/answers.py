"""How the simulator encodes its JSON answers: as Amazon does (UTF-8, not ASCII-escaped, compact)."""

from __future__ import annotations

import functools
import json
from typing import Any

from aiohttp import web

dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def json_response(body: Any, status: int = 200) -> web.Response:
    """A JSON answer encoded as Amazon does (UTF-8, not ASCII-escaped)."""
    return web.json_response(body, status=status, dumps=dumps)
