"""Reading a catalogued message back (core.contract.errors.read_message) takes time linear in the text.

The pages read every stored message back to translate it, on the event loop: a text that made the
reading backtrack would hold every request for seconds. A regular expression holds the GIL while
it runs, so a thread cannot be given up on: the reading runs in a child process, killed at a
deadline only a backtracking expression misses (a linear one takes milliseconds).
"""

from __future__ import annotations

import subprocess
import sys

from core.contract.errors import READ_LIMIT, message_text, read_message

#: ``units_left``'s literals in a row, with no final ".": an expression of lazy parameters that may
#: grow tries every way to split such a text before it gives up (34 of them: tens of seconds).
FRAGMENT = (
    "bol.com has 1 unit(s) of item 2 left to ship (3 shipped, 4 cancelled there), not 5: "
    "it was shipped or cancelled in "
)
REASON = FRAGMENT * 34
DEADLINE = 10.0


def read_in_child(text: str) -> str:
    """``read_message(text)`` in a child process, killed after ``DEADLINE`` seconds: what it returned, as repr."""
    code = "import sys; from core.contract.errors import read_message; print(repr(read_message(sys.stdin.read())))"
    done = subprocess.run(
        [sys.executable, "-c", code], input=text, capture_output=True, text=True, timeout=DEADLINE, check=True
    )
    return done.stdout.strip()


def test_a_shops_long_reason_of_repeated_template_fragments_reads_back_at_once() -> None:
    params = {"shop": "bol.com", "reason": REASON}
    text = message_text("request_rejected", params)
    assert len(text) <= READ_LIMIT

    assert read_in_child(text) == repr(("request_rejected", params))


def test_the_fragments_alone_are_no_catalogued_message() -> None:
    assert read_in_child(REASON) == "None"


def test_a_text_beyond_the_limit_is_no_catalogued_message() -> None:
    params = {"shop": "bol.com", "reason": "x" * READ_LIMIT}

    assert read_message(message_text("request_rejected", params)) is None
    assert read_message(message_text("request_rejected", {"shop": "bol.com", "reason": "x" * 100})) is not None


def test_a_last_name_may_hold_the_literal_that_closes_the_template() -> None:
    params = {"shop": "bol.com", "item": "6107331383", "place": "the bol.com Seller Dashboard"}

    assert read_message(message_text("cancel_requested", params)) == ("cancel_requested", params)
