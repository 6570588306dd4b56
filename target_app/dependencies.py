"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from target_app.chaos import Chaos
from target_app.config import Settings
from target_app.db import Database
from target_app.documents import DocumentService
from target_app.downstream import ClassifierClient


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _classifier(request: Request) -> ClassifierClient:
    client: ClassifierClient = request.app.state.classifier
    return client


def _chaos(request: Request) -> Chaos:
    chaos: Chaos = request.app.state.chaos
    return chaos


def _documents(request: Request) -> DocumentService:
    service: DocumentService = request.app.state.documents
    return service


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_db)]
ClassifierDep = Annotated[ClassifierClient, Depends(_classifier)]
ChaosDep = Annotated[Chaos, Depends(_chaos)]
DocumentsDep = Annotated[DocumentService, Depends(_documents)]


def chaos_gate(chaos: ChaosDep) -> None:
    """Per-request app faults (CPU burn, memory growth, injected exceptions)."""
    chaos.on_request()


def require_chaos_token(
    settings: SettingsDep,
    x_chaos_token: Annotated[str | None, Header()] = None,
) -> None:
    """403 unless the request carries the configured chaos token."""
    expected = settings.chaos_token or ""
    if not x_chaos_token or not hmac.compare_digest(x_chaos_token, expected):
        raise HTTPException(status_code=403, detail="missing or wrong X-Chaos-Token")


ChaosGate = Depends(chaos_gate)
ChaosAuth = Depends(require_chaos_token)
