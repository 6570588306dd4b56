"""Request bodies decoded the way Go's ``encoding/json`` fills Toxiproxy's structs.

The rules kept from Go (``json.NewDecoder(body).Decode(&input)``):

* only the first JSON value of the body is read; an empty body is ``EOF``;
* ``null`` where a struct is expected leaves the struct as it was (its
  defaults); ``null`` for a plain field leaves that field as it was, and for a
  pointer field resets it to nil;
* an object key names a struct field exactly or, failing that, ignoring case
  (Go's ``bytes.EqualFold``: ASCII case, plus U+017F long s for ``s`` and
  U+212A Kelvin sign for ``k``); keys naming no field are ignored;
* keys are applied in document order, so when two keys name the same field
  (``"name"`` and ``"Name"``) the last one wins.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TypeVar

from stack.toxiproxy.exceptions import ERR_BAD_REQUEST_BODY, ApiError

Field = TypeVar("Field", str, bool)

# Characters outside ASCII that Unicode simple case folding maps onto an ASCII letter.
_FOLDS_TO_ASCII = {"\u017f": "s", "\u212a": "k"}


class JsonObject(dict[str, object]):
    """A decoded JSON object that remembers its keys in order, duplicates included."""

    def __init__(self, pairs: list[tuple[str, object]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def decode_json(body: bytes) -> object:
    """First JSON value of ``body`` like Go's ``json.Decoder.Decode``; 400 on error."""
    text = body.decode("utf-8", errors="replace").lstrip()
    if not text:
        raise ERR_BAD_REQUEST_BODY.joined("EOF")
    try:
        value, _ = json.JSONDecoder(object_pairs_hook=JsonObject).raw_decode(text)
    except json.JSONDecodeError as exc:
        raise ERR_BAD_REQUEST_BODY.joined(f"invalid character: {exc.msg}") from None
    return value


def json_kind(value: object) -> str:
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


def type_error(value: object, where: str, go_type: str) -> ApiError:
    """Go's ``UnmarshalTypeError`` for a struct field, as a 400 bad request body."""
    return ERR_BAD_REQUEST_BODY.joined(
        f"json: cannot unmarshal {json_kind(value)} into Go struct field {where} of type {go_type}"
    )


def fold_equal(key: str, name: str) -> bool:
    """Go's ``bytes.EqualFold(key, name)`` for an ASCII field name."""
    if len(key) != len(name):
        return False
    pairs = zip(key, name, strict=True)
    return all(k == n or k.lower() == n or _FOLDS_TO_ASCII.get(k) == n for k, n in pairs)


def field_for(key: str, names: Collection[str]) -> str | None:
    """The field an object key fills: the exact name first, else the first case-folded match."""
    if key in names:
        return key
    return next((name for name in names if fold_equal(key, name)), None)


def struct_fields(
    value: object, go_type: str, names: Collection[str], pointers: Collection[str] = ()
) -> dict[str, object]:
    """The fields of Go struct ``go_type`` that ``value`` sets, by field name.

    ``null`` sets nothing. A field set to ``null`` is left out, and a pointer
    field (named in ``pointers``) set to ``null`` after a value is reset, so the
    caller's default applies. Value types are checked by the caller.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ERR_BAD_REQUEST_BODY.joined(
            f"json: cannot unmarshal {json_kind(value)} into Go value of type {go_type}"
        )
    pairs = value.pairs if isinstance(value, JsonObject) else list(value.items())
    fields: dict[str, object] = {}
    for key, item in pairs:
        name = field_for(key, names)
        if name is None:
            continue
        if item is not None:
            fields[name] = item
        elif name in pointers:
            fields.pop(name, None)
    return fields


def _typed_field(
    fields: dict[str, object], key: str, default: Field, where: str, go_type: str
) -> Field:
    """``fields[key]`` if present and of ``default``'s type, else Go's unmarshal type error."""
    value = fields.get(key)
    if value is None:
        return default
    if type(value) is not type(default):
        raise type_error(value, f"{where}.{key}", go_type)
    return value


def string_field(fields: dict[str, object], key: str, default: str, where: str) -> str:
    return _typed_field(fields, key, default, where, "string")


def bool_field(fields: dict[str, object], key: str, default: bool, where: str) -> bool:
    return _typed_field(fields, key, default, where, "bool")
