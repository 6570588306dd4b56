"""Load for the bookshop: browse the catalogue, look at books, order some.

    locust -f locustfile.py --host http://127.0.0.1:8123

Book ids 1-50 are the seeded catalogue; one request in fifty asks for a book
that does not exist (a 404 is the right answer, so it is not a failure).
"""

from __future__ import annotations

import random

from locust import HttpUser, between, task

SEEDED_BOOKS = 50


class BookshopUser(HttpUser):
    wait_time = between(0.2, 0.6)

    @task(3)
    def browse(self) -> None:
        offset = random.randrange(0, 40)
        self.client.get("/books", params={"limit": 20, "offset": offset}, name="/books")

    @task(6)
    def view_book(self) -> None:
        book_id = random.randint(1, SEEDED_BOOKS)
        self.client.get(f"/books/{book_id}", name="/books/<id>")

    @task(2)
    def order(self) -> None:
        payload = {"book_id": random.randint(1, SEEDED_BOOKS), "quantity": random.randint(1, 3)}
        self.client.post("/orders", json=payload)

    @task(1)
    def view_missing_book(self) -> None:
        with self.client.get(
            "/books/999999", name="/books/<id> (missing)", catch_response=True
        ) as response:
            if response.status_code == 404:
                response.success()
            else:
                response.failure(f"expected 404, got {response.status_code}")
