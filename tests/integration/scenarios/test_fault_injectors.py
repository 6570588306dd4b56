"""Fault kinds the catalog does not exercise, applied to a real stack and rolled back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from scenarios.faults import DbConnectionHogFault, ProcessFault
from scenarios.injectors import Injector
from scenarios.ledger import RollbackLedger
from stack.local import LocalStack
from stack.process import pid_alive

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("faults") / ".chaoslab") as stack:
        yield stack


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


def test_connection_hog_holds_and_releases_server_connections(lab: LocalStack) -> None:
    ledger = RollbackLedger()
    injector = Injector(lab.state, ledger)
    try:
        fault = DbConnectionHogFault(id="hog", at=0, duration=10, connections=7)
        assert injector.apply(fault) == "7 server connections held"
        assert fault_sessions(lab.endpoints.postgres_dsn) == 7
        assert ledger.undo("hog") == []
        assert fault_sessions(lab.endpoints.postgres_dsn) == 0
    finally:
        ledger.rollback()
        injector.close()


def test_pause_stops_the_classifier_until_rolled_back(lab: LocalStack) -> None:
    ledger = RollbackLedger()
    injector = Injector(lab.state, ledger, restart=lab.restart)
    pid = lab.state.components["classifier"].pid
    assert pid is not None
    try:
        injector.apply(ProcessFault(id="freeze", at=0, duration=5, action="pause"))
        assert process_state(pid) == "T"
        with pytest.raises(httpx.TimeoutException):
            httpx.get(lab.endpoints.classifier_url + "/liveness", timeout=1.0)
        assert ledger.undo("freeze") == []
        assert process_state(pid) in {"S", "R"}
        assert httpx.get(lab.endpoints.classifier_url + "/liveness", timeout=5).status_code == 200
    finally:
        ledger.rollback()
        injector.close()


def test_kill_restarts_the_classifier_on_rollback(lab: LocalStack) -> None:
    ledger = RollbackLedger()
    injector = Injector(lab.state, ledger, restart=lab.restart)
    old_pid = lab.state.components["classifier"].pid
    assert old_pid is not None
    try:
        injector.apply(ProcessFault(id="crash", at=0, duration=5, action="kill"))
        deadline = time.monotonic() + 5
        while pid_alive(old_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(old_pid)
        assert ledger.undo("crash") == []
        new_pid = lab.state.components["classifier"].pid
        assert new_pid is not None
        assert new_pid != old_pid
        assert pid_alive(new_pid)
        assert httpx.get(lab.endpoints.classifier_url + "/liveness", timeout=5).status_code == 200
        # The target reaches the restarted classifier through the same proxy.
        created = httpx.post(
            lab.endpoints.target_url + "/api/documents",
            json={"title": "t", "body": "b", "owner_email": "k@example.com"},
            timeout=10,
        )
        assert created.status_code == 201
    finally:
        ledger.rollback()
        injector.close()
