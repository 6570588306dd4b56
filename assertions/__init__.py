"""Signals of a chaos run: clients for every backend that can show an incident.

Each client returns typed models and raises only the exceptions documented in
:mod:`assertions.exceptions` — a backend that cannot be asked is
:class:`BackendUnavailable`, never a missing signal.

* metrics and alerts — :class:`PrometheusClient` (instant/range queries,
  ``/api/v1/alerts``, ``/api/v1/rules``);
* notifications — :class:`AlertmanagerClient` (v2 API) and
  :class:`NotificationLogClient` (the lab's webhook receiver);
* traces — :class:`JaegerClient` (Jaeger query API: embedded trace store or
  real Jaeger) returning :class:`Trace` with its span tree;
* errors — the :class:`SentryBackend` interface, :class:`BugsinkClient`;
* logs — :class:`LogReader` (JSON lines from a byte offset);
* health — :class:`HealthClient` (``/readiness``, ``/liveness``).
"""

from assertions.alertmanager import (
    AlertmanagerAlert,
    AlertmanagerClient,
    AlertmanagerStatus,
    AlertStatus,
    Notification,
    NotificationLogClient,
    WebhookAlert,
    WebhookPayload,
)
from assertions.bugsink import BugsinkClient
from assertions.exceptions import (
    AssertionsError,
    BackendNotConfigured,
    BackendUnavailable,
    ExpectationError,
    ExpectationFailed,
    QueryError,
    UnexpectedResponse,
)
from assertions.health import HealthCheck, HealthClient, HealthObservation, HealthReport, Probe
from assertions.logs import LogBatch, LogReader, LogRecord
from assertions.prometheus import (
    AlertingRule,
    AlertState,
    PrometheusAlert,
    PrometheusClient,
    RecordingRule,
    RuleGroup,
)
from assertions.promql import (
    Labels,
    MatrixResult,
    Point,
    QueryResult,
    RangeSeries,
    Sample,
    ScalarResult,
    Series,
    StringResult,
    VectorResult,
)
from assertions.sentry import (
    SentryBackend,
    SentryEvent,
    SentryEventRef,
    SentryException,
    SentryIssue,
    latest_events,
)
from assertions.spans import Attributes, AttributeValue, Span, SpanLog, SpanReference, Trace
from assertions.traces import JaegerClient

__all__ = [
    "AlertState",
    "AlertStatus",
    "AlertingRule",
    "AlertmanagerAlert",
    "AlertmanagerClient",
    "AlertmanagerStatus",
    "AssertionsError",
    "AttributeValue",
    "Attributes",
    "BackendNotConfigured",
    "BackendUnavailable",
    "BugsinkClient",
    "ExpectationError",
    "ExpectationFailed",
    "HealthCheck",
    "HealthClient",
    "HealthObservation",
    "HealthReport",
    "JaegerClient",
    "Labels",
    "LogBatch",
    "LogReader",
    "LogRecord",
    "MatrixResult",
    "Notification",
    "NotificationLogClient",
    "Point",
    "Probe",
    "PrometheusAlert",
    "PrometheusClient",
    "QueryError",
    "QueryResult",
    "RangeSeries",
    "RecordingRule",
    "RuleGroup",
    "Sample",
    "ScalarResult",
    "SentryBackend",
    "SentryEvent",
    "SentryEventRef",
    "SentryException",
    "SentryIssue",
    "Series",
    "Span",
    "SpanLog",
    "SpanReference",
    "StringResult",
    "Trace",
    "UnexpectedResponse",
    "VectorResult",
    "WebhookAlert",
    "WebhookPayload",
    "latest_events",
]
