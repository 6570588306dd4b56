"""Schema to example value: a minimal value valid for a JSON Schema / OpenAPI schema."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from scenarios.scaffold.openapi import resolve

UNSET: Any = object()
"""What :func:`offered` returns for a schema that offers no value."""

_STRING_FORMATS = {
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "/example",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "byte": "ZXhhbXBsZQ==",
    "binary": "example",
    "password": "example-password",
    "duration": "PT1S",
}
_STRING_GUESSES = (
    "example",
    "user@example.com",
    "2024-01-01",
    "2024-01-01T00:00:00Z",
    "00000000-0000-4000-8000-000000000000",
    "https://example.com/",
    "abc",
    "ABC",
    "Example",
    "a1",
    "1",
    "a",
    "A",
)


def jsonable(value: Any) -> Any:
    """``value`` as JSON data (a YAML document may hold dates)."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def offered(schema: Mapping[str, Any]) -> Any:
    """A value the schema itself offers: example, examples, default, const, enum (or UNSET)."""
    if schema.get("example") is not None:
        return schema["example"]
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return next((v for v in enum if v is not None), enum[0])
    return UNSET


def schema_type(schema: Mapping[str, Any]) -> str | None:
    """The JSON type the schema describes (its first non-null one), or None."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return None


def example_value(schema: Any, doc: Mapping[str, Any], name: str = "", depth: int = 0) -> Any:
    """A minimal value valid for ``schema`` (its own example or default when it has one)."""
    if depth > 12 or not isinstance(schema, Mapping):
        return None
    given = offered(schema)
    if given is not UNSET:
        return jsonable(given)
    schema = resolve(schema, doc)
    if not isinstance(schema, Mapping):
        return None
    given = offered(schema)
    if given is not UNSET:
        return jsonable(given)
    if isinstance(schema.get("allOf"), list):
        return example_value(_merge_all_of(schema, doc), doc, name, depth + 1)
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            resolved = [resolve(o, doc) for o in options]
            usable = [o for o in resolved if isinstance(o, Mapping) and schema_type(o) != "null"]
            return example_value((usable or resolved)[0], doc, name, depth + 1)
    kind = schema_type(schema)
    if kind == "object":
        properties = schema.get("properties") or {}
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        return {
            key: example_value(properties.get(key, {}), doc, key, depth + 1) for key in required
        }
    if kind == "array":
        count = int(schema.get("minItems") or 0)
        return [example_value(schema.get("items", {}), doc, name, depth + 1)] * count
    if kind == "integer":
        return _number(schema, integer=True)
    if kind == "number":
        return _number(schema, integer=False)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, name)


def _merge_all_of(schema: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    properties: dict[str, Any] = dict(merged.get("properties") or {})
    required: list[str] = list(merged.get("required") or [])
    for part in schema.get("allOf") or []:
        part = resolve(part, doc)
        if not isinstance(part, Mapping):
            continue
        if isinstance(part.get("allOf"), list):
            part = _merge_all_of(part, doc)
        properties.update(part.get("properties") or {})
        required += [r for r in part.get("required") or [] if r not in required]
        for key, value in part.items():
            merged.setdefault(key, value)
    merged["properties"], merged["required"] = properties, required
    if properties or required:
        merged["type"] = "object"
    return merged


def _number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    low = _bound(schema.get("minimum"))
    high = _bound(schema.get("maximum"))
    low_open = schema.get("exclusiveMinimum") is True  # OpenAPI 3.0: a flag on minimum
    high_open = schema.get("exclusiveMaximum") is True
    exclusive_low = _bound(schema.get("exclusiveMinimum"))  # OpenAPI 3.1 / JSON Schema: the bound
    if exclusive_low is not None:
        low, low_open = exclusive_low, True
    exclusive_high = _bound(schema.get("exclusiveMaximum"))
    if exclusive_high is not None:
        high, high_open = exclusive_high, True
    step = _bound(schema.get("multipleOf"))
    if integer:
        value = 1
        if low is not None:
            value = max(value, math.floor(low) + 1 if low_open else math.ceil(low))
        top = None
        if high is not None:
            top = math.ceil(high) - 1 if high_open else math.floor(high)
            value = min(value, top)
        if step is not None and step.is_integer() and step > 0 and value % int(step):
            value += int(step) - value % int(step)
            if top is not None and value > top:
                value -= int(step)
        return value
    number = 1.0
    if low is not None and (number < low or (low_open and number <= low)):
        number = low + 1 if low_open else low
    if high is not None and (number > high or (high_open and number >= high)):
        number = (low + high) / 2 if low is not None else (high - 1 if high_open else high)
    if step is not None and step > 0 and not (number / step).is_integer():
        number = math.ceil(number / step) * step
    return int(number) if number.is_integer() else number


def _bound(value: object) -> float | None:
    """``value`` as a float when it is a number (not a bool), else None."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _string(schema: Mapping[str, Any], name: str) -> str:
    shortest = int(schema.get("minLength") or 0)
    longest = schema.get("maxLength")
    pattern = schema.get("pattern")
    candidates: list[str] = []
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _STRING_FORMATS:
        candidates.append(_STRING_FORMATS[fmt])
    lowered = name.lower()
    if "email" in lowered or (isinstance(pattern, str) and "@" in pattern):
        candidates.append(_STRING_FORMATS["email"])
    if "url" in lowered or "uri" in lowered:
        candidates.append(_STRING_FORMATS["uri"])
    candidates += _STRING_GUESSES
    matcher: re.Pattern[str] | None = None
    if isinstance(pattern, str):
        with contextlib.suppress(re.error):
            matcher = re.compile(pattern)
    for candidate in dict.fromkeys(candidates):
        if matcher is None:
            if fmt in _STRING_FORMATS and candidate != _STRING_FORMATS[fmt]:
                continue
            return _fit(candidate, shortest, longest)
        if (
            matcher.search(candidate)
            and len(candidate) >= shortest
            and (not isinstance(longest, int) or len(candidate) <= longest)
        ):
            return candidate
    return _fit("example", shortest, longest)


def _fit(text: str, shortest: int, longest: object) -> str:
    if len(text) < shortest:
        text += "x" * (shortest - len(text))
    if isinstance(longest, int) and len(text) > longest:
        text = text[: max(longest, 0)]
    return text
