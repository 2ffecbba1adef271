"""The connector on hub API v2: its state per process, consent only, its manifest, and the one door into core."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import aiohttp
import pytest
from aioresponses import aioresponses
from pydantic import SecretStr

import connectors.amazon
from connectors.amazon.client import ClientState
from connectors.amazon.const import OFFERED_MARKETPLACES, find_marketplace
from connectors.amazon.settings import AmazonSettings
from core.contract.errors import ConnectorError, InvalidInput
from core.contract.manifest import read_manifest
from core.contract.models import AuthCredentials
from core.hubapi import ConnectorSetup
from core.infra.coordination import MemoryCoordination
from core.infra.shopclient import SystemClock
from tests.connectors.amazon.conftest import MakeContext

PACKAGE = Path(connectors.amazon.__file__).parent
CORE_OR_HUB_IMPORT = re.compile(r"^\s*(?:from|import)\s+((?:core|hub)(?:\.\w+)*)", re.M)


async def test_each_runtime_opens_its_own_state_on_the_system_clock(http: aiohttp.ClientSession) -> None:
    setup = ConnectorSetup("amazon", AmazonSettings(), http, logging.getLogger("connectors.amazon"))

    first, second = await connectors.amazon.open_connector(setup), await connectors.amazon.open_connector(setup)

    assert isinstance(first, ClientState) and isinstance(second, ClientState)
    assert first is not second and first.tokens is not second.tokens and first.pacer is not second.pacer
    assert isinstance(first.clock, SystemClock)


async def test_tokens_and_buckets_live_in_the_coordination_every_process_shares(http: aiohttp.ClientSession) -> None:
    shared = MemoryCoordination()
    setup = ConnectorSetup("amazon", AmazonSettings(), http, logging.getLogger("connectors.amazon"), coordination=shared)

    state = await connectors.amazon.open_connector(setup)

    assert isinstance(state, ClientState) and state.coordination is shared
    assert state.store is shared and state.pacer.coordination is shared
    alone = await connectors.amazon.open_connector(dataclasses.replace(setup, settings=AmazonSettings(shared_pacing=False)))
    assert isinstance(alone, ClientState) and alone.coordination is None and alone.pacer.coordination is None
    assert isinstance(alone.store, MemoryCoordination) and alone.store is not shared


async def test_a_hook_without_the_connectors_state_fails_before_calling_amazon(
    mocked: aioresponses, make_context: MakeContext
) -> None:
    context = dataclasses.replace(make_context(), state=None)

    with pytest.raises(ConnectorError, match="not set up in this process"):
        await connectors.amazon.check_connection(context)
    assert mocked.requests == {}


async def test_pasted_credentials_are_refused_amazon_connects_by_consent(
    mocked: aioresponses, make_context: MakeContext
) -> None:
    step = AuthCredentials(fields={"refresh_token": SecretStr("Atzr|pasted")})

    with pytest.raises(InvalidInput, match="consent page"):
        await connectors.amazon.authorize(make_context(credentials={}), step)
    assert mocked.requests == {}


def test_the_connect_form_offers_known_marketplaces_by_consent() -> None:
    manifest = read_manifest(connectors.amazon)

    assert manifest.hub_api == 2 and manifest.connect.style == "consent"
    (field,) = manifest.connect.fields
    assert (field.name, field.label.en, field.label.nl, field.secret) == ("marketplace", "Marketplace", "Marktplaats", False)
    assert field.choices == ["NL", "DE", "FR", "IT", "ES", "UK", "BE", "PL", "SE", "IE"]
    assert tuple(field.choices) == OFFERED_MARKETPLACES, "what a connect grants is what core accepts in settings"
    assert all(find_marketplace(code) is not None for code in field.choices)
    assert manifest.marketplaces == []


def test_the_connector_imports_only_the_hub_api_facade() -> None:
    found = {
        (str(path.relative_to(PACKAGE)), module)
        for path in PACKAGE.rglob("*.py")
        for module in CORE_OR_HUB_IMPORT.findall(path.read_text(encoding="utf-8"))
    }
    assert found, "the pattern finds the connector's imports of core"
    assert {entry for entry in found if entry[1] != "core.hubapi"} == set()
