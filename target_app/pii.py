"""Masking of personal data in log events and error reports."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

EMAIL = re.compile(
    r"(?P<first>[A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@(?P<domain>[A-Za-z0-9.-]+\.[A-Za-z]{2,})"
)
BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
PASSWORD_IN_TEXT = re.compile(r"(?i)\b(password|passwd|pwd|secret|api[_-]?key)\s*[=:]\s*\S+")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
SENSITIVE_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "apikey",
        "authorization",
        "cookie",
        "set-cookie",
        "x-chaos-token",
        "card_number",
    }
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return f"[card ****{digits[-4:]}]"
    return match.group(0)


def mask_email(email: str) -> str:
    """``alice@example.com`` → ``a***@example.com``."""
    return EMAIL.sub(lambda m: f"{m.group('first')}***@{m.group('domain')}", email)


def mask_text(text: str) -> str:
    """Mask emails, bearer tokens, inline passwords and card-like numbers in free text."""
    text = BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = PASSWORD_IN_TEXT.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = CARD.sub(_mask_card, text)
    return mask_email(text)


def mask_value(key: str | None, value: Any) -> Any:
    """Mask one value, recursing into containers; sensitive keys are redacted whole."""
    if key is not None and key.lower() in SENSITIVE_KEYS and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(None, item) for item in value]
    return value
