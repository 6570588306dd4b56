"""HealthClient on responses recorded from the real target service."""

from __future__ import annotations

import httpx

from assertions import HealthClient
from tests.unit.recorded.replay import Replay


def test_liveness() -> None:
    health = HealthClient("http://target.test", transport=Replay("health_liveness").transport)

    observed = health.liveness()

    assert observed.probe == "liveness"
    assert observed.status_code == 200
    assert observed.healthy
    assert observed.report is not None
    assert observed.report.status == "ok"
    assert observed.url == "http://target.test/liveness"


def test_readiness_ok_reports_each_check() -> None:
    health = HealthClient("http://target.test", transport=Replay("health_readiness_ok").transport)

    observed = health.readiness()

    assert observed.healthy
    assert observed.report is not None
    assert {c.name for c in observed.report.checks} == {"postgres", "classifier"}
    postgres = observed.report.check("postgres")
    assert postgres is not None
    assert postgres.ok
    assert postgres.error is None
    assert postgres.duration_ms > 0
    assert observed.failing == []


def test_failing_readiness_is_an_observation_not_an_error() -> None:
    replay = Replay("health_readiness_failing")
    health = HealthClient("http://target.test", transport=replay.transport)

    observed = health.readiness()

    assert observed.status_code == 503
    assert not observed.healthy
    assert observed.failing == ["classifier"]
    classifier = observed.report.check("classifier") if observed.report else None
    assert classifier is not None
    assert not classifier.ok
    assert classifier.error is not None
    assert "ConnectError" in classifier.error
    assert observed.describe() == (
        "readiness HTTP 503 fail (classifier: ConnectError: All connection attempts failed)"
    )


def test_an_undocumented_body_is_kept_as_text() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(502, text="Bad Gateway"))
    health = HealthClient("http://target.test", transport=transport)

    observed = health.readiness()

    assert observed.report is None
    assert observed.body == "Bad Gateway"
    assert not observed.healthy
