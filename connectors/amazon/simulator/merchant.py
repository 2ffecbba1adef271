"""Plays the merchant on the simulator's consent page: open it, tick the box, press Confirm.

Used by ``hub demo`` (and handy in tests): the same form a person submits in a browser.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import aiohttp

from core.hubapi import ConnectorError


class ConsentForm(HTMLParser):
    """The fields of the consent form as a browser submits them (first seller, box unticked)."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.checkbox: tuple[str, str] | None = None
        self.options: list[str] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Collect the form's action, hidden fields, checkbox and the sellers to pick from."""
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("type") == "checkbox":
            self.checkbox = (a["name"], a["value"])
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select:
            self.options.append(a["value"])
            if "selected" in a or len(self.options) == 1:
                self.fields[self._select] = a["value"]

    def handle_endtag(self, tag: str) -> None:
        """Leave a select."""
        if tag == "select":
            self._select = None


async def approve(session: aiohttp.ClientSession, consent_url: str, seller_id: str | None = None) -> str:
    """Open the consent page, tick the box, confirm; return the URL Amazon redirects the browser to."""
    async with session.get(consent_url) as response:
        page = await response.text()
        if response.status != 200:
            raise ConnectorError(f"The consent page answered {response.status}.", detail=page[:200])
    form = ConsentForm()
    form.feed(page)
    if form.checkbox is None:
        raise ConnectorError("The consent page has no consent box.", detail=page[:200])
    data = {**form.fields, form.checkbox[0]: form.checkbox[1], "action": "confirm"}
    if seller_id:
        data["selling_partner_id"] = seller_id
    async with session.post(urljoin(consent_url, form.action), data=data, allow_redirects=False) as response:
        if response.status not in (302, 303):
            raise ConnectorError(f"Confirming consent answered {response.status}.", detail=(await response.text())[:200])
        return response.headers["Location"]
