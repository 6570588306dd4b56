"""Document storage and classification: the service's business steps."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from opentelemetry import trace

from target_app.chaos import Chaos
from target_app.db import Connection, Database, timed_query
from target_app.downstream import ClassifierClient
from target_app.exceptions import DocumentNotFound, InvalidCursor
from target_app.logs import get_logger
from target_app.models import Document, DocumentIn, DocumentPage

tracer = trace.get_tracer("target_app.documents")
log = get_logger("target_app.documents")

COLUMNS = "id, title, body, owner_email, label, confidence, status, created_at, updated_at"


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        last_id = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor(cursor) from exc
    if prefix != "id" or not 0 < last_id < 2**63:
        raise InvalidCursor(cursor)
    return last_id


def _document(row: Any) -> Document:
    return Document.model_validate(dict(row))


class DocumentService:
    """Stores documents and has the classifier label them."""

    def __init__(self, db: Database, classifier: ClassifierClient, chaos: Chaos) -> None:
        self.db = db
        self.classifier = classifier
        self.chaos = chaos

    async def _slow_query(self, conn: Connection) -> None:
        """The ``slow_query`` fault: hold the connection in ``pg_sleep``."""
        seconds = self.chaos.slow_query_seconds()
        if seconds > 0:
            with timed_query("chaos_slow_query"):
                await conn.execute("SELECT pg_sleep($1)", seconds)

    async def create(self, payload: DocumentIn) -> Document:
        with tracer.start_as_current_span("document.classify") as span:
            span.set_attribute("document.body_bytes", len(payload.body.encode()))
            classification = await self.classifier.classify(payload.title, payload.body)
            span.set_attribute("document.label", classification.label)
        with tracer.start_as_current_span("document.store"):
            async with self.db.acquire("create_document") as conn:
                await self._slow_query(conn)
                with timed_query("insert_document"):
                    row = await conn.fetchrow(
                        f"INSERT INTO documents (title, body, owner_email, label, confidence) "  # noqa: S608 - column list is a constant
                        f"VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}",
                        payload.title,
                        payload.body,
                        payload.owner_email,
                        classification.label,
                        classification.confidence,
                    )
        document = _document(row)
        trace.get_current_span().set_attribute("document.id", document.id)
        log.info(
            "document.created",
            document_id=document.id,
            owner_email=document.owner_email,
            label=document.label,
        )
        return document

    async def get(self, document_id: int) -> Document:
        async with self.db.acquire("get_document") as conn:
            await self._slow_query(conn)
            with timed_query("select_document"):
                row = await conn.fetchrow(
                    f"SELECT {COLUMNS} FROM documents WHERE id = $1",  # noqa: S608 - constant columns
                    document_id,
                )
        if row is None:
            raise DocumentNotFound(document_id)
        return _document(row)

    async def list(self, owner: str | None, limit: int, cursor: str | None) -> DocumentPage:
        after = decode_cursor(cursor) if cursor else 0
        async with self.db.acquire("list_documents") as conn:
            await self._slow_query(conn)
            with timed_query("list_documents"):
                rows = await conn.fetch(
                    f"SELECT {COLUMNS} FROM documents "  # noqa: S608 - constant columns
                    "WHERE ($1::text IS NULL OR owner_email = $1) AND id > $2 "
                    "ORDER BY id LIMIT $3",
                    owner,
                    after,
                    limit + 1,
                )
        items = [_document(row) for row in rows[:limit]]
        next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
        return DocumentPage(items=items, next_cursor=next_cursor)

    async def reprocess(self, document_id: int) -> Document:
        document = await self.get(document_id)
        with tracer.start_as_current_span("document.classify"):
            classification = await self.classifier.classify(document.title, document.body)
        with tracer.start_as_current_span("document.store"):
            async with self.db.acquire("reprocess_document") as conn:
                with timed_query("update_document"):
                    row = await conn.fetchrow(
                        "UPDATE documents SET label = $2, confidence = $3, "  # noqa: S608 - constant columns
                        "status = 'reclassified', updated_at = now() "
                        f"WHERE id = $1 RETURNING {COLUMNS}",
                        document_id,
                        classification.label,
                        classification.confidence,
                    )
        if row is None:
            raise DocumentNotFound(document_id)
        log.info("document.reprocessed", document_id=document_id, label=classification.label)
        return _document(row)
