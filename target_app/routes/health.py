"""``/liveness``, ``/readiness``, ``/startup`` and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from target_app.dependencies import ClassifierDep, DatabaseDep, SettingsDep
from target_app.health import postgres_check, run_checks
from target_app.metrics import render
from target_app.models import HealthReport

router = APIRouter(tags=["health"])


@router.get("/liveness")
async def liveness() -> HealthReport:
    """The process serves requests; no dependency is consulted (a restart would not help them)."""
    return HealthReport(status="ok")


@router.get("/readiness", responses={503: {"model": HealthReport}})
async def readiness(
    settings: SettingsDep, db: DatabaseDep, classifier: ClassifierDep
) -> JSONResponse:
    """PostgreSQL and the classifier, checked in parallel; 503 names the failing checks."""
    timeout = settings.health_check_timeout_s
    results = await run_checks(
        {"postgres": postgres_check(db.dsn, timeout), "classifier": classifier.ping}, timeout
    )
    failing = [result.name for result in results if not result.ok]
    report = HealthReport(status="fail" if failing else "ok", checks=results, failing=failing)
    return JSONResponse(report.model_dump(), status_code=503 if failing else 200)


@router.get("/startup", responses={503: {"model": HealthReport}})
async def startup(db: DatabaseDep) -> JSONResponse:
    """200 once the schema is in place."""
    if db.schema_ready:
        return JSONResponse(HealthReport(status="ok").model_dump())
    report = HealthReport(status="starting", failing=["schema"])
    return JSONResponse(report.model_dump(), status_code=503)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(render(), media_type=CONTENT_TYPE_LATEST)
