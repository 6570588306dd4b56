"""The backends a request handler uses, kept on the Flask app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from bookshop.db import Database
from bookshop.pricing_client import PricingClient

EXTENSION_KEY = "bookshop"


@dataclass(frozen=True)
class Services:
    db: Database
    pricing: PricingClient

    def close(self) -> None:
        self.pricing.close()
        self.db.close()


def services() -> Services:
    """The current app's services (inside a request or app context)."""
    found = current_app.extensions[EXTENSION_KEY]
    if not isinstance(found, Services):
        raise TypeError(f"app.extensions[{EXTENSION_KEY!r}] is {type(found).__name__}")
    return found
