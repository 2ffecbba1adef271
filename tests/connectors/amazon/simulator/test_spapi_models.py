"""The shared model helper: it must catch what is wrong, pass what is right and fail without models."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from tests.connectors.amazon import spapi_models
from tests.connectors.amazon.spapi_models import (
    ModelValidationError,
    operation,
    sandbox_cases,
    validate_request,
    validate_response,
)

ORDERS = "orders_2026-01-01.json"
V0 = "ordersV0.json"
GOOD_CONFIRM = {
    "marketplaceId": "A1PA6795UKMFR9",
    "packageDetail": {
        "packageReferenceId": "1", "carrierCode": "GLS", "trackingNumber": "123",
        "shipDate": "2026-03-02T10:00:00Z", "orderItems": [{"orderItemId": "1", "quantity": 1}],
    },
}


def problems(call, *args, **kwargs) -> list[str]:
    """The problems a validation call reports (it must report some)."""
    with pytest.raises(ModelValidationError) as caught:
        call(*args, **kwargs)
    return caught.value.problems


def test_operation_knows_method_path_and_parameters():
    op = operation(ORDERS, "searchOrders")
    assert (op.method, op.path) == ("GET", "/orders/2026-01-01/orders")
    assert op.parameter("maxResultsPerPage")["type"] == "integer"


def test_good_search_request_passes():
    validate_request(ORDERS, "searchOrders", {
        "lastUpdatedAfter": "2026-03-01T00:00:00Z", "fulfillmentStatuses": "UNSHIPPED,PARTIALLY_SHIPPED",
        "fulfilledBy": "MERCHANT", "marketplaceIds": "A1PA6795UKMFR9", "maxResultsPerPage": 100,
        "includedData": "RECIPIENT,FULFILLMENT,PACKAGES",
    })


def test_request_problems_are_all_listed():
    found = problems(validate_request, ORDERS, "searchOrders", {
        "lastUpdatedAfter": "2026-03-01", "fulfillmentStatuses": "Unshipped", "maxResultsPerPage": "ten",
        "marketplaceIds": ",".join(["X"] * 51), "nextToken": "abc",
    })
    text = "\n".join(found)
    assert "lastUpdatedAfter" in text and "RFC 3339" in text
    assert "'Unshipped' is not one of" in text
    assert "'ten' is not an integer" in text
    assert "more than maxItems 50" in text
    assert "nextToken: not declared" in text


def test_repeated_csv_array_is_a_request_problem():
    query = MultiDict([("lastUpdatedAfter", "2026-03-01T00:00:00Z"), ("fulfilledBy", "MERCHANT"),
                       ("fulfilledBy", "AMAZON")])
    assert any("comma-separated" in p for p in problems(validate_request, ORDERS, "searchOrders", query))


def test_missing_required_path_parameter_and_body():
    found = problems(validate_request, V0, "confirmShipment", {}, {}, None)
    assert "path parameter orderId: required but missing" in found
    assert "body: required but missing" in found


def test_confirm_body_is_checked_against_its_schema():
    body = {"marketplaceId": "A1PA6795UKMFR9", "packageDetail": {"packageReferenceId": 1, "shipDate": "02/21/2022"}}
    text = "\n".join(problems(validate_request, V0, "confirmShipment", {}, {"orderId": "1"}, body))
    assert "packageReferenceId: 1 is not of type 'string'" in text
    assert "'02/21/2022' is not a 'date-time'" in text
    assert "'carrierCode' is a required property" in text


def test_good_confirm_request_passes():
    validate_request(V0, "confirmShipment", {}, {"orderId": "028-1234567-1234567"}, GOOD_CONFIRM)


def test_response_of_undeclared_status_fails():
    assert "not declared" in problems(validate_response, ORDERS, "getOrder", 418, {})[0]


def test_response_missing_required_property_fails():
    assert any("'orders' is a required property" in p for p in problems(validate_response, ORDERS, "searchOrders", 200, {}))


def test_204_must_have_no_body():
    validate_response(V0, "confirmShipment", 204, None)
    problems(validate_response, V0, "confirmShipment", 204, {"ok": True})


def test_strict_mode_rejects_properties_the_model_does_not_define():
    body = {"order": {"orderId": "1", "createdTime": "2026-03-02T10:00:00Z", "lastUpdatedTime": "2026-03-02T10:00:00Z",
                      "salesChannel": {"channelName": "AMAZON"}, "orderItems": [], "trackingNumbers": []}}
    validate_response(ORDERS, "getOrder", 200, body)
    assert any("trackingNumbers" in p for p in problems(validate_response, ORDERS, "getOrder", 200, body, strict=True))


def test_date_time_format_is_checked_in_responses():
    body = {"orders": [], "lastUpdatedBefore": "yesterday"}
    assert any("date-time" in p for p in problems(validate_response, ORDERS, "searchOrders", 200, body))


def test_sandbox_cases_are_read_from_the_model():
    cases = sandbox_cases(V0, "confirmShipment")
    assert [c.status for c in cases] == [204, 400]
    assert cases[0].parameters["orderId"] == "902-1106328-1059050"


def test_missing_models_folder_fails_naming_the_folder_and_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(spapi_models.MODELS_ENV, str(tmp_path / "nowhere"))
    assert not spapi_models.models_available()
    with pytest.raises(pytest.fail.Exception, match="nowhere.*HUB_SPAPI_MODELS"):
        validate_response(ORDERS, "getOrder", 200, {})
