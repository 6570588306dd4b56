"""Request and response bodies of the document API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"


def _storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL, and asyncpg cannot encode lone surrogates."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return text


StorableText = Annotated[str, AfterValidator(_storable)]


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: StorableText = Field(min_length=1, max_length=200)
    body: StorableText = Field(min_length=1, max_length=100_000)
    owner_email: str = Field(pattern=EMAIL_PATTERN, max_length=254)


class Document(BaseModel):
    id: int
    title: str
    body: str
    owner_email: str
    label: str | None
    confidence: float | None
    status: str
    created_at: datetime
    updated_at: datetime


class DocumentPage(BaseModel):
    items: list[Document]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class Classification(BaseModel):
    label: str
    confidence: float = Field(ge=0.0, le=1.0)


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=200)
    body: str = Field(max_length=100_000)


class ErrorBody(BaseModel):
    detail: str
    error: str
    request_id: str | None = None


class CheckResult(BaseModel):
    name: str
    ok: bool
    duration_ms: float
    error: str | None = None


class HealthReport(BaseModel):
    status: str
    checks: list[CheckResult] = Field(default_factory=list)
    failing: list[str] = Field(default_factory=list)
