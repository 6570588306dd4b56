"""Values written as text the way Jaeger (a Go program) writes them.

Two forms matter to a Jaeger tag search, which compares strings:

* :func:`float_text` is ``strconv.FormatFloat(v, 'g', 10, 64)``, the text of a
  float64 tag (jaeger-idl ``model/v1/keyvalue.go``, ``KeyValue.AsString``);
* :func:`json_text` is Go's ``encoding/json`` output with HTML escaping off, the
  text an OTLP array or map attribute becomes (pdata ``Value.AsString``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TypeAlias

JsonValue: TypeAlias = (
    bool | int | float | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None
)

TAG_FLOAT_DIGITS = 10
"""Significant digits of a float64 tag's text."""

# encoding/json switches from plain to exponent notation outside [1e-6, 1e21).
_JSON_PLAIN_MIN = 1e-6
_JSON_PLAIN_LIMIT = 1e21
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_LINE_SEPARATORS = ("\u2028", "\u2029")  # escaped by Go for JavaScript's sake
_SURROGATES = range(0xD800, 0xE000)  # not valid UTF-8: Go writes \ufffd instead


def float_text(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', 10, 64)``: ``0.1``, ``1e+21``, ``1.23456789e+11``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    # Python's "g" applies the same rule as Go's: exponent form when the exponent is
    # below -4 or at least the precision, trailing zeros dropped, two exponent digits.
    return format(value, f".{TAG_FLOAT_DIGITS}g")


def json_number(value: float) -> str:
    """A float64 as ``encoding/json`` writes it (shortest digits, ES6 number notation).

    Raises ValueError for NaN and infinities, which Go's encoder refuses.
    """
    if not math.isfinite(value):
        raise ValueError(f"json: unsupported value: {value}")
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    # repr gives the shortest digits that read back as the same float64, as Go's does.
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exponent)  # digits[:point] is the integer part
    if _JSON_PLAIN_MIN <= abs(value) < _JSON_PLAIN_LIMIT:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return sign + digits + "0" * (point - len(digits))
        return f"{sign}{digits[:point]}.{digits[point:]}"
    # Exponent form: below 1e-6 the exponent is at most -7, from 1e21 on at least 21, so
    # Go's "at least two exponent digits, but e-7 not e-07" is the plain exponent.
    fraction = f".{digits[1:]}" if len(digits) > 1 else ""
    power = point - 1
    return f"{sign}{digits[0]}{fraction}e{'-' if power < 0 else '+'}{abs(power)}"


def json_string(text: str) -> str:
    """A JSON string literal as ``encoding/json`` writes it with HTML escaping off.

    Non-ASCII characters are kept; quotes, backslashes and control characters are
    escaped (``\\b \\f \\n \\r \\t`` short, others ``\\u00XX``), and so are U+2028 and
    U+2029. Lone surrogates, which are not UTF-8, become ``\\ufffd``.
    """
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif code < 0x20 or char in _LINE_SEPARATORS:
            out.append(f"\\u{code:04x}")
        elif code in _SURROGATES:
            out.append("\\ufffd")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def json_text(value: JsonValue) -> str:
    """``value`` as Go's ``encoding/json`` writes it with HTML escaping off, compact.

    Map keys are sorted (code point order, which is Go's byte order of UTF-8) and floats take
    :func:`json_number`'s form, so a NaN or infinity anywhere raises ValueError.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, str):
        return json_string(value)
    if isinstance(value, Mapping):
        keys = sorted(value)
        return "{" + ",".join(f"{json_string(k)}:{json_text(value[k])}" for k in keys) + "}"
    return "[" + ",".join(json_text(item) for item in value) + "]"


__all__ = ["TAG_FLOAT_DIGITS", "JsonValue", "float_text", "json_number", "json_string", "json_text"]
