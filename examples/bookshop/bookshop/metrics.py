"""Prometheus metrics, in the process-wide default registry served at ``/metrics``.

Label conventions: ``endpoint`` is the Flask rule with converters stripped
(``/books/<book_id>``, never the raw path; ``unmatched`` when no rule
matched), ``code`` the HTTP status as text. ``/metrics`` itself is not counted.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from bookshop.exceptions import PricingFailure

# Up to 10 s: a request stuck behind the pool or a slow dependency still lands in a bucket.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# 0.5 s is a bucket boundary on purpose: the pricing alert's p95 threshold.
PRICING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0)

UNMATCHED = "unmatched"
ROUTED_ENDPOINTS = ("/books", "/books/<book_id>", "/orders", "/healthz", "/readyz")
DB_OPERATIONS = ("list_books", "get_book", "create_order", "readyz", "schema")
PRICING_FAILURE_REASONS: tuple[PricingFailure, ...] = ("timeout", "connect", "status")

REQUESTS = Counter(
    "bookshop_requests_total",
    "HTTP requests answered, by endpoint rule and status code.",
    ["endpoint", "code"],
)
REQUEST_LATENCY = Histogram(
    "bookshop_request_latency_seconds",
    "Time from request start to response, by endpoint rule.",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)
DB_ERRORS = Counter(
    "bookshop_db_errors_total",
    "PostgreSQL failures (connection, pool wait, statement timeout), by operation.",
    ["operation"],
)
PRICING_LATENCY = Histogram(
    "bookshop_pricing_latency_seconds",
    "Duration of every pricing lookup, failed ones included (its _count is all lookups).",
    buckets=PRICING_BUCKETS,
)
PRICING_FAILURES = Counter(
    "bookshop_pricing_failures_total",
    "Pricing lookups that failed, by reason: timeout, connect or status.",
    ["reason"],
)


def preregister() -> None:
    """Export the failure series at 0 from the start, so ``rate()`` sees their first rise."""
    for operation in DB_OPERATIONS:
        DB_ERRORS.labels(operation=operation)
    for reason in PRICING_FAILURE_REASONS:
        PRICING_FAILURES.labels(reason=reason)
    for endpoint in ("/books", "/books/<book_id>", "/orders"):
        for code in ("500", "502", "503"):
            REQUESTS.labels(endpoint=endpoint, code=code)
