"""Toxic definitions: Toxiproxy's registered toxics, their attributes and JSON wire form.

Decoding follows Toxiproxy's ``ToxicCollection.AddToxicJson`` step by step so that
bad input gets the same status and message prefix as the Go server: body → stream →
default name → type → duplicate name → attributes. Bodies are read with Go's
``encoding/json`` rules (:mod:`stack.toxiproxy.gojson`); attribute values fill
``int64``/``int`` fields: integers only, ``null`` keeps the default, unknown keys
are ignored.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from stack.toxiproxy.exceptions import (
    ERR_INVALID_STREAM,
    ERR_INVALID_TOXIC_TYPE,
    ERR_TOXIC_ALREADY_EXISTS,
)
from stack.toxiproxy.gojson import decode_json, string_field, struct_fields, type_error


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
class Noop:
    """Pass everything through unchanged (registered as ``noop`` in Toxiproxy's toxics)."""

    go_name: ClassVar[str] = "NoopToxic"


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


Attributes = Noop | Latency | Bandwidth | SlowClose | Timeout | ResetPeer | Slicer | LimitData

#: The toxic types Toxiproxy 2.12 registers (``toxics.Register`` in each ``toxics/*.go``).
TOXIC_TYPES: dict[str, type[Attributes]] = {
    "noop": Noop,
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


TOXIC_FIELDS = ("name", "type", "stream", "toxicity", "attributes")
UPDATE_FIELDS = ("attributes", "toxicity")


def _toxicity_field(fields: dict[str, object], default: float) -> float:
    value = fields.get("toxicity")
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise type_error(value, "ToxicWrapper.toxicity", "float32")
    return float(value)


def apply_attributes(base: Attributes, raw: object) -> Attributes:
    """``base`` with the integer fields set in ``raw`` replaced (Go unmarshal rules)."""
    if raw is None:
        return base
    kind = type(base)
    if not isinstance(raw, dict):
        raise type_error(raw, ".attributes", f"toxics.{kind.go_name}")
    go_int = getattr(kind, "go_int", "int64")
    names = [field.name for field in dataclasses.fields(base)]
    changes: dict[str, int] = {}
    for name, value in struct_fields(raw, f"toxics.{kind.go_name}", names).items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise type_error(value, f"{kind.go_name}.attributes.{name}", go_int)
        changes[name] = value
    merged = {**dataclasses.asdict(base), **changes}
    return kind(**merged)


def decode_new_toxic(body: bytes, exists: Callable[[str], bool]) -> Toxic:
    """Parse a ``POST /proxies/{proxy}/toxics`` body, in Toxiproxy's order of checks.

    A ``null`` body is an empty wrapper: its type is empty, hence "invalid toxic type".
    """
    fields = struct_fields(decode_json(body), "toxics.ToxicWrapper", TOXIC_FIELDS)
    name = string_field(fields, "name", "", "ToxicWrapper")
    type_name = string_field(fields, "type", "", "ToxicWrapper")
    stream = string_field(fields, "stream", "downstream", "ToxicWrapper")
    toxicity = _toxicity_field(fields, 1.0)
    Direction.parse(stream)
    if not name:
        name = f"{type_name}_{stream}"
    kind = TOXIC_TYPES.get(type_name)
    if kind is None:
        raise ERR_INVALID_TOXIC_TYPE
    if exists(name):
        raise ERR_TOXIC_ALREADY_EXISTS
    attributes = apply_attributes(kind(), fields.get("attributes"))
    return Toxic(name, type_name, stream, toxicity, attributes)


def decode_toxic_update(existing: Toxic, body: bytes) -> Toxic:
    """Parse a ``PATCH /proxies/{proxy}/toxics/{toxic}`` body: attributes and toxicity.

    A ``null`` body (or ``null`` values) leaves the toxic as it is.
    """
    go_type = "struct { Attributes interface {}; Toxicity float32 }"
    fields = struct_fields(decode_json(body), go_type, UPDATE_FIELDS)
    toxicity = _toxicity_field(fields, existing.toxicity)
    attributes = apply_attributes(existing.attributes, fields.get("attributes"))
    return dataclasses.replace(existing, toxicity=toxicity, attributes=attributes)
