"""PII masking: what is masked, and what must survive."""

from __future__ import annotations

import pytest

from target_app.pii import REDACTED, mask_text, mask_value


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("mail alice@example.com now", "mail a***@example.com now"),
        ("Authorization: Bearer eyJhbGciOi.J9.abc", "Authorization: Bearer [REDACTED]"),
        ("login with password=hunter2 ok", "login with password=[REDACTED] ok"),
        ("api_key: sk_live_123", "api_key=[REDACTED]"),
        ("card 4111 1111 1111 1111 charged", "card [card ****1111] charged"),
        ("card 4111-1111-1111-1111", "card [card ****1111]"),
    ],
)
def test_mask_text(raw: str, masked: str) -> None:
    assert mask_text(raw) == masked


@pytest.mark.parametrize(
    "kept",
    [
        "document 1234567890123 stored",  # 13 digits that fail the Luhn check: an id
        "trace 4bf92f3577b34da6a3ce929d0e0e4736",
        "no personal data here",
    ],
)
def test_mask_text_keeps_what_is_not_personal(kept: str) -> None:
    assert mask_text(kept) == kept


def test_mask_value_recurses_and_redacts_sensitive_keys() -> None:
    value = {
        "password": "p",
        "headers": {"Authorization": "Bearer x", "accept": "json"},
        "owners": ["bob@example.org", 3],
        "token": "",
    }
    assert mask_value(None, value) == {
        "password": REDACTED,
        "headers": {"Authorization": REDACTED, "accept": "json"},
        "owners": ["b***@example.org", 3],
        "token": "",
    }
