"""Fault kinds the catalog does not exercise, applied to a real stack and rolled back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from scenarios.controls import Controls
from scenarios.faults import DbConnectionHogFault, ProcessFault
from scenarios.injectors import Injector
from scenarios.ledger import RollbackLedger
from scenarios.undo import perform
from stack.attached import AttachedStack
from stack.process import pid_alive
from tests.integration.scenarios.conftest import UpStack

pytestmark = pytest.mark.integration


@pytest.fixture
def lab(up_stack: UpStack) -> AttachedStack:
    return AttachedStack(up_stack.state)


@pytest.fixture
def kit(lab: AttachedStack) -> Iterator[tuple[RollbackLedger, Injector]]:
    """A ledger and an injector on the attached stack; everything rolled back after the test."""
    controls = Controls(lab.endpoints)
    ledger = RollbackLedger(lambda undo: perform(undo, controls, lab.restart))
    injector = Injector(lab.state, ledger, controls)
    try:
        yield ledger, injector
    finally:
        ledger.rollback()
        injector.close()
        controls.close()


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def fault_sessions(dsn: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            value: int = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'chaoslab-fault-hog'"
            )
            return value
        finally:
            await conn.close()

    return asyncio.run(count())


def test_connection_hog_holds_and_releases_server_connections(
    lab: AttachedStack, kit: tuple[RollbackLedger, Injector]
) -> None:
    ledger, injector = kit
    fault = DbConnectionHogFault(id="hog", at=0, duration=10, connections=7)
    assert injector.apply(fault) == "7 server connections held"
    assert fault_sessions(lab.endpoints.postgres_dsn) == 7
    assert ledger.undo("hog") == []
    assert fault_sessions(lab.endpoints.postgres_dsn) == 0


def test_pause_stops_the_classifier_until_rolled_back(
    lab: AttachedStack, kit: tuple[RollbackLedger, Injector]
) -> None:
    ledger, injector = kit
    pid = lab.state.components["classifier"].pid
    assert pid is not None
    # apply() returns only once the kernel shows the process stopped.
    injector.apply(ProcessFault(id="freeze", at=0, duration=5, action="pause"))
    assert process_state(pid) == "T"
    with pytest.raises(httpx.TimeoutException):
        httpx.get(lab.state.components["classifier"].url + "/liveness", timeout=1.0)
    assert ledger.undo("freeze") == []
    assert process_state(pid) in {"S", "R"}
    assert (
        httpx.get(lab.state.components["classifier"].url + "/liveness", timeout=5).status_code
        == 200
    )


def test_kill_restarts_the_classifier_on_rollback(
    up_stack: UpStack, lab: AttachedStack, kit: tuple[RollbackLedger, Injector]
) -> None:
    ledger, injector = kit
    old_pid = lab.state.components["classifier"].pid
    assert old_pid is not None
    injector.apply(ProcessFault(id="crash", at=0, duration=5, action="kill"))
    assert not pid_alive(old_pid)  # apply() returns once the process is gone
    assert ledger.undo("crash") == []
    new_pid = up_stack.state.components["classifier"].pid
    assert new_pid is not None
    assert new_pid != old_pid
    assert pid_alive(new_pid)
    assert (
        httpx.get(lab.state.components["classifier"].url + "/liveness", timeout=5).status_code
        == 200
    )
    # The target reaches the restarted classifier through the same proxy.
    created = httpx.post(
        lab.endpoints.target_url + "/api/documents",
        json={"title": "t", "body": "b", "owner_email": "k@example.com"},
        timeout=10,
    )
    assert created.status_code == 201
