"""``GET /books`` (the catalogue) and ``GET /books/<id>`` (one book with its price)."""

from __future__ import annotations

from flask import Blueprint, request

from bookshop.exceptions import BadRequest, BookNotFound
from bookshop.models import MAX_BOOK_ID, PricedBook
from bookshop.services import services

books = Blueprint("books", __name__)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@books.get("/books")
def list_books() -> dict[str, object]:
    limit = _query_int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _query_int("offset", 0, 0, MAX_BOOK_ID)
    found = services().db.list_books(limit=limit, offset=offset)
    return {"books": [book.to_json() for book in found], "limit": limit, "offset": offset}


@books.get("/books/<int:book_id>")
def get_book(book_id: int) -> dict[str, object]:
    if book_id > MAX_BOOK_ID:
        raise BookNotFound(book_id)
    backends = services()
    book = backends.db.get_book(book_id)
    if book is None:
        raise BookNotFound(book_id)
    price = backends.pricing.price(book.isbn)
    return PricedBook(book=book, price=price).to_json()


def _query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value
