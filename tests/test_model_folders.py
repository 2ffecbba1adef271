"""Tests that need a folder of shop API descriptions fail without it, and only a marker leaves them out.

The plugin (tests/model_folders.py) is run in a pytest of its own on a few sample tests; bol.com's
helper (tests/bol_models.py) is checked against bol.com's own descriptions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bol_models import (
    RETAILER_API,
    SHARED_API,
    ModelValidationError,
    validate_request_body,
    validate_response,
)

pytest_plugins = ["pytester"]

SAMPLES = {
    "conftest": """
        import pytest
        from tests.bol_models import load_model

        @pytest.fixture
        def description():
            return load_model("retailer-v10.json")
    """,
    "test_reads": """
        from tests.bol_models import RETAILER_API, load_model

        def test_reads_the_description():
            assert load_model(RETAILER_API)["paths"]

        def test_reads_nothing_but_sits_in_a_module_that_could():
            pass
    """,
    "test_fixture": """
        def test_reads_through_a_fixture(description):
            assert description["paths"]

        def test_has_nothing_to_do_with_descriptions():
            pass
    """,
}

PROCESS_STATUS = {
    "processStatusId": "1234567",
    "entityId": None,
    "eventType": "CREATE_SHIPMENT",
    "description": "Create shipment for order item 987654321.",
    "status": "PENDING",
    "createTimestamp": "2026-03-02T10:00:00+01:00",
    "links": [],
}


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\nfilterwarnings = error\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(SAMPLES["conftest"])
    pytester.makepyfile(test_reads=SAMPLES["test_reads"], test_fixture=SAMPLES["test_fixture"])
    return pytester.runpytest_inprocess("-p", "tests.model_folders", *args)


def test_tests_that_read_a_missing_folder_fail_naming_the_variable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HUB_BOL_MODELS", str(tmp_path / "nowhere"))
    result = run(pytester)
    # The fixture's failure is an error at setup; neither is a skip.
    result.assert_outcomes(failed=1, errors=1, passed=2)
    result.stdout.fnmatch_lines(["*nowhere: set HUB_BOL_MODELS to the folder*"] * 2)


def test_the_marker_leaves_the_users_of_a_folder_out_on_purpose(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HUB_BOL_MODELS", str(tmp_path / "nowhere"))
    result = run(pytester, "-m", "not bol_models")
    result.assert_outcomes(passed=1, deselected=3)


def test_a_process_status_bol_com_describes_passes() -> None:
    validate_response(SHARED_API, "get-process-status", 200, PROCESS_STATUS, strict=True)
    validate_response(RETAILER_API, "create-shipment", 202, PROCESS_STATUS, strict=True)


def test_answers_bol_com_does_not_describe_are_listed() -> None:
    wrong = {**PROCESS_STATUS, "status": "DONE", "createTimestamp": "yesterday", "extra": 1}
    del wrong["description"]
    with pytest.raises(ModelValidationError) as raised:
        validate_response(SHARED_API, "get-process-status", 200, wrong, strict=True)
    assert len(raised.value.problems) == 4, raised.value.problems
    with pytest.raises(ModelValidationError, match="status 201 is not declared"):
        validate_response(RETAILER_API, "create-shipment", 201, PROCESS_STATUS)


def test_a_shipment_request_is_checked_against_its_schema() -> None:
    validate_request_body(RETAILER_API, "create-shipment", {"orderItems": [{"orderItemId": "6107434013"}]})
    with pytest.raises(ModelValidationError, match="orderItems"):
        validate_request_body(RETAILER_API, "create-shipment", {"orderItems": "6107434013"})
