"""The document service's users: create, read, list and reprocess documents.

Each user draws every choice (next action, payload, which id to read, think
time) from its own ``random.Random`` seeded with ``CHAOSLAB_SEED``, the
worker's name (``CHAOSLAB_WORKER``; each worker the lab starts also gets its
own derived seed) and the user's spawn number, so a seed replays the same
sequence of actions. Request names are route templates, so Locust's stats
keep one row per route however many documents exist.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections import deque
from collections.abc import Iterator
from typing import ClassVar

from locust import task
from locust.contrib.fasthttp import FastHttpUser, ResponseContextManager
from locust.env import Environment

from loadtests.config import ACTIONS, LoadConfig

CONFIG = LoadConfig.from_env()
REMEMBERED_IDS = 200
WORDS = (
    "invoice",
    "quarterly",
    "incident",
    "database",
    "latency",
    "pool",
    "connection",
    "report",
    "summary",
    "contract",
    "renewal",
    "customer",
    "refund",
    "outage",
    "review",
    "postmortem",
    "budget",
    "forecast",
    "audit",
    "policy",
    "draft",
    "release",
    "migration",
    "capacity",
    "backlog",
    "roadmap",
    "security",
    "compliance",
    "vendor",
    "onboarding",
)

DOCUMENTS = "/api/documents"
DOCUMENT = "/api/documents/{id}"
REPROCESS = "/api/documents/{id}/reprocess"


def _json(response: ResponseContextManager) -> object:
    """The decoded body, or None when there is none or it is not JSON."""
    try:
        body: object = response.json()
    except (ValueError, TypeError):  # TypeError: no body at all (connection error)
        return None
    return body


def _document_id(response: ResponseContextManager) -> int | None:
    body = _json(response)
    value = body.get("id") if isinstance(body, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class DocumentUser(FastHttpUser):
    """One person using the document API, with think time between actions."""

    config: ClassVar[LoadConfig] = CONFIG
    network_timeout = CONFIG.network_timeout_s
    connection_timeout = CONFIG.network_timeout_s
    _spawned: ClassVar[Iterator[int]] = itertools.count()

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        # Not Locust's worker_index: the master hands it out in the order workers
        # connect. The lab gives each worker its own name and derived seed instead.
        seed = f"{self.config.seed}:{self.config.worker}:{next(DocumentUser._spawned)}"
        self.rng = random.Random(seed)  # noqa: S311 - reproducible load choices, not secrets
        self.ids: deque[int] = deque(maxlen=REMEMBERED_IDS)
        self._last_run = time.monotonic()
        self._last_wait = 0.0

    def wait_time(self) -> float:
        """Think time between ``wait_min_s`` and ``wait_max_s``, or constant pacing."""
        if self.config.pacing_s <= 0:
            return self.rng.uniform(self.config.wait_min_s, self.config.wait_max_s)
        now = time.monotonic()
        busy = now - self._last_run - self._last_wait
        self._last_wait = max(0.0, self.config.pacing_s - busy)
        self._last_run = now
        return self._last_wait

    def headers(self) -> dict[str, str]:
        return {"X-Chaoslab-Run": self.config.run_id, "X-Request-ID": uuid.uuid4().hex}

    def owner(self) -> str:
        return f"owner{self.rng.randrange(self.config.owners)}@example.com"

    @task
    def act(self) -> None:
        """One action, drawn with the configured weights (default 3:5:2:1)."""
        action = self.rng.choices(ACTIONS, weights=self.config.weights)[0]
        if action in ("get", "reprocess") and not self.ids:
            action = "create"  # nothing to read or reprocess yet
        getattr(self, action)()

    def create(self) -> None:
        words = [self.rng.choice(WORDS) for _ in range(self.rng.randint(20, 300))]
        payload = {
            "title": " ".join(words[:4]).capitalize(),
            "body": " ".join(words),
            "owner_email": self.owner(),
        }
        with self.client.post(
            DOCUMENTS, json=payload, headers=self.headers(), catch_response=True
        ) as response:
            document_id = _document_id(response)
            if response.status_code != 201:
                response.failure(f"create answered {response.status_code}")
            elif document_id is None:
                response.failure("create answered without an integer id")
            else:
                self.ids.append(document_id)

    def get(self) -> None:
        document_id = self.rng.choice(self.ids)
        self.client.get(f"{DOCUMENTS}/{document_id}", name=DOCUMENT, headers=self.headers())

    def list(self) -> None:
        params = {"limit": str(self.rng.choice((10, 20, 50)))}
        if self.rng.random() < 0.8:
            params["owner"] = self.owner()
        # Drawn whatever the answer holds, so a seed replays the same choices even when
        # the data (and so the presence of a next page) differs between runs.
        follow = self.rng.random() < 0.3
        with self.client.get(
            DOCUMENTS, params=params, headers=self.headers(), catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"list answered {response.status_code}")
                return
            body = _json(response)
            cursor = body.get("next_cursor") if isinstance(body, dict) else None
        if isinstance(cursor, str) and follow:
            self.client.get(DOCUMENTS, params={**params, "cursor": cursor}, headers=self.headers())

    def reprocess(self) -> None:
        document_id = self.rng.choice(self.ids)
        self.client.post(
            f"{DOCUMENTS}/{document_id}/reprocess", name=REPROCESS, headers=self.headers()
        )
