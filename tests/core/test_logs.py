"""Log records: database faults in one line, other errors with their traceback."""

from __future__ import annotations

import io
import logging

import asyncpg

from core.infra.logs import OneLineFaults


def logged(logger_name: str, err: BaseException) -> list[str]:
    """The lines one warning with ``err`` attached leaves, through a handler with the filter."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(OneLineFaults())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        try:
            raise err
        except type(err):
            logger.warning("Failed to restore the pool connection floor; %s", "retrying", exc_info=True)
    finally:
        logger.removeHandler(handler)
    return buffer.getvalue().splitlines()


def test_the_pools_retry_warning_becomes_one_line() -> None:
    lines = logged("asyncpg.pool.test", ConnectionRefusedError(111, "Connection refused"))
    assert lines == [
        "Failed to restore the pool connection floor; retrying (ConnectionRefusedError: [Errno 111] Connection refused)"
    ]


def test_a_database_error_from_any_logger_becomes_one_line() -> None:
    lines = logged("core.somewhere", asyncpg.CannotConnectNowError("the database system is starting up"))
    assert lines == ["Failed to restore the pool connection floor; retrying (CannotConnectNowError: the database system is starting up)"]


def test_other_errors_keep_their_traceback() -> None:
    # A network error outside the database, and a bug: both are worth their traceback.
    for name, err in (("connectors.amazon", ConnectionResetError(104, "reset")), ("core.usecases.jobs", ValueError("a bug"))):
        lines = logged(name, err)
        assert lines[0] == "Failed to restore the pool connection floor; retrying" and lines[1] == "Traceback (most recent call last):"
