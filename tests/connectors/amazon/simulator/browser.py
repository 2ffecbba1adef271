"""A tiny browser for the consent page: open it, read its form, submit it as a person would."""

from __future__ import annotations

import aiohttp

from connectors.amazon.simulator import RunningSimulator
from connectors.amazon.simulator.config import DEFAULT_APPLICATION_ID
from connectors.amazon.simulator.merchant import ConsentForm

REDIRECT = "http://127.0.0.1:8080/amazon/callback"


#: The consent form as a browser reads it (the demo's merchant uses the same parser).
Form = ConsentForm


async def open_consent(session: aiohttp.ClientSession, sim: RunningSimulator, **params: str) -> tuple[int, str]:
    """GET the consent page (our app, state ``st-123``, REDIRECT unless overridden): status and HTML."""
    query = {"application_id": DEFAULT_APPLICATION_ID, "state": "st-123", "redirect_uri": REDIRECT} | params
    async with session.get(sim.url + "/apps/authorize/consent", params=query) as response:
        return response.status, await response.text()


def parse_form(html: str) -> Form:
    """The consent form of a page."""
    form = Form()
    form.feed(html)
    return form


async def submit(
    session: aiohttp.ClientSession, sim: RunningSimulator, form: Form, *, tick: bool, action: str = "confirm",
    **changes: str,
) -> aiohttp.ClientResponse:
    """POST the form with the box ticked or not, pressing Confirm or Cancel; redirects are not followed."""
    data = dict(form.fields) | changes
    if tick:
        assert form.checkbox is not None
        data[form.checkbox[0]] = form.checkbox[1]
    data["action"] = action
    async with session.post(sim.url + form.action, data=data, allow_redirects=False) as response:
        await response.read()
        return response
