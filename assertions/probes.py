"""One look at one backend for one expectation: did the signal show, and what was seen.

Each probe returns an :class:`Observation`: whether the expectation's
condition held at that look, a one-line account of what was observed, the
query that was asked, and (on a miss) the closest thing seen so far.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from assertions.alertmanager import NotificationLogClient
from assertions.exceptions import BackendNotConfigured
from assertions.expectations import (
    COMPARE,
    AlertExpectation,
    AttributeCondition,
    HealthExpectation,
    LogExpectation,
    MetricExpectation,
    SentryExpectation,
    SpanRelation,
    TraceExpectation,
)
from assertions.health import HealthClient
from assertions.logs import LogReader, LogRecord
from assertions.prometheus import PrometheusClient
from assertions.sentry import SentryBackend
from assertions.spans import AttributeValue, Span, Trace
from assertions.traces import JaegerClient

TRACE_LIMIT = 200
EVENT_SAMPLE = 5

Client = TypeVar("Client")


@dataclass(frozen=True)
class Observation:
    satisfied: bool
    observed: str
    query: str
    #: A number to rank misses by (highest metric value, matching span count...).
    score: float | None = None


@dataclass
class Backends:
    """The clients an expectation can ask; a missing one makes its expectations errors."""

    prometheus: PrometheusClient | None = None
    notifications: NotificationLogClient | None = None
    traces: JaegerClient | None = None
    sentry: SentryBackend | None = None
    logs: LogReader | None = None
    health: HealthClient | None = None
    run_id: str = ""
    _log_records: list[LogRecord] = field(default_factory=list)

    def new_log_records(self) -> list[LogRecord]:
        """Every log record since the engine started (read incrementally)."""
        logs = need(self.logs, "the target's log", "log")
        self._log_records.extend(logs.poll().records)
        return self._log_records


def need(client: Client | None, backend: str, kind: str) -> Client:
    """``client``, or :class:`BackendNotConfigured` (an ``error`` verdict) when there is none."""
    if client is None:
        raise BackendNotConfigured(backend, kind)
    return client


def observe_metric(exp: MetricExpectation, b: Backends) -> Observation:
    prometheus = need(b.prometheus, "Prometheus", exp.kind)
    result = prometheus.query(exp.query)
    values = [point.value for point in result.points()]
    compare = COMPARE[exp.op]
    satisfied = any(compare(v, exp.threshold) for v in values)
    if not values:
        return Observation(False, "no series (the query returned nothing)", exp.query)
    best = max(values)
    return Observation(satisfied, f"value {best:g}", exp.query, best)


def observe_alert(exp: AlertExpectation, b: Backends, since: datetime) -> Observation:
    query = f"alert {exp.alert} {exp.state}"
    seen: list[str] = []
    in_prometheus = in_webhook = False
    if exp.via in ("prometheus", "both"):
        alerts = need(b.prometheus, "Prometheus", exp.kind).alerts()
        named = [a for a in alerts if a.name == exp.alert]
        if exp.state == "firing":
            in_prometheus = any(a.firing for a in named)
        else:
            in_prometheus = not any(a.firing for a in named)
        states = sorted({str(a.state) for a in named}) or ["inactive"]
        seen.append(f"Prometheus: {exp.alert} {'/'.join(states)}")
        others = sorted({a.name for a in alerts if a.firing and a.name != exp.alert})
        if others:
            seen.append(f"other firing alerts: {', '.join(others)}")
    if exp.via in ("alertmanager", "both"):
        notifications = need(b.notifications, "the Alertmanager webhook", exp.kind)
        notified = notifications.alerts(exp.alert, exp.state, since=since)
        in_webhook = bool(notified)
        seen.append(f"webhook: {len(notified)} {exp.state} notification(s) of {exp.alert}")
    satisfied = {
        "prometheus": in_prometheus,
        "alertmanager": in_webhook,
        "both": in_prometheus and in_webhook,
    }[exp.via]
    return Observation(satisfied, "; ".join(seen), query, float(in_prometheus + in_webhook))


def _attribute_ok(span: Span, condition: AttributeCondition) -> bool:
    actual = span.attribute(condition.key)
    if actual is None:
        return condition.op == "!="
    want = condition.value
    if condition.op == "contains":
        return str(want) in str(actual)
    if condition.op in ("<", ">"):
        try:
            a, w = float(actual), float(want)
        except (TypeError, ValueError):
            return False
        return a < w if condition.op == "<" else a > w
    equal = str(actual).lower() == str(want).lower()
    return equal if condition.op == "=" else not equal


def _relation_ok(span: Span | None, relation: SpanRelation) -> bool:
    if span is None:
        return False
    if relation.service is not None and span.service != relation.service:
        return False
    return relation.operation is None or span.operation == relation.operation


def _ancestors(trace: Trace, span: Span) -> Iterable[Span]:
    parent = trace.parent(span)
    while parent is not None:
        yield parent
        parent = trace.parent(parent)


def span_misses(exp: TraceExpectation, trace: Trace, span: Span) -> list[str]:
    """The conditions ``span`` fails (empty when it matches)."""
    misses: list[str] = []
    if span.service != exp.service:
        misses.append(f"service {span.service} != {exp.service}")
    if exp.operation is not None and span.operation != exp.operation:
        misses.append(f"operation {span.operation} != {exp.operation}")
    misses += [
        f"attribute {c.key} {c.op} {c.value!r} (has {span.attribute(c.key)!r})"
        for c in exp.attributes
        if not _attribute_ok(span, c)
    ]
    if exp.min_duration is not None and span.duration_s < exp.min_duration:
        misses.append(f"duration {span.duration_s:.3f}s < {exp.min_duration:g}s")
    if exp.max_duration is not None and span.duration_s > exp.max_duration:
        misses.append(f"duration {span.duration_s:.3f}s > {exp.max_duration:g}s")
    if exp.error is not None and span.error != exp.error:
        misses.append(f"error={span.error}")
    if exp.parent is not None and not _relation_ok(trace.parent(span), exp.parent):
        misses.append("parent does not match")
    if exp.descendant_of is not None and not any(
        _relation_ok(a, exp.descendant_of) for a in _ancestors(trace, span)
    ):
        misses.append("no matching ancestor")
    return misses


def observe_trace(exp: TraceExpectation, b: Backends, since: datetime) -> Observation:
    client = need(b.traces, "the trace store", exp.kind)
    # Let the backend filter on what it can (equality tags, error status), so the
    # newest TRACE_LIMIT traces are candidates rather than whatever came last.
    tags: dict[str, AttributeValue] = {c.key: c.value for c in exp.attributes if c.op == "="}
    if exp.error:
        tags["error"] = True
    traces = client.find_traces(
        exp.service,
        operation=exp.operation,
        tags=tags or None,
        start=since,
        min_duration=exp.min_duration,
        max_duration=exp.max_duration,
        limit=TRACE_LIMIT,
    )
    query = f"traces service={exp.service} operation={exp.operation} since {since:%H:%M:%S}"
    matching = 0
    near: str | None = None
    for trace in traces:
        for span in trace.spans:
            if span.start < since:
                continue
            misses = span_misses(exp, trace, span)
            if not misses:
                matching += 1
            elif len(misses) == 1 and near is None and span.service == exp.service:
                near = f"{span.describe()} missed only: {misses[0]}"
    enough = matching >= exp.at_least
    satisfied = enough and (exp.at_most is None or matching <= exp.at_most)
    observed = f"{matching} matching span(s) in {len(traces)} trace(s)"
    if not enough and near is None:
        near = _closest_span(exp, client, since)
    if near is not None and not enough:
        observed += f"; closest: {near}"
    return Observation(satisfied, observed, query, float(matching))


def _closest_span(exp: TraceExpectation, traces: JaegerClient, since: datetime) -> str | None:
    """When the backend's filters left nothing: the span of the service that came nearest."""
    found = traces.find_traces(exp.service, start=since, limit=50)
    best: tuple[int, Span, list[str]] | None = None
    for trace in found:
        for span in trace.spans:
            if span.service != exp.service or span.start < since:
                continue
            misses = span_misses(exp, trace, span)
            if misses and (best is None or len(misses) < best[0]):
                best = (len(misses), span, misses)
    if best is None:
        return None
    _count, span, misses = best
    return f"{span.describe()} missed: {'; '.join(misses)}"


