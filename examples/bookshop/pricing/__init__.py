"""pricing: the bookshop's HTTP dependency, a tiny deterministic price list.

``GET /healthz`` and ``GET /prices/<isbn>``; every price answer waits
``PRICING_LATENCY_MS`` (default 5) first. Run it with ``python -m pricing``.
"""

from pricing.app import create_app, price_cents

__all__ = ["create_app", "price_cents"]
