"""The profile's name: ``--name``, else the OpenAPI title as a slug, else ``service``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scenarios.scaffold.errors import InitError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")


def slug(text: str) -> str:
    """``text`` as a profile name (``^[a-z][a-z0-9_-]{0,40}$``), or ``""`` if nothing is left."""
    lowered = re.sub(r"[^a-z0-9]+", "-", text.lower())
    lowered = re.sub(r"^[^a-z]+", "", lowered)[:41].strip("-_")
    return lowered if NAME_PATTERN.match(lowered) else ""


def choose_name(given: str | None, doc: Mapping[str, Any] | None) -> str:
    """``--name``, else the slug of the OpenAPI ``info.title``, else ``service``."""
    if given is not None:
        if not NAME_PATTERN.match(given):
            raise InitError(
                f"--name {given!r} must match {NAME_PATTERN.pattern} "
                "(lowercase letter first, then lowercase letters, digits, - or _)"
            )
        return given
    info = doc.get("info") if doc is not None else None
    title = info.get("title") if isinstance(info, Mapping) else None
    return (slug(title) if isinstance(title, str) else "") or "service"
