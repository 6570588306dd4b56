"""``POST /orders``: ``{"book_id": int, "quantity": int}`` priced and stored."""

from __future__ import annotations

from flask import Blueprint, request

from bookshop.exceptions import BookNotFound
from bookshop.models import OrderRequest
from bookshop.services import services

orders = Blueprint("orders", __name__)


@orders.post("/orders")
def create_order() -> tuple[dict[str, object], int]:
    wanted = OrderRequest.parse(request.get_json(force=True, silent=True))
    backends = services()
    book = backends.db.get_book(wanted.book_id, operation="create_order")
    if book is None:
        raise BookNotFound(wanted.book_id)
    price = backends.pricing.price(book.isbn)
    order = backends.db.create_order(
        book_id=book.id,
        quantity=wanted.quantity,
        unit_price_cents=price.price_cents,
        currency=price.currency,
    )
    return order.to_json(), 201
