"""promtool's expanding notation for ``input_series``: written compactly, read back.

    values: '0+1x4 _x2 stale 7x3'   →   0 1 2 3 4, two gaps, a staleness marker, 7 7 7 7

promtool reads (Prometheus 2's series-description grammar):

* ``a`` one sample; ``axN`` N+1 samples of ``a``;
* ``a+bxN`` / ``a-bxN`` N+1 samples ``a, a+b, a+b+b, ...``, each the previous
  one plus ``b`` in float64 (repeated addition, not ``a + i*b``);
* ``_`` one interval without a sample; ``_xN`` N of them (N, not N+1);
* ``stale`` a staleness marker: the series ends there, as when a scrape fails
  or the series disappears, instead of lingering for the 5-minute lookback.

:func:`fold` writes a run of equal values as ``axN`` and a run whose steps
are exact in float64 (``a+b == next``, again and again) as ``a+bxN``, but
only where that is shorter than writing the values out; :func:`expand` reads
the notation back, so a round trip returns the very same floats (NaN, ±Inf,
-0 and float steps such as 0.1 included).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

STALE: Literal["stale"] = "stale"
#: One interval of an input series: a sample, a gap (None) or a staleness marker.
Value = float | None | Literal["stale"]

_NUMBER = r"(?:NaN|Inf|\d+(?:\.\d*)?(?:e[+-]?\d+)?)"
_ITEM = re.compile(
    rf"(?P<a>[+-]?{_NUMBER})(?:(?P<b>[+-]{_NUMBER}))?(?:x(?P<n>\d+))?", re.IGNORECASE
)
_GAPS = re.compile(r"_(?:x(?P<n>\d+))?")


def number(value: float) -> str:
    """``value`` as promtool reads it back exactly (``NaN``, ``Inf``, ``-0``, shortest repr)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _same(a: float, b: float) -> bool:
    """Equal as stored: NaN equals NaN, -0 differs from 0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _equal_run(values: Sequence[Value], start: int) -> int:
    first = values[start]
    assert isinstance(first, float)
    end = start + 1
    while end < len(values):
        value = values[end]
        if not isinstance(value, float) or not _same(value, first):
            break
        end += 1
    return end - start


def _linear_run(values: Sequence[Value], start: int) -> tuple[int, float]:
    """How many values from ``start`` promtool's ``a+bxN`` reproduces exactly, and ``b``."""
    first, second = values[start], values[start + 1] if start + 1 < len(values) else None
    if not isinstance(first, float) or not isinstance(second, float):
        return 1, 0.0
    step = second - first
    if not math.isfinite(step) or step == 0 or not _same(first + step, second):
        return 1, 0.0
    current, end = second, start + 2
    while end < len(values):
        value = values[end]
        if not isinstance(value, float) or not _same(current + step, value):
            break
        current += step
        end += 1
    return end - start, step


def _floats(count: int, text: str) -> str:
    return f"{text}x{count - 1}"


def fold(values: Sequence[Value]) -> str:
    """The shortest promtool notation this writer knows for ``values`` (one per interval)."""
    parts: list[str] = []
    index = 0
    while index < len(values):
        value = values[index]
        if value is None:
            end = index
            while end < len(values) and values[end] is None:
                end += 1
            count = end - index
            parts.append("_" if count == 1 else f"_x{count}")
            index = end
            continue
        if value == STALE:
            parts.append(STALE)
            index += 1
            continue
        assert isinstance(value, float)
        same = _equal_run(values, index)
        linear, step = _linear_run(values, index)
        if same >= linear:
            explicit = " ".join([number(value)] * same)
            folded = _floats(same, number(value))
            parts.append(folded if len(folded) < len(explicit) else explicit)
            index += same
            continue
        run = values[index : index + linear]
        explicit = " ".join(number(v) for v in run if isinstance(v, float))
        sign = "" if step < 0 else "+"
        folded = _floats(linear, f"{number(value)}{sign}{number(step)}")
        parts.append(folded if len(folded) < len(explicit) else explicit)
        index += linear
    return " ".join(parts)


def _parse_number(text: str) -> float:
    return float(text.replace("Inf", "inf").replace("NaN", "nan"))


def expand(text: str) -> list[Value]:
    """Read promtool notation back into one value per interval (the inverse of :func:`fold`)."""
    values: list[Value] = []
    for token in text.split():
        if token.lower() == STALE:
            values.append(STALE)
            continue
        gaps = _GAPS.fullmatch(token)
        if gaps is not None:
            values.extend([None] * int(gaps["n"] or 1))
            continue
        item = _ITEM.fullmatch(token)
        if item is None:
            raise ValueError(f"not promtool series notation: {token!r}")
        current = _parse_number(item["a"])
        if item["n"] is None:
            if item["b"] is not None:
                raise ValueError(f"{token!r}: a step needs a count (a+bxN)")
            values.append(current)
            continue
        step = _parse_number(item["b"]) if item["b"] is not None else None
        for _ in range(int(item["n"]) + 1):
            values.append(current)
            if step is not None:
                current += step
    return values


__all__ = ["STALE", "Value", "expand", "fold", "number"]