def observe_sentry(exp: SentryExpectation, b: Backends, since: datetime) -> Observation:
    sentry = need(b.sentry, "Sentry (Bugsink)", exp.kind)
    tags = {"run_id": b.run_id, **exp.tags} if b.run_id else dict(exp.tags)
    issues = [i for i in sentry.issues(tags=tags) if i.last_seen >= since]
    query = "sentry issues tagged " + ", ".join(f"{k}:{v}" for k, v in tags.items())
    matching = []
    for issue in issues:
        if exp.exception_type is not None and issue.exception_type != exp.exception_type:
            continue
        if exp.fingerprint is not None or exp.level is not None:
            refs = sentry.events(issue.id, limit=1)
            event = sentry.event(refs[0].id) if refs else None
            if event is None:
                continue
            if exp.fingerprint is not None and event.fingerprint != exp.fingerprint:
                continue
            if exp.level is not None and event.level != exp.level:
                continue
        if issue.event_count < exp.min_events:
            continue
        if exp.max_events is not None and issue.event_count > exp.max_events:
            continue
        matching.append(issue)
    satisfied = bool(matching) and (exp.max_issues is None or len(matching) <= exp.max_issues)
    seen = "; ".join(i.describe() for i in issues[:EVENT_SAMPLE]) or "no issue"
    observed = f"{len(matching)} matching of {len(issues)} issue(s): {seen}"
    return Observation(satisfied, observed, query, float(len(matching)))


def observe_log(exp: LogExpectation, b: Backends, since: datetime) -> Observation:
    records = b.new_log_records()
    query = f"log event={exp.event} fields={exp.fields}"
    count = 0
    same_event = 0
    for record in records:
        stamp = record.timestamp
        if stamp is not None and stamp < since:
            continue
        if record.event != exp.event:
            continue
        same_event += 1
        if exp.level is not None and record.level != exp.level:
            continue
        if any(str(record.get(k)) != str(v) for k, v in exp.fields.items()):
            continue
        if any(record.get(k) in (None, "") for k in exp.require_fields):
            continue
        count += 1
    observed = f"{count} matching line(s); {same_event} line(s) with event {exp.event}"
    return Observation(count >= exp.min_count, observed, query, float(count))


def observe_health(exp: HealthExpectation, b: Backends) -> Observation:
    seen = need(b.health, "the target's health endpoints", exp.kind).probe(exp.probe)
    failing = seen.report.failing if seen.report is not None else []
    satisfied = seen.status_code == exp.status and (exp.failing is None or exp.failing in failing)
    observed = f"/{exp.probe} answered {seen.status_code}" + (
        f" failing {', '.join(failing)}" if failing else ""
    )
    return Observation(satisfied, observed, f"GET /{exp.probe}", float(seen.status_code))
