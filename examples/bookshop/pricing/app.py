"""The pricing Flask app: a price is a pure function of the ISBN."""

from __future__ import annotations

import hashlib
import re
import time

from flask import Flask

CURRENCY = "EUR"
# ISBN-10 (last character may be X) or ISBN-13, digits only.
_ISBN = re.compile(r"\d{9}[\dX]|\d{13}")


def price_cents(isbn: str) -> int:
    """Between 5.00 and 44.99, always the same for the same ISBN."""
    digest = hashlib.sha256(isbn.encode()).digest()
    return 500 + int.from_bytes(digest[:4], "big") % 4000


def create_app(latency_ms: float) -> Flask:
    app = Flask("pricing")
    app.json.sort_keys = False  # type: ignore[attr-defined] # DefaultJSONProvider has it
    delay_s = max(0.0, latency_ms) / 1000

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        return {"status": "ok"}

    @app.get("/prices/<isbn>")
    def price(isbn: str) -> tuple[dict[str, object], int]:
        if not _ISBN.fullmatch(isbn):
            return {"error": "NotFound", "detail": f"no price for {isbn!r}"}, 404
        time.sleep(delay_s)
        return {"isbn": isbn, "price_cents": price_cents(isbn), "currency": CURRENCY}, 200

    return app
