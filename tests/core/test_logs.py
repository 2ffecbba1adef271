"""Log records: database retry warnings in one line."""

from __future__ import annotations

import io
import logging

from core.logs import OneLineFaults


def test_a_retry_warning_with_a_traceback_becomes_one_line() -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    logger = logging.getLogger("tests.one-line-faults")
    logger.addHandler(handler)
    logger.addFilter(OneLineFaults())
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError:
            logger.warning("Failed to restore the pool connection floor; %s", "retrying", exc_info=True)
        try:
            raise ValueError("a bug")
        except ValueError:
            logger.error("something broke", exc_info=True)
    finally:
        logger.removeHandler(handler)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == (
        "Failed to restore the pool connection floor; retrying (ConnectionRefusedError: [Errno 111] Connection refused)"
    )
    # Errors keep their traceback: they are bugs to read, not an outage to wait out.
    assert lines[1] == "something broke" and lines[2] == "Traceback (most recent call last):"
