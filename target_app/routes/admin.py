"""``/admin/chaos``: the fault switches. Mounted only when ``TARGET_CHAOS_TOKEN`` is set."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from target_app.chaos import ChaosState, ChaosSwitches
from target_app.dependencies import ChaosAuth, ChaosDep, DatabaseDep
from target_app.logs import get_logger

router = APIRouter(prefix="/admin/chaos", tags=["chaos"], dependencies=[ChaosAuth])
log = get_logger("target_app.chaos")


@router.get("")
async def read_switches(chaos: ChaosDep) -> ChaosState:
    return chaos.state()


@router.patch("")
async def change_switches(changes: dict[str, Any], chaos: ChaosDep, db: DatabaseDep) -> ChaosState:
    """Change only the named switches; anything else keeps its value."""
    try:
        merged = ChaosSwitches.model_validate({**chaos.switches.model_dump(), **changes})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc
    if merged.pool_max is not None and merged.pool_max != db.max_size:
        await db.resize(merged.pool_max)
    chaos.apply(merged)
    log.warning("chaos.switches.changed", changes=sorted(changes), switches=merged.model_dump())
    return chaos.state()


@router.delete("")
async def reset_switches(chaos: ChaosDep, db: DatabaseDep) -> ChaosState:
    """Turn every switch off, free grown memory, restore the configured pool size."""
    original: int = db.configured_max_size
    if db.max_size != original:
        await db.resize(original)
    chaos.reset()
    log.warning("chaos.switches.reset")
    return chaos.state()
