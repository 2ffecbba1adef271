"""bol.com's messages come from core's catalogue, so that Dutch pages show them in Dutch with bol.com's words kept."""

from __future__ import annotations

import pytest

from connectors.bol.const import FAILURE
from connectors.bol.errors import Problem, api_error, token_error
from connectors.bol.mapping import NO_ADDRESS, SKIP_DONE, SKIP_FBB, SKIP_NOT_OWN, SKIP_VVB
from connectors.bol.shipping import SHIPMENT, TRACKING_CHANGE, outcome_of
from core.contract.errors import read_message
from hub.web.i18n import translator

DUTCH = translator("nl")


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "credentials_revoked"),
        (403, "access_forbidden"),
        (406, "format_refused"),
        (400, "request_rejected"),
        (429, "shop_throttled"),
        (503, "shop_not_answering"),
    ],
)
def test_every_error_answer_carries_a_catalogued_message(status: int, code: str) -> None:
    problem = Problem(status, "Bad request", "Order item 6107331383 is cancelled.")

    err = api_error(status, "POST /retailer/shipments", problem)

    assert err.message_code == code and err.params["shop"] == "bol.com"
    assert read_message(err.message) == (code, err.params)
    assert DUTCH(err.message) != err.message, "no Dutch for it"


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (401, b'{"error": "invalid_client", "error_description": "Bad client credentials"}', "client_refused"),
        (403, b'{"error": "access_denied"}', "login_refused"),
        (429, b"", "shop_throttled"),
        (500, b"", "shop_not_answering"),
    ],
)
def test_every_token_refusal_carries_a_catalogued_message(status: int, body: bytes, code: str) -> None:
    err = token_error(status, body)

    assert err.message_code == code
    assert read_message(err.message) == (code, err.params)


@pytest.mark.parametrize("what", [SHIPMENT, TRACKING_CHANGE])
def test_a_failed_process_keeps_bols_words_in_the_dutch_message(what: str) -> None:
    status = {"processStatusId": "1", "status": FAILURE, "errorMessage": "Track and trace is not valid for GLS."}

    outcome = outcome_of("1", status, what)

    assert outcome.state == "failed" and outcome.message is not None
    assert read_message(outcome.message) == (
        f"{what}_failed", {"shop": "bol.com", "outcome": "failure", "reason": "Track and trace is not valid for GLS."}
    )
    assert DUTCH(outcome.message).endswith("niet (failure): Track and trace is not valid for GLS.")


@pytest.mark.parametrize("reason", [SKIP_FBB, SKIP_VVB, SKIP_NOT_OWN, SKIP_DONE, NO_ADDRESS])
def test_every_skip_reason_reads_as_a_catalogued_message(reason: str) -> None:
    found = read_message(reason)

    assert found is not None and found[1]["shop"] == "bol.com", reason
    assert DUTCH(reason) != reason
