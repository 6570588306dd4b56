"""The bookshop: a Flask + psycopg 3 + httpx example service for chaoslab.

Independent of ``target_app``: run it with ``python -m bookshop`` from
``examples/bookshop`` (see README.md there).
"""

from bookshop.app import create_app
from bookshop.config import Settings
from bookshop.db import Database
from bookshop.exceptions import (
    BadRequest,
    BookNotFound,
    BookshopError,
    ClientError,
    ConfigError,
    DatabaseUnavailable,
    DependencyUnavailable,
    InvalidOrder,
    PricingUnavailable,
)
from bookshop.pricing_client import PricingClient
from bookshop.services import Services

__all__ = [
    "BadRequest",
    "BookNotFound",
    "BookshopError",
    "ClientError",
    "ConfigError",
    "Database",
    "DatabaseUnavailable",
    "DependencyUnavailable",
    "InvalidOrder",
    "PricingClient",
    "PricingUnavailable",
    "Services",
    "Settings",
    "create_app",
]
