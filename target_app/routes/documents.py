"""``/api/documents``: create, read, list and reprocess documents."""

from __future__ import annotations

import hashlib
from typing import Annotated

import sentry_sdk
from fastapi import APIRouter, Path, Query

from target_app.dependencies import ChaosGate, DocumentsDep
from target_app.models import Document, DocumentIn, DocumentPage, ErrorBody

router = APIRouter(prefix="/api/documents", tags=["documents"], dependencies=[ChaosGate])

DocumentId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Document id")]
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "No such document"},
    502: {"model": ErrorBody, "description": "The classifier failed"},
    503: {"model": ErrorBody, "description": "The database is unavailable or saturated"},
    504: {"model": ErrorBody, "description": "The classifier timed out"},
}


def _set_user(email: str) -> None:
    """Sentry user context without raw PII: a stable hash of the owner's email."""
    digest = hashlib.sha256(email.lower().encode()).hexdigest()[:16]
    sentry_sdk.set_user({"id": digest})


@router.post("", status_code=201, responses=ERRORS)
async def create_document(payload: DocumentIn, documents: DocumentsDep) -> Document:
    _set_user(payload.owner_email)
    sentry_sdk.add_breadcrumb(category="document", message="create requested")
    return await documents.create(payload)


@router.get("", responses=ERRORS)
async def list_documents(
    documents: DocumentsDep,
    owner: Annotated[str | None, Query(max_length=254)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> DocumentPage:
    return await documents.list(owner, limit, cursor)


@router.get("/{document_id}", responses=ERRORS)
async def get_document(document_id: DocumentId, documents: DocumentsDep) -> Document:
    return await documents.get(document_id)


@router.post("/{document_id}/reprocess", responses=ERRORS)
async def reprocess_document(document_id: DocumentId, documents: DocumentsDep) -> Document:
    sentry_sdk.add_breadcrumb(category="document", message="reprocess requested")
    return await documents.reprocess(document_id)
