"""Domain records: books, prices and orders."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TypeGuard

from bookshop.exceptions import BadRequest, InvalidOrder

# PostgreSQL ``integer``: a larger id cannot exist, so it is a 404, not a driver error.
MAX_BOOK_ID = 2**31 - 1
MAX_QUANTITY = 100


@dataclass(frozen=True)
class Book:
    id: int
    isbn: str
    title: str
    author: str
    published_year: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Price:
    isbn: str
    price_cents: int
    currency: str


@dataclass(frozen=True)
class PricedBook:
    book: Book
    price: Price

    def to_json(self) -> dict[str, object]:
        return {
            **self.book.to_json(),
            "price_cents": self.price.price_cents,
            "currency": self.price.currency,
        }


@dataclass(frozen=True)
class OrderRequest:
    book_id: int
    quantity: int

    @classmethod
    def parse(cls, body: object) -> OrderRequest:
        """Validate a decoded JSON body: 400 if it is no object, 422 if its fields are wrong."""
        if not isinstance(body, dict):
            raise BadRequest('body must be a JSON object like {"book_id": 1, "quantity": 2}')
        book_id = body.get("book_id")
        quantity = body.get("quantity")
        if not _is_int(book_id) or not 1 <= book_id <= MAX_BOOK_ID:
            raise InvalidOrder(f"book_id must be an integer between 1 and {MAX_BOOK_ID}")
        if not _is_int(quantity) or not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidOrder(f"quantity must be an integer between 1 and {MAX_QUANTITY}")
        return cls(book_id=book_id, quantity=quantity)


@dataclass(frozen=True)
class Order:
    id: int
    book_id: int
    quantity: int
    unit_price_cents: int
    total_cents: int
    currency: str
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass; true is not a book id.
    return isinstance(value, int) and not isinstance(value, bool)
