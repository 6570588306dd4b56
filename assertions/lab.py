"""A running lab, seen from a test: endpoints, ready-made clients, fault switches, expectations.

    lab = Lab(read_state(Path(".chaoslab")))
    with lab.fault("storm", exception_rate=1.0, exception_type="LedgerMismatchError"):
        with lab.target() as target:
            target.get("/api/documents")
        lab.expect({
            "id": "storm-counted",
            "kind": "metric",
            "query": 'sum(app_exceptions_total{type="LedgerMismatchError"})',
            "threshold": 0,
            "window": {"fault": "storm", "within": "20s"},
        })

:meth:`Lab.check` polls one expectation with the real
:class:`~assertions.engine.Engine` until it settles or its deadline passes and
returns the :class:`~assertions.engine.Verdict`; :meth:`Lab.expect` does the
same and raises :class:`~assertions.exceptions.ExpectationFailed` (a failure:
the signal did not surface) or :class:`ExpectationError` (an error: a backend
could not be asked, or rejected the query). The pytest plugin
(:mod:`scenarios.pytest_plugin`, beside the runner) hands one ``Lab`` to
every test as the session-scoped ``lab`` fixture.

An *errored* verdict surfaces in a test as
:class:`~assertions.exceptions.ExpectationError`, a *failed* one as
:class:`~assertions.exceptions.ExpectationFailed`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from pydantic import TypeAdapter

from assertions.alertmanager import NotificationLogClient
from assertions.bugsink import BugsinkClient
from assertions.engine import Engine, FaultSpan, Verdict, utcnow
from assertions.exceptions import BackendUnavailable, ExpectationError, ExpectationFailed
from assertions.expectations import Expectation
from assertions.health import HealthClient
from assertions.logs import LogReader
from assertions.probes import Backends
from assertions.prometheus import PrometheusClient
from assertions.traces import JaegerClient
from stack.state import Endpoints, StackState

#: How long an expectation without a ``within`` is polled by :meth:`Lab.check`.
DEFAULT_TIMEOUT_S = 30.0
#: Extra time past a window's own deadline before :meth:`Lab.check` stops polling.
SLACK_S = 5.0
POLL_S = 0.5
RUN_HEADER = "X-Chaoslab-Run"
CHAOS_HEADER = "X-Chaos-Token"

EXPECTATION: TypeAdapter[Expectation] = TypeAdapter(Expectation)


def parse_expectation(value: Expectation | Mapping[str, object]) -> Expectation:
    """An expectation model from a model or from the dict a scenario file would hold."""
    if isinstance(value, Mapping):
        return EXPECTATION.validate_python(dict(value))
    return value


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


class Lab:
    """One running stack (local or already up) as a test uses it."""

    def __init__(self, state: StackState, run_id: str | None = None) -> None:
        self.state = state
        self.endpoints: Endpoints = state.endpoints
        #: Sent as ``X-Chaoslab-Run`` by :meth:`target`; the Sentry probe filters by it.
        self.run_id = run_id or f"pytest-{uuid.uuid4().hex[:12]}"
        ep = self.endpoints
        self.prometheus = PrometheusClient(ep.prometheus_url)
        self.notifications = NotificationLogClient(ep.webhook_url)
        self.traces = JaegerClient(ep.traces_url)
        self.sentry = BugsinkClient(ep.bugsink_url, ep.sentry_api_token, ep.sentry_project_id)
        self.health = HealthClient(ep.target_url)
        #: Log lines before this byte offset predate the lab and are never read.
        self.log_offset = _size(ep.target_log)
        #: Faults started by :meth:`fault`, by name: the windows expectations refer to.
        self.faults: dict[str, FaultSpan] = {}

    @property
    def state_dir(self) -> Path:
        return Path(self.state.state_dir)

    def logs(self) -> LogReader:
        """A reader of the target's JSON log from where the lab started."""
        return LogReader(self.endpoints.target_log, offset=self.log_offset)

    def backends(self, run_id: str | None = None) -> Backends:
        """Fresh clients for an :class:`~assertions.engine.Engine` (its own log reader)."""
        return Backends(
            prometheus=self.prometheus,
            notifications=self.notifications,
            traces=self.traces,
            sentry=self.sentry,
            logs=self.logs(),
            health=self.health,
            run_id=run_id or self.run_id,
        )

    def target(self, run_id: str | None = None, timeout: float = 10.0) -> httpx.Client:
        """An HTTP client of the target service whose requests carry the run id."""
        return httpx.Client(
            base_url=self.endpoints.target_url,
            headers={RUN_HEADER: run_id or self.run_id},
            timeout=timeout,
        )

    # -- faults -------------------------------------------------------------------------

    def _chaos(self, method: str, switches: Mapping[str, object] | None = None) -> None:
        url = self.endpoints.target_url + "/admin/chaos"
        try:
            response = httpx.request(
                method,
                url,
                headers={CHAOS_HEADER: self.endpoints.chaos_token},
                json=dict(switches) if switches is not None else None,
                timeout=10.0,
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                "target chaos API", url, str(exc) or type(exc).__name__
            ) from exc
        if response.is_error:
            raise BackendUnavailable(
                "target chaos API", url, f"HTTP {response.status_code}: {response.text[:300]}"
            )

    def reset_faults(self) -> None:
        """Turn every fault switch of the target off (``DELETE /admin/chaos``)."""
        self._chaos("DELETE")

    @contextmanager
    def fault(self, name: str, **switches: object) -> Iterator[FaultSpan]:
        """Turn the target's fault switches on for the block, recording the fault's span.

        The undo (every switch off) is armed before the switches are applied,
        so it runs even when applying them fails half-way or the block raises.
        """
        started: datetime | None = None
        try:
            self._chaos("PATCH", switches)
            started = utcnow()
            self.faults[name] = FaultSpan(started)
            yield self.faults[name]
        finally:
            self.reset_faults()
            if started is not None:
                self.faults[name] = FaultSpan(started, utcnow())

    # -- expectations -------------------------------------------------------------------

    def check(
        self,
        expectation: Expectation | Mapping[str, object],
        *,
        since: datetime | None = None,
        timeout: float | None = None,
        run_id: str | None = None,
        poll_s: float = POLL_S,
    ) -> Verdict:
        """Poll one expectation until it settles or its deadline passes; return its verdict.

        A window naming a fault uses the span :meth:`fault` recorded for it.
        A window without a fault opens at ``since`` (default: now) and lasts
        its ``within``, else ``timeout`` (default 30 s).
        """
        exp = parse_expectation(expectation)
        fault = exp.window.fault
        if fault is not None and fault not in self.faults:
            known = ", ".join(sorted(self.faults)) or "none yet"
            raise ValueError(
                f"{exp.id}: its window follows fault {fault!r}, which lab.fault() has not "
                f"started (started: {known})"
            )
        started = since or utcnow()
        within = exp.window.within
        budget = timeout if timeout is not None else (within or DEFAULT_TIMEOUT_S)
        run_ended = None
        if fault is None and within is None:
            run_ended = started + timedelta(seconds=budget)
        engine = Engine([exp], self.backends(run_id), started)
        stop_at = time.monotonic() + budget + SLACK_S
        while True:
            engine.poll(utcnow(), self.faults, run_ended)
            if engine.done or time.monotonic() >= stop_at:
                break
            time.sleep(poll_s)
        if not engine.done:
            engine.finish(utcnow(), self.faults)
        return engine.verdicts[0]

    def expect(
        self,
        expectation: Expectation | Mapping[str, object],
        *,
        since: datetime | None = None,
        timeout: float | None = None,
        run_id: str | None = None,
        poll_s: float = POLL_S,
    ) -> Verdict:
        """:meth:`check`, raising ``ExpectationFailed`` or ``ExpectationError`` unless passed."""
        __tracebackhide__ = True  # pytest shows the message, not this frame
        verdict = self.check(
            expectation, since=since, timeout=timeout, run_id=run_id, poll_s=poll_s
        )
        if verdict.status == "failed":
            raise ExpectationFailed(verdict.message)
        if verdict.status != "passed":
            raise ExpectationError(f"{verdict.id}: {verdict.status}: {verdict.message}")
        return verdict


__all__ = ["EXPECTATION", "ExpectationError", "Lab", "parse_expectation"]
