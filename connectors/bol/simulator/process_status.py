"""The Shared API's process statuses: by id, by entity and event type, and in bulk.

``GET /shared/process-status/{id}`` answers the ``ProcessStatus`` or 404 once it is unknown or past
retention (about 48 hours after it settled). ``GET /shared/process-status?entity-id=&event-type=``
(both required, ``page`` of 50, newest first) finds the statuses of an entity: for
``CREATE_SHIPMENT`` every order item of the shipment request is an entity (``entityId`` shows the
first), for ``CHANGE_TRANSPORT`` the transport id, for subscriptions the subscription id.
``POST /shared/process-status`` with ``{"processStatusQueries": [{"processStatusId": ...}]}`` (1 to
1000 ids) answers the known ones in the order asked, each once; unknown and expired ids are left
out. The Shared API also speaks ``application/vnd.advertiser.v10+json``.

A status links to itself (``links: [{"rel": "self", "href": ...}]``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .clock import bol_time
from .gateway import Call, operation, read_json
from .problems import bad_request, enum_reason, json_answer, not_found
from .query import page_number
from .records import EVENT_TYPES, ProcessStatus
from .state import STATE

PAGE_SIZE = 50
MAX_BULK = 1000


@operation("get-process-status", shared=True)
async def get_process_status(request: web.Request, call: Call) -> web.Response:
    """One process status."""
    process_status_id = request.match_info["process_status_id"]
    try:
        status = request.app[STATE].process_status(process_status_id, call.retailer_id)
    except KeyError:
        raise not_found(f"Process status with id {process_status_id} could not be found.") from None
    return json_answer(render_process_status(status, call.base_url), media_type=call.media_type)


@operation("get-process-status-entity-id", shared=True)
async def get_process_status_entity_id(request: web.Request, call: Call) -> web.Response:
    """The process statuses of an entity and event type, newest first."""
    query = request.query
    entity_id = query.get("entity-id", "")
    event_type = query.get("event-type", "")
    problems = []
    if not entity_id:
        problems.append(("entity-id", "Required request parameter 'entity-id' is not present."))
    if not event_type:
        problems.append(("event-type", "Required request parameter 'event-type' is not present."))
    elif event_type not in EVENT_TYPES:
        problems.append(("event-type", enum_reason(event_type, EVENT_TYPES)))
    if problems:
        raise bad_request(*problems)
    page = page_number(query)
    found = request.app[STATE].process_statuses_of(call.retailer_id, entity_id, event_type)
    chunk = found[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    return json_answer({"processStatuses": [render_process_status(s, call.base_url) for s in chunk]},
                       media_type=call.media_type)


@operation("get-process-status-bulk", body=True, shared=True)
async def get_process_status_bulk(request: web.Request, call: Call) -> web.Response:
    """Many process statuses by id; unknown or expired ones are left out."""
    body = await read_json(request)
    queries = body.get("processStatusQueries") if isinstance(body, dict) else None
    if not isinstance(queries, list):
        raise bad_request(("processStatusQueries", "must not be null"))
    if not 1 <= len(queries) <= MAX_BULK:
        raise bad_request(("processStatusQueries", f"size must be between 1 and {MAX_BULK}"))
    ids = []
    for index, query in enumerate(queries):
        value = query.get("processStatusId") if isinstance(query, dict) else None
        if not isinstance(value, str) or not value:
            raise bad_request((f"processStatusQueries[{index}].processStatusId", "must not be blank"))
        ids.append(value)
    state = request.app[STATE]
    found = []
    for process_status_id in dict.fromkeys(ids):
        try:
            found.append(state.process_status(process_status_id, call.retailer_id))
        except KeyError:
            continue
    return json_answer({"processStatuses": [render_process_status(s, call.base_url) for s in found]},
                       media_type=call.media_type)


def render_process_status(status: ProcessStatus, base_url: str) -> dict[str, Any]:
    """A ``ProcessStatus`` as bol.com sends it."""
    body: dict[str, Any] = {
        "processStatusId": status.process_status_id,
        "entityId": status.entity_id,
        "eventType": status.event_type,
        "description": status.description,
        "status": status.status,
    }
    if status.error_message is not None:
        body["errorMessage"] = status.error_message
    body["createTimestamp"] = bol_time(status.created)
    body["links"] = [{"rel": "self", "href": f"{base_url}/shared/process-status/{status.process_status_id}"}]
    return body
