"""Recipient search tokens: keyed hashes that must stay what they were, or stored orders are not found."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from core.contract.models import Address
from core.storage.orders import recipient_tokens, search_words


@pytest.mark.parametrize("key", [b"k" * 16, bytes(range(32)), b"x" * 64, b"long key " * 10])
def test_tokens_are_hmac_sha256_of_each_word_under_the_key(key: bytes) -> None:
    address = Address(name="Zoë de Vries-Öztürk", company="Bakkerij B.V.", city="'s-Hertogenbosch", postal_code="5211 AB")
    words = {*search_words("Zoë de Vries-Öztürk"), *search_words("Bakkerij B.V."), *search_words("'s-Hertogenbosch"),
             "5211", "ab", "5211ab"}
    expected = sorted({hmac.new(key, word.encode(), hashlib.sha256).hexdigest()[:24] for word in words})
    assert recipient_tokens(key, address) == expected


def test_search_words_fold_accents_and_case_for_ascii_and_other_text_alike() -> None:
    assert search_words("ZOË de Vries") == ["zoe", "de", "vries"]
    assert search_words("Jan  DE vries, 1234AB") == ["jan", "de", "vries", "1234ab"]
    assert search_words("Straße ǅ") == ["strasse", "dz"]
