"""Pure parts of the target service: cursors, fingerprints, fault switches, route templates."""

from __future__ import annotations

import asyncpg
import pytest
from fastapi import APIRouter
from pydantic import ValidationError

from target_app.chaos import Chaos, ChaosSwitches
from target_app.documents import decode_cursor, encode_cursor
from target_app.errors import fingerprint_for
from target_app.exceptions import (
    ChaosError,
    DatabaseUnavailable,
    DownstreamTimeout,
    InvalidCursor,
    PoolTimeout,
)
from target_app.middleware import UNMATCHED_ROUTE, route_template


@pytest.mark.parametrize("last_id", [1, 42, 2**63 - 1])
def test_cursor_round_trip(last_id: int) -> None:
    assert decode_cursor(encode_cursor(last_id)) == last_id


@pytest.mark.parametrize("cursor", ["", "garbage", "aWQ6LTE", "aWQ6eA", "Zm9vOjE"])
def test_foreign_cursors_are_rejected(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


@pytest.mark.parametrize(
    ("exc", "fingerprint"),
    [
        (PoolTimeout(30), ["db-pool-timeout"]),
        (DownstreamTimeout(2), ["downstream-timeout"]),
        (DatabaseUnavailable("refused"), ["db-connection-error"]),
        (ConnectionRefusedError(111, "refused"), ["db-connection-error"]),
        (asyncpg.exceptions.CannotConnectNowError("starting"), ["db-connection-error"]),
        (ValueError("anything"), None),
    ],
)
def test_fingerprints_group_by_failure_mode(
    exc: BaseException, fingerprint: list[str] | None
) -> None:
    assert fingerprint_for(exc) == fingerprint


def test_injected_exceptions_carry_their_name_and_group_by_it() -> None:
    chaos = Chaos(seed=1)
    chaos.apply(ChaosSwitches(exception_rate=1.0, exception_type="LedgerMismatch"))
    with pytest.raises(ChaosError) as raised:
        chaos.on_request()
    assert type(raised.value).__name__ == "LedgerMismatch"
    assert fingerprint_for(raised.value) == ["chaos-exception", "LedgerMismatch"]
    assert chaos.exception_class("LedgerMismatch") is type(raised.value)


def test_exception_rate_is_reproducible_with_a_seed() -> None:
    def rolls(seed: int) -> list[bool]:
        chaos = Chaos(seed=seed)
        chaos.apply(ChaosSwitches(exception_rate=0.3))
        outcomes = []
        for _ in range(200):
            try:
                chaos.on_request()
                outcomes.append(False)
            except ChaosError:
                outcomes.append(True)
        return outcomes

    first = rolls(7)
    assert first == rolls(7)
    assert 30 <= sum(first) <= 90, sum(first)


def test_memory_growth_is_capped_and_freed_on_reset() -> None:
    chaos = Chaos()
    chaos.apply(ChaosSwitches(memory_growth_kb=1024, memory_limit_mb=3))
    for _ in range(10):
        chaos.on_request()
    assert chaos.state().memory_held_mb == 3
    chaos.reset()
    assert chaos.state().memory_held_mb == 0


@pytest.mark.parametrize(
    "bad",
    [{"exception_rate": 1.5}, {"exception_type": "not a name"}, {"slow_query_s": -1}, {"x": 1}],
)
def test_switches_reject_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ChaosSwitches.model_validate(bad)


def test_route_templates_never_contain_ids() -> None:
    router = APIRouter(prefix="/api/documents")

    @router.get("/{document_id}")
    async def get(document_id: int) -> None:
        return None

    def scope(path: str) -> dict[str, object]:
        return {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}

    assert route_template(router.routes, scope("/api/documents/12345")) == (
        "/api/documents/{document_id}"
    )
    assert route_template(router.routes, scope("/somewhere/else")) == UNMATCHED_ROUTE
