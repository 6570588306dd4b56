"""PrometheusClient on responses recorded from a real Prometheus 2.x (see recorded/record.py)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest

from assertions import (
    AlertingRule,
    MatrixResult,
    PrometheusClient,
    QueryError,
    ScalarResult,
    StringResult,
    UnexpectedResponse,
    VectorResult,
)
from assertions.promql import Sample
from tests.unit.recorded.replay import Replay, dig_list, recorded


def client(*fixtures: str) -> tuple[PrometheusClient, Replay]:
    replay = Replay(*fixtures)
    return PrometheusClient("http://prometheus.test", transport=replay.transport), replay


def test_instant_vector_parses_labels_values_and_times() -> None:
    prom, replay = client("prometheus_query_vector")

    result = prom.query("up")

    assert isinstance(result, VectorResult)
    assert result.query == "up"
    [series] = result.series
    assert series.labels["job"] == "target"
    assert series.labels["__name__"] == "up"
    assert series.value == 1.0
    assert series.sample.at.tzinfo is UTC
    assert series.sample.at.year >= 2024
    assert replay.last.url.params["query"] == "up"


def test_instant_query_sends_time_and_timeout() -> None:
    prom, replay = client("prometheus_query_vector")
    at = datetime(2024, 6, 1, 12, 0, 0, 500_000, tzinfo=UTC)

    prom.query("up", at=at, timeout=timedelta(seconds=2))

    assert replay.last.url.params["time"] == f"{at.timestamp():.3f}"
    assert replay.last.url.params["timeout"] == "2s"


def test_vector_with_several_series_reports_its_highest_point() -> None:
    prom, _ = client("prometheus_query_vector_multi")

    result = prom.query("sum by (route, status) (rate(...))")

    assert isinstance(result, VectorResult)
    assert len(result.series) > 1
    highest = result.max_point()
    assert highest is not None
    assert highest.value == max(s.value for s in result.series)
    assert set(highest.labels) == {"route", "status"}
    assert "=" in highest.describe()


def test_empty_vector_has_no_highest_point() -> None:
    prom, _ = client("prometheus_query_empty")

    result = prom.query('up{job="does-not-exist"}')

    assert isinstance(result, VectorResult)
    assert result.series == []
    assert result.max_point() is None


def test_scalar_and_string_results() -> None:
    prom, _ = client("prometheus_query_scalar")
    scalar = prom.query("scalar(up)")
    assert isinstance(scalar, ScalarResult)
    assert scalar.sample.value == 1.0
    assert [p.value for p in scalar.points()] == [1.0]

    prom, _ = client("prometheus_query_string")
    text = prom.query('"chaoslab"')
    assert isinstance(text, StringResult)
    assert text.value == "chaoslab"
    assert text.points() == []


def test_range_query_returns_a_matrix_in_time_order() -> None:
    prom, replay = client("prometheus_query_range")
    start = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

    matrix = prom.query_range("rate(...)", start, start + timedelta(minutes=1), step=2)

    assert isinstance(matrix, MatrixResult)
    [series] = matrix.series
    assert series.labels == {"type": "PoolCheckoutTimeout"}
    times = [s.at for s in series.samples]
    assert times == sorted(times)
    recorded_values = dig_list(
        recorded("prometheus_query_range").body, "data", "result", 0, "values"
    )
    assert len(series.samples) == len(recorded_values) > 3
    highest = matrix.max_point()
    assert highest is not None
    assert highest.value > 0.5
    params = replay.last.url.params
    assert params["step"] == "2"
    assert params["start"] == f"{start.timestamp():.3f}"


def test_special_float_values() -> None:
    nan = Sample.model_validate([1717243200, "NaN"])
    inf = Sample.model_validate([1717243200.5, "+Inf"])
    assert math.isnan(nan.value)
    assert inf.value == math.inf
    assert inf.at == datetime(2024, 6, 1, 12, 0, 0, 500_000, tzinfo=UTC)


def test_bad_promql_is_a_query_error_carrying_the_query() -> None:
    prom, _ = client("prometheus_query_bad_data")

    with pytest.raises(QueryError) as caught:
        prom.query("sum(rate(")

    assert caught.value.query == "sum(rate("
    assert caught.value.error_type == "bad_data"
    assert "parse error" in caught.value.message
    assert "sum(rate(" in str(caught.value)


def test_alerts_parse_state_value_and_activation() -> None:
    prom, _ = client("prometheus_alerts")

    alerts = prom.alerts()

    storm = next(a for a in alerts if a.name == "ExceptionStorm")
    assert storm.firing
    assert storm.labels["type"] == "PoolCheckoutTimeout"
    assert storm.value > 0.5
    assert storm.active_at is not None
    assert storm.active_at.tzinfo is not None
    assert storm.annotations["runbook_url"] == "docs/runbooks/exception-storm.md"


def test_rules_are_typed_by_kind_and_carry_their_alerts() -> None:
    prom, replay = client("prometheus_rules")

    groups = prom.rules()

    [group] = groups
    assert group.file.endswith("alerts.yml")  # the bundled rules, or their lab-time copy
    names = {rule.name for rule in group.rules}
    assert {"DatabasePoolSaturated", "ExceptionStorm", "TargetDown"} <= names
    storm = next(r for r in group.rules if r.name == "ExceptionStorm")
    assert isinstance(storm, AlertingRule)
    assert storm.duration_s == 5
    assert storm.health == "ok"
    assert storm.state == "firing"
    assert [a.name for a in storm.alerts] == ["ExceptionStorm"]
    assert "type" not in replay.last.url.params


def test_alerting_rule_lookup() -> None:
    prom, replay = client("prometheus_rules")

    rule = prom.alerting_rule("TargetDown")

    assert rule is not None
    assert rule.query == 'up{job="target"} == 0'
    assert replay.last.url.params["type"] == "alert"
    assert prom.alerting_rule("NoSuchAlert") is None


def test_an_undocumented_answer_is_unexpected_not_a_missing_signal() -> None:
    prom, _ = client()  # nothing recorded for the path: the replay answers 418

    with pytest.raises(UnexpectedResponse) as caught:
        prom.alerts()

    assert caught.value.status_code == 418
    assert caught.value.backend == "prometheus"


def test_a_nan_sample_survives_a_json_round_trip() -> None:
    import math

    from assertions.promql import MatrixResult

    raw = {
        "resultType": "matrix",
        "result": [{"metric": {"a": "b"}, "values": [[1700000000, "NaN"], [1700000001, "0.5"]]}],
    }
    result = MatrixResult.model_validate(raw)
    again = MatrixResult.model_validate_json(result.model_dump_json())
    values = [sample.value for sample in again.series[0].samples]
    assert math.isnan(values[0])
    assert values[1] == 0.5


def test_raw_samples_are_the_stored_samples_of_a_range_selector() -> None:
    prom, replay = client("prometheus_query_raw_samples")
    fixture = recorded("prometheus_query_raw_samples")
    end = datetime.fromtimestamp(float(fixture.request.params["time"]), UTC)

    matrix = prom.raw_samples('db_pool_waiting{job="target"}', end - timedelta(seconds=20), end)

    assert replay.last.url.params["query"] == 'db_pool_waiting{job="target"}[20000ms]'
    assert replay.last.url.params["time"] == f"{end.timestamp():.3f}"
    [series] = matrix.series
    assert series.labels["__name__"] == "db_pool_waiting"
    times = [s.at.timestamp() for s in series.samples]
    # scrape times, one a second (not a grid of the query's choosing)
    assert len(times) >= 15
    assert all(0.5 < b - a < 1.5 for a, b in itertools.pairwise(times))


def test_raw_samples_of_an_instant_answer_is_a_query_error() -> None:
    prom, _ = client("prometheus_query_vector")
    now = datetime.now(UTC)
    with pytest.raises(QueryError, match="expected a matrix"):
        prom.raw_samples("up", now - timedelta(seconds=5), now)
