"""HTTP routes, one blueprint per resource."""

from bookshop.routes.books import books
from bookshop.routes.health import health
from bookshop.routes.orders import orders

__all__ = ["books", "health", "orders"]
