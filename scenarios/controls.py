"""The stack's control surfaces, each driven one way: what injectors, undos and panic use.

* Toxiproxy through the ``toxiproxy-python`` client (``APIConsumer``, with a timeout);
* PostgreSQL sessions the lab holds (``application_name`` ``chaoslab-fault-<fault>``),
  on an asyncio loop of their own;
* the target's fault-switch API (``/admin/chaos``);
* signals to a recorded component's PID (checked against its kernel start time).

Every infrastructure failure is a :class:`~scenarios.exceptions.FaultError`,
never a bare ``httpx``/``requests``/``asyncpg`` exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
import httpx
import requests
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from scenarios.clock import Clock, SystemClock
from scenarios.exceptions import FaultError
from stack.process import pid_alive, process_start_time, signal_pid
from stack.state import Endpoints

T = TypeVar("T")
SESSION_PREFIX = "chaoslab-fault-"
HTTP_TIMEOUT_S = 10.0
EFFECT_TIMEOUT_S = 5.0
_TOXIPROXY_LOCK = threading.RLock()  # APIConsumer keeps host and port on the class


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


def wait_for(
    check: Callable[[], bool], what: str, clock: Clock, timeout: float = EFFECT_TIMEOUT_S
) -> None:
    """Poll ``check`` until it holds; a fault that never takes effect is a :class:`FaultError`."""
    deadline = clock.monotonic() + timeout
    while not check():
        if clock.monotonic() >= deadline:
            raise FaultError(f"{what} did not take effect within {timeout:g} s")
        clock.sleep(0.02)


def process_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (``R``, ``S``, ``T``...), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


class Controls:
    """Drive one stack's control surfaces."""

    def __init__(self, endpoints: Endpoints, clock: Clock | None = None) -> None:
        self.endpoints = endpoints
        self.clock = clock or SystemClock()
        self._http = httpx.Client(timeout=HTTP_TIMEOUT_S)
        self._loop: _Loop | None = None

    def close(self) -> None:
        self._http.close()
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    # -- Toxiproxy ---------------------------------------------------------------------

    @contextmanager
    def _toxiproxy(self, what: str) -> Iterator[type[APIConsumer]]:
        url = urlsplit(self.endpoints.toxiproxy_url)
        with _TOXIPROXY_LOCK:
            APIConsumer.host, APIConsumer.port = url.hostname, url.port
            try:
                yield APIConsumer
            except (InvalidToxic, ProxyExists) as exc:
                raise FaultError(f"{what}: Toxiproxy refused it: {_text(exc)}") from exc
            except requests.RequestException as exc:
                raise FaultError(f"{what}: Toxiproxy did not answer: {exc}") from exc

    def proxies(self) -> dict[str, dict[str, Any]]:
        with self._toxiproxy("listing proxies") as api:
            body: dict[str, dict[str, Any]] = api.get("/proxies", timeout=HTTP_TIMEOUT_S).json()
        return body

    def toxics(self, proxy: str) -> list[dict[str, Any]]:
        with self._toxiproxy(f"listing toxics of {proxy}") as api:
            try:
                body = api.get(f"/proxies/{proxy}/toxics", timeout=HTTP_TIMEOUT_S).json()
            except NotFound as exc:
                raise FaultError(f"there is no proxy {proxy!r} on this stack") from exc
        return list(body)

    def add_toxic(self, proxy: str, body: dict[str, Any]) -> None:
        with self._toxiproxy(f"adding toxic {body['name']} to {proxy}") as api:
            try:
                api.post(f"/proxies/{proxy}/toxics", json=body, timeout=HTTP_TIMEOUT_S)
            except NotFound as exc:
                raise FaultError(f"there is no proxy {proxy!r} on this stack") from exc
        wait_for(
            lambda: any(t["name"] == body["name"] for t in self.toxics(proxy)),
            f"toxic {body['name']} on {proxy}",
            self.clock,
        )

    def remove_toxic(self, proxy: str, name: str) -> None:
        """Remove a toxic; one that is already gone counts as removed."""
        with (
            self._toxiproxy(f"removing toxic {name} from {proxy}") as api,
            contextlib.suppress(NotFound),
        ):
            api.delete(f"/proxies/{proxy}/toxics/{name}", timeout=HTTP_TIMEOUT_S)

    def set_proxy_enabled(self, proxy: str, enabled: bool) -> None:
        verb = "enabling" if enabled else "disabling"
        with self._toxiproxy(f"{verb} proxy {proxy}") as api:
            try:
                api.post(f"/proxies/{proxy}", json={"enabled": enabled}, timeout=HTTP_TIMEOUT_S)
            except NotFound as exc:
                raise FaultError(f"there is no proxy {proxy!r} on this stack") from exc
        wait_for(
            lambda: bool(self.proxies()[proxy]["enabled"]) is enabled,
            f"{verb} proxy {proxy}",
            self.clock,
        )

    # -- the target's fault switches -----------------------------------------------------

    def _switch_call(self, method: str, what: str, body: dict[str, Any] | None = None) -> Any:
        url = self.endpoints.target_url + "/admin/chaos"
        headers = {"X-Chaos-Token": self.endpoints.chaos_token}
        try:
            response = self._http.request(method, url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise FaultError(f"{what}: the target did not answer: {exc}") from exc
        if response.is_error:
            raise FaultError(f"{what}: HTTP {response.status_code} {response.text.strip()[:300]}")
        return response.json()

    def switches(self) -> dict[str, Any]:
        state = self._switch_call("GET", "reading the fault switches")
        return dict(state["switches"])

    def set_switches(self, switches: dict[str, Any]) -> None:
        self._switch_call("PATCH", "turning switches on", switches)
        wait_for(
            lambda: all(self.switches().get(k) == v for k, v in switches.items()),
            f"switches {sorted(switches)}",
            self.clock,
        )

    def reset_switches(self) -> None:
        self._switch_call("DELETE", "turning every switch off")

    # -- PostgreSQL sessions ---------------------------------------------------------------

    def _pg(self) -> _Loop:
        if self._loop is None:
            self._loop = _Loop()
        return self._loop

    def pg_run(self, coro: Coroutine[Any, Any, T], what: str, timeout: float = 30.0) -> T:
        try:
            return self._pg().run(coro, timeout)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            raise FaultError(f"{what}: {type(exc).__name__}: {exc}") from exc

    def database_dsns(self) -> list[str]:
        """Direct DSNs of every PostgreSQL the lab may open sessions on."""
        ep = self.endpoints
        dsns = list(ep.database_dsns.values()) or [ep.postgres_dsn]
        return [dsn for dsn in dict.fromkeys(dsns) if dsn]

    def _dsn(self, database: str) -> str:
        dsn = self.endpoints.database_dsns.get(database)
        if dsn is None:
            known = ", ".join(sorted(self.endpoints.database_dsns)) or "none"
            raise FaultError(
                f"the stack has no PostgreSQL dependency {database!r} the lab can open "
                f"sessions on (it has: {known})"
            )
        return dsn

    async def connect(self, fault_id: str, database: str = "postgres") -> Any:
        """A session tagged as the lab's, for ``fault_id``, on PostgreSQL ``database``."""
        return await asyncpg.connect(
            self._dsn(database),
            timeout=10,
            server_settings={"application_name": f"{SESSION_PREFIX}{fault_id}"},
        )

    def close_connections(self, connections: list[Any]) -> None:
        async def release() -> None:
            for conn in connections:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=5)

        with contextlib.suppress(FaultError):
            self.pg_run(release(), "closing held sessions")
        connections.clear()

    def _sessions(self, select: str, fault_id: str | None, what: str) -> list[str]:
        """``SELECT select`` over the lab-held sessions (of one fault, or all of them)."""
        pattern = f"{SESSION_PREFIX}{fault_id}" if fault_id else f"{SESSION_PREFIX}%"

        async def query() -> list[str]:
            found: list[str] = []
            for dsn in self.database_dsns():
                conn = await asyncpg.connect(dsn, timeout=10)
                try:
                    rows = await conn.fetch(
                        # ``select`` is one of the two literals below, never input.
                        f"SELECT {select} FROM pg_stat_activity "  # noqa: S608
                        "WHERE application_name LIKE $1 AND pid <> pg_backend_pid()",
                        pattern,
                    )
                finally:
                    await conn.close()
                found += [str(row[0]) for row in rows]
            return found

        return self.pg_run(query(), what)

    def lab_sessions(self, fault_id: str | None = None) -> list[str]:
        """Application names of lab-held sessions (of one fault, or all of them)."""
        return self._sessions("application_name", fault_id, "listing lab sessions")

    def terminate_sessions(self, fault_id: str | None = None) -> int:
        """End lab-held server sessions (of one fault, or all); returns how many."""
        ended = self._sessions("pg_terminate_backend(pid)", fault_id, "ending lab sessions")
        count = len(ended)
        wait_for(lambda: not self.lab_sessions(fault_id), "ending lab sessions", self.clock)
        return count

    # -- processes -----------------------------------------------------------------------

    def signal(self, pid: int, start_time: int | None, sig: int) -> bool:
        """Signal a recorded PID; False when it is gone (or the PID was reused)."""
        if not pid_alive(pid) or (start_time is not None and process_start_time(pid) != start_time):
            return False
        if not signal_pid(pid, start_time, sig):
            raise FaultError(f"could not send {signal.Signals(sig).name} to pid {pid}")
        return True

    def pause(self, pid: int, start_time: int | None) -> None:
        if not self.signal(pid, start_time, signal.SIGSTOP):
            raise FaultError(f"pid {pid} is not running")
        wait_for(lambda: process_state(pid) in ("T", "t"), f"SIGSTOP of pid {pid}", self.clock)

    def resume(self, pid: int, start_time: int | None) -> None:
        if self.signal(pid, start_time, signal.SIGCONT):
            wait_for(
                lambda: process_state(pid) not in ("T", "t"), f"SIGCONT of pid {pid}", self.clock
            )

    def kill(self, pid: int, start_time: int | None) -> None:
        if not self.signal(pid, start_time, signal.SIGKILL):
            raise FaultError(f"pid {pid} is not running")
        wait_for(lambda: not pid_alive(pid), f"SIGKILL of pid {pid}", self.clock)


def _text(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else ""
    if isinstance(raw, bytes):
        return raw.decode(errors="replace").strip()
    return str(raw).strip()
