"""Steady-state probes as expectations.

Chaos Toolkit checks the steady-state hypothesis before the method and again
after it, before the rollbacks. The lab checks its stack is healthy before a
run starts, so each probe becomes the *after* check: an expectation whose
window opens when the last fault ends (the caller sets it).

* ``http`` probe of the target's ``/readiness`` or ``/liveness`` (any host),
  ``GET``, tolerance a status (``200``, ``[200]``, or a ``range`` on ``status``
  of one value) → ``health`` expectation with that status.
* ``python`` probe ``chaosprometheus.probes.query`` with a ``jsonpath``
  tolerance on the sample values (``$.data.result[0].value[1]``,
  ``$.data.result[*].value[1]``, ``$..value[1]``): with ``expect`` (a numeric
  string: Prometheus returns values as strings) → ``metric`` expectation
  ``QUERY == value``; with ``count: N`` → ``count(QUERY) or vector(0) == N``;
  with neither → ``count(QUERY) > 0`` (some series exists).

Every other tolerance form (bool, string, regex, probe, a range on a
Prometheus answer, which is never a number) and every other provider is a
problem at its JSON path.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from assertions.expectations import Expectation, HealthExpectation, MetricExpectation
from scenarios.importers.actions import Context
from scenarios.importers.experiment import Node

PROMETHEUS_MODULE = "chaosprometheus.probes"
HEALTH_PATHS = {"/readiness": "readiness", "/liveness": "liveness"}
_VALUE_PATH = re.compile(r"^\$(?:\.data\.result\[(0|\*)\]\.|\.\.)value\[1\]$")
_SERIES_PATH = re.compile(r"^\$\.data\.result(?:\[\*\])?$")
_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def probe_expectation(probe: Node, ctx: Context) -> Expectation | None:
    """The expectation one hypothesis probe maps to, or None (the reason is in the findings)."""
    for key in probe.names():
        if key not in ("type", "name", "provider", "tolerance", "timeout", "ref"):
            ctx.findings.reject(probe.child(key), "not a key of a steady-state probe")
    if probe.child("type").value != "probe":
        ctx.findings.reject(probe.child("type"), "the steady-state hypothesis holds probes")
        return None
    ident = _ID_CHARS.sub("-", str(probe.child("name").value or "probe")).strip("-")[:80]
    description = f"steady state: {probe.child('name').value} ({probe.path})"
    provider = probe.child("provider")
    kind = provider.child("type").value
    if kind == "http":
        return _http(probe, provider, ident or "probe", description, ctx)
    if kind == "python" and provider.child("module").value == PROMETHEUS_MODULE:
        return _prometheus(probe, provider, ident or "probe", description, ctx)
    where = provider.child("module") if kind == "python" else provider.child("type")
    ctx.findings.reject(
        where,
        "no expectation of the lab answers this probe (it maps http probes of /readiness "
        f"and /liveness, and {PROMETHEUS_MODULE}.query)",
    )
    return None


def _http(
    probe: Node, provider: Node, ident: str, description: str, ctx: Context
) -> Expectation | None:
    for key in provider.names():
        if key in ("headers", "timeout", "verify_tls", "max_retries"):
            ctx.findings.note(provider.child(key), "not needed: the lab probes its own target")
        elif key not in ("type", "url", "method"):
            ctx.findings.reject(provider.child(key), "the lab's health probe sends no arguments")
    method = provider.child("method")
    if str(method.value or "GET").upper() != "GET":
        ctx.findings.reject(method, "the lab's health probe is a GET")
    url = provider.child("url")
    path = _url_path(str(url.value or ""))
    base = re.match(r"^\$\{([^}]+)\}", str(url.value or ""))
    if base is not None and ctx.configuration.known(base.group(1), url):
        ctx.configuration.used.add(base.group(1))
    if "${" in path:
        path = ctx.configuration.resolve(Node(path, url.path)).text() or path
    health = HEALTH_PATHS.get(path.rstrip("/") or "/")
    if health is None:
        ctx.findings.reject(
            provider.child("url"),
            f"path {path!r} is not one the lab's health expectations probe "
            f"({', '.join(HEALTH_PATHS)})",
        )
    status = _status(probe.child("tolerance"), ctx)
    if health is None or status is None:
        return None
    return HealthExpectation(
        id=ident,
        description=description,
        probe=health,
        status=status,
    )


def _url_path(url: str) -> str:
    """The path of ``url``; a leading ``${base}`` (the target's address: the lab's) is skipped."""
    if url.startswith("${") and "}" in url:
        return url.split("}", 1)[1] or "/"
    return urlsplit(url).path or "/"


def _status(tolerance: Node, ctx: Context) -> int | None:
    value = tolerance.value
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(tolerance.value, dict) and tolerance.value.get("type") == "range":
        bounds = tolerance.value.get("range")
        if (
            tolerance.value.get("target") == "status"
            and isinstance(bounds, list)
            and len(bounds) == 2
            and bounds[0] == bounds[1]
        ):
            value = bounds[0]
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    ctx.findings.reject(
        tolerance,
        f"tolerance {_short(tolerance.value)}: a health expectation checks one HTTP status "
        "(write it as 200, [200], or a range on status of one value)",
    )
    return None


def _prometheus(
    probe: Node, provider: Node, ident: str, description: str, ctx: Context
) -> Expectation | None:
    func = provider.child("func")
    if func.value != "query":
        ctx.findings.reject(
            func,
            f"{PROMETHEUS_MODULE}.{func.value} has no expectation in the lab: it reads a "
            "past interval or a mean, the lab evaluates instant queries during the run "
            "(use query)",
        )
        return None
    args = provider.child("arguments")
    for key in args.names():
        if key in ("timeout", "verify_tls"):
            ctx.findings.note(args.child(key), "not needed: the lab queries its own Prometheus")
        elif key != "query":
            ctx.findings.reject(
                args.child(key),
                "the lab evaluates the query during the run, not at another time"
                if key == "when"
                else "not an argument of query",
            )
    query = ctx.configuration.resolve(args.child("query")).text()
    if not query:
        ctx.findings.reject(args.child("query"), "a PromQL query (a non-empty string)")
    condition = _condition(probe.child("tolerance"), ctx)
    if not query or condition is None:
        return None
    promql, op, threshold = condition
    return MetricExpectation(
        id=ident,
        description=description,
        query=promql.format(query=query),
        op=op,
        threshold=threshold,
    )


def _condition(tolerance: Node, ctx: Context) -> tuple[str, str, float] | None:
    """``(query template, op, threshold)`` of a jsonpath tolerance on a Prometheus answer."""
    value = tolerance.value
    if not isinstance(value, dict) or value.get("type") != "jsonpath":
        ctx.findings.reject(
            tolerance,
            f"tolerance {_short(value)}: on a Prometheus answer (a JSON document) only a "
            "jsonpath tolerance on the sample values maps to a metric expectation",
        )
        return None
    for key in value:
        if key not in ("type", "path", "expect", "count"):
            ctx.findings.reject(tolerance.child(str(key)), "not mapped (target, ...): drop it")
            return None
    path = re.sub(r"\s+", "", str(value.get("path", "")))
    if "count" in value:
        count = value["count"]
        if _VALUE_PATH.match(path) is None and _SERIES_PATH.match(path) is None:
            ctx.findings.reject(tolerance.child("path"), "count the series: $.data.result[*]")
            return None
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            ctx.findings.reject(tolerance.child("count"), "a count is a whole number")
            return None
        if "expect" in value:
            ctx.findings.reject(tolerance.child("expect"), "give count or expect, not both")
            return None
        return "count({query}) or vector(0)", "==", float(count)
    match = _VALUE_PATH.match(path)
    if match is None:
        ctx.findings.reject(
            tolerance.child("path"),
            f"path {path!r} does not select the sample values ($.data.result[0].value[1], "
            "$.data.result[*].value[1] or $..value[1])",
        )
        return None
    if match.group(1) == "0":
        ctx.findings.note(
            tolerance.child("path"),
            "Chaos Toolkit reads the first series, the lab compares every series the query "
            "returns: the same for a query that returns one series (aggregate it)",
        )
    if "expect" not in value:
        return "count({query})", ">", 0.0
    expect = value["expect"]
    if isinstance(expect, list) and len(expect) == 1:
        expect = expect[0]
    if isinstance(expect, str):
        try:
            return "{query}", "==", float(expect)
        except ValueError:
            pass
    ctx.findings.reject(
        tolerance.child("expect"),
        f"expect {_short(expect)}: Prometheus returns one sample value as a string "
        '(e.g. "0"), so only a numeric string (or a list of one) ever matches',
    )
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["HEALTH_PATHS", "PROMETHEUS_MODULE", "probe_expectation"]
