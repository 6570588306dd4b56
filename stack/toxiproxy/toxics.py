"""Toxic definitions: the seven Toxiproxy toxics, their attributes and JSON wire form.

Decoding follows Toxiproxy's ``ToxicCollection.AddToxicJson`` step by step so that
bad input gets the same status and message prefix as the Go server: body → stream →
default name → type → duplicate name → attributes. Attribute values are decoded
like Go's ``encoding/json`` into ``int64``/``int`` fields: integers only, ``null``
keeps the default, unknown keys are ignored.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from stack.toxiproxy.exceptions import (
    ERR_BAD_REQUEST_BODY,
    ERR_INVALID_STREAM,
    ERR_INVALID_TOXIC_TYPE,
    ERR_TOXIC_ALREADY_EXISTS,
    ApiError,
)


class Direction(enum.IntEnum):
    """Link direction; the order is Toxiproxy's (upstream toxics are listed first)."""

    UPSTREAM = 0  # client -> server
    DOWNSTREAM = 1  # server -> client

    @classmethod
    def parse(cls, value: str) -> Direction:
        try:
            return cls[value.upper()]
        except KeyError:
            raise ERR_INVALID_STREAM from None


@dataclass(frozen=True)
class Latency:
    """Delay every chunk by ``latency`` ± ``jitter`` milliseconds."""

    go_name: ClassVar[str] = "LatencyToxic"
    latency: int = 0
    jitter: int = 0


@dataclass(frozen=True)
class Bandwidth:
    """Limit the link to ``rate`` KB/s (1 KB = 1000 bytes, as in Toxiproxy)."""

    go_name: ClassVar[str] = "BandwidthToxic"
    rate: int = 0


@dataclass(frozen=True)
class SlowClose:
    """Delay the close of the link by ``delay`` milliseconds."""

    go_name: ClassVar[str] = "SlowCloseToxic"
    delay: int = 0


@dataclass(frozen=True)
class Timeout:
    """Drop all data; close after ``timeout`` ms without data (0 = never close)."""

    go_name: ClassVar[str] = "TimeoutToxic"
    timeout: int = 0


@dataclass(frozen=True)
class ResetPeer:
    """On the first data, wait ``timeout`` ms then reset the connection (RST)."""

    go_name: ClassVar[str] = "ResetToxic"
    timeout: int = 0


@dataclass(frozen=True)
class Slicer:
    """Slice chunks to ``average_size`` ± ``size_variation`` bytes, ``delay`` µs apart."""

    go_name: ClassVar[str] = "SlicerToxic"
    go_int: ClassVar[str] = "int"
    average_size: int = 0
    size_variation: int = 0
    delay: int = 0


@dataclass(frozen=True)
class LimitData:
    """Close the connection once ``bytes`` bytes went through."""

    go_name: ClassVar[str] = "LimitDataToxic"
    bytes: int = 0


Attributes = Latency | Bandwidth | SlowClose | Timeout | ResetPeer | Slicer | LimitData

TOXIC_TYPES: dict[str, type[Attributes]] = {
    "latency": Latency,
    "bandwidth": Bandwidth,
    "slow_close": SlowClose,
    "timeout": Timeout,
    "reset_peer": ResetPeer,
    "slicer": Slicer,
    "limit_data": LimitData,
}


@dataclass(frozen=True)
class Toxic:
    """One toxic as the API shows it."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: Attributes

    @property
    def direction(self) -> Direction:
        return Direction.parse(self.stream)

    def to_json(self) -> dict[str, object]:
        """Wire form, field order of Go's ``ToxicWrapper``."""
        toxicity: float | int = self.toxicity
        if float(toxicity).is_integer():
            toxicity = int(toxicity)
        return {
            "attributes": dataclasses.asdict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": toxicity,
        }


def _json_kind(value: object) -> str:
    """The JSON kind Go names in unmarshal errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def decode_json(body: bytes) -> object:
    """First JSON value of ``body`` like Go's ``json.Decoder.Decode``; 400 on error."""
    text = body.decode("utf-8", errors="replace").lstrip()
    if not text:
        raise ERR_BAD_REQUEST_BODY.joined("EOF")
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as exc:
        raise ERR_BAD_REQUEST_BODY.joined(f"invalid character: {exc.msg}") from None
    return value


def _type_error(value: object, where: str, go_type: str) -> ApiError:
    return ERR_BAD_REQUEST_BODY.joined(
        f"json: cannot unmarshal {_json_kind(value)} into Go struct field {where} of type {go_type}"
    )


def decode_object(value: object, go_type: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ERR_BAD_REQUEST_BODY.joined(
            f"json: cannot unmarshal {_json_kind(value)} into Go value of type {go_type}"
        )
    return value


def string_field(obj: dict[str, object], key: str, default: str, where: str) -> str:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _type_error(value, f"{where}.{key}", "string")
    return value


def bool_field(obj: dict[str, object], key: str, default: bool, where: str) -> bool:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _type_error(value, f"{where}.{key}", "bool")
    return value


def _toxicity_field(obj: dict[str, object], default: float) -> float:
    value = obj.get("toxicity")
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(value, "ToxicWrapper.toxicity", "float32")
    return float(value)


def apply_attributes(base: Attributes, raw: object) -> Attributes:
    """``base`` with the integer fields present in ``raw`` replaced (Go unmarshal rules)."""
    if raw is None:
        return base
    kind = type(base)
    if not isinstance(raw, dict):
        raise _type_error(raw, ".attributes", f"toxics.{kind.go_name}")
    go_int = getattr(kind, "go_int", "int64")
    changes: dict[str, int] = {}
    for field in dataclasses.fields(base):
        value = raw.get(field.name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            where = f"{kind.go_name}.attributes.{field.name}"
            raise _type_error(value, where, go_int)
        changes[field.name] = value
    merged = {**dataclasses.asdict(base), **changes}
    return kind(**merged)


def decode_new_toxic(body: bytes, exists: Callable[[str], bool]) -> Toxic:
    """Parse a ``POST /proxies/{proxy}/toxics`` body, in Toxiproxy's order of checks."""
    obj = decode_object(decode_json(body), "toxics.ToxicWrapper")
    name = string_field(obj, "name", "", "ToxicWrapper")
    type_name = string_field(obj, "type", "", "ToxicWrapper")
    stream = string_field(obj, "stream", "downstream", "ToxicWrapper")
    toxicity = _toxicity_field(obj, 1.0)
    Direction.parse(stream)
    if not name:
        name = f"{type_name}_{stream}"
    kind = TOXIC_TYPES.get(type_name)
    if kind is None:
        raise ERR_INVALID_TOXIC_TYPE
    if exists(name):
        raise ERR_TOXIC_ALREADY_EXISTS
    attributes = apply_attributes(kind(), obj.get("attributes"))
    return Toxic(name, type_name, stream, toxicity, attributes)


def decode_toxic_update(existing: Toxic, body: bytes) -> Toxic:
    """Parse a ``PATCH /proxies/{proxy}/toxics/{toxic}`` body: attributes and toxicity."""
    obj = decode_object(decode_json(body), "struct { Attributes interface {}; Toxicity float32 }")
    toxicity = _toxicity_field(obj, existing.toxicity)
    attributes = apply_attributes(existing.attributes, obj.get("attributes"))
    return dataclasses.replace(existing, toxicity=toxicity, attributes=attributes)
