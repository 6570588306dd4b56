"""Apply a fault to the running stack, registering its undo in the ledger first.

Everything goes through the stack's real interfaces: the Toxiproxy HTTP API,
PostgreSQL sessions, the target's fault-switch API, and signals to the
classifier's PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import asyncpg
import httpx

from scenarios.faults import (
    AppFault,
    DbConnectionHogFault,
    DbLockFault,
    Fault,
    ProcessFault,
    ProxyDownFault,
    ToxicFault,
)
from scenarios.ledger import RollbackLedger
from stack.process import process_start_time, signal_pid
from stack.state import StackState

T = TypeVar("T")
APP_NAME = "chaoslab-fault"


class FaultError(Exception):
    """A fault could not be applied (the backend refused it)."""


class _Loop:
    """An asyncio loop on a daemon thread, for the PostgreSQL sessions faults hold."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


class Injector:
    """Applies faults of one run to one stack."""

    def __init__(
        self,
        state: StackState,
        ledger: RollbackLedger,
        restart: Callable[[str], None] | None = None,
    ) -> None:
        self.state = state
        self.ledger = ledger
        self.restart = restart
        self._loop: _Loop | None = None
        self._http = httpx.Client(timeout=10)

    def close(self) -> None:
        self._http.close()
        if self._loop is not None:
            self._loop.close()

    def apply(self, fault: Fault) -> str:
        """Inject ``fault``; returns a one-line account of what was done."""
        match fault:
            case ToxicFault():
                return self._toxic(fault)
            case ProxyDownFault():
                return self._proxy_down(fault)
            case DbLockFault():
                return self._db_lock(fault)
            case DbConnectionHogFault():
                return self._db_hog(fault)
            case AppFault():
                return self._app(fault)
            case ProcessFault():
                return self._process(fault)
        raise FaultError(f"unknown fault {fault!r}")  # pragma: no cover - exhaustive

    # -- Toxiproxy ---------------------------------------------------------------------

    def _proxy_url(self, name: str) -> str:
        return f"{self.state.endpoints.toxiproxy_url}/proxies/{name}"

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.is_error:
            raise FaultError(f"{what}: HTTP {response.status_code} {response.text.strip()}")

    def _toxic(self, fault: ToxicFault) -> str:
        url = self._proxy_url(fault.target) + "/toxics"
        name = f"chaoslab-{fault.id}"
        self.ledger.register(
            fault.id,
            f"toxic {name} on {fault.target}",
            lambda: self._delete_toxic(url, name),
        )
        body = {
            "name": name,
            "type": fault.toxic,
            "stream": fault.stream,
            "toxicity": fault.toxicity,
            "attributes": fault.attributes,
        }
        self._check(self._http.post(url, json=body), f"adding toxic {name}")
        return f"{fault.toxic} toxic on {fault.target} ({fault.stream}) {fault.attributes}"

    def _delete_toxic(self, url: str, name: str) -> None:
        response = self._http.delete(f"{url}/{name}")
        if response.status_code not in (204, 404):
            self._check(response, f"removing toxic {name}")

    def _proxy_down(self, fault: ProxyDownFault) -> str:
        url = self._proxy_url(fault.target)
        self.ledger.register(
            fault.id,
            f"proxy {fault.target} disabled",
            lambda: self._check(self._http.post(url, json={"enabled": True}), "enabling proxy"),
        )
        self._check(self._http.post(url, json={"enabled": False}), "disabling proxy")
        return f"proxy {fault.target} disabled"

    # -- PostgreSQL sessions -------------------------------------------------------------

    def _pg(self) -> _Loop:
        if self._loop is None:
            self._loop = _Loop()
        return self._loop

    async def _connect(self, tag: str) -> Any:
        return await asyncpg.connect(
            self.state.endpoints.postgres_dsn,
            timeout=10,
            server_settings={"application_name": f"{APP_NAME}-{tag}"},
        )

    def _terminate_sessions(self, tag: str) -> None:
        """Belt and braces: end any server session the fault opened, by application name."""

        async def terminate() -> None:
            conn = await asyncpg.connect(self.state.endpoints.postgres_dsn, timeout=10)
            try:
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = $1",
                    f"{APP_NAME}-{tag}",
                )
            finally:
                await conn.close()

        self._pg().run(terminate())

    def _hold(self, fault: Fault, connections: list[Any]) -> None:
        async def release() -> None:
            for conn in connections:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=5)

        self._pg().run(release())
        self._terminate_sessions(fault.id)

    def _db_lock(self, fault: DbLockFault) -> str:
        held: list[Any] = []
        self.ledger.register(
            fault.id, f"lock on {fault.table} ({fault.mode})", lambda: self._hold(fault, held)
        )

        async def lock() -> None:
            conn = await self._connect(fault.id)
            held.append(conn)
            await conn.execute("BEGIN")
            # Table and mode come from a closed set of literals in the model.
            await conn.execute(f"LOCK TABLE {fault.table} IN {fault.mode} MODE")

        self._pg().run(lock())
        return f"{fault.mode} lock held on {fault.table}"

    def _db_hog(self, fault: DbConnectionHogFault) -> str:
        held: list[Any] = []
        self.ledger.register(
            fault.id, f"{fault.connections} hogged connections", lambda: self._hold(fault, held)
        )

        async def hog() -> None:
            for _ in range(fault.connections):
                held.append(await self._connect(fault.id))

        self._pg().run(hog(), timeout=60)
        return f"{len(held)} server connections held"

    # -- the target's fault switches --------------------------------------------------------

    def _app(self, fault: AppFault) -> str:
        url = self.state.endpoints.target_url + "/admin/chaos"
        headers = {"X-Chaos-Token": self.state.endpoints.chaos_token}
        self.ledger.register(
            fault.id,
            f"app switches {sorted(fault.switches)}",
            lambda: self._check(self._http.delete(url, headers=headers), "resetting switches"),
        )
        self._check(self._http.patch(url, json=fault.switches, headers=headers), "switching")
        return f"app switches {fault.switches}"

    # -- the classifier process ------------------------------------------------------------

    def _process(self, fault: ProcessFault) -> str:
        record = self.state.components.get(fault.target)
        if record is None or record.pid is None:
            raise FaultError(f"no {fault.target} process is recorded")
        pid, started = record.pid, record.start_time
        if fault.action == "pause":
            self.ledger.register(
                fault.id,
                f"{fault.target} paused",
                lambda: _signal(pid, started, signal.SIGCONT),
            )
            _signal(pid, started, signal.SIGSTOP)
            return f"{fault.target} (pid {pid}) paused with SIGSTOP"
        restart = self.restart
        if restart is None:
            raise FaultError(f"cannot restart {fault.target} on this stack; use action 'pause'")
        self.ledger.register(
            fault.id, f"{fault.target} killed (restart)", lambda: restart(fault.target)
        )
        _signal(pid, started, signal.SIGKILL)
        return f"{fault.target} (pid {pid}) killed; restarted when the fault ends"


def _signal(pid: int, start_time: int | None, sig: int) -> None:
    if process_start_time(pid) is None:
        return
    if not signal_pid(pid, start_time, sig):
        raise FaultError(f"could not send {signal.Signals(sig).name} to pid {pid}")


__all__ = ["FaultError", "Injector"]
