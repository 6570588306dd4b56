"""The two files init writes: ``profile.yaml`` and ``first-scenario.yaml``, as text.

The profile holds what the service answered and the proposed request mix; the
first scenario is steady load on the healthy service, no fault, and
expectations that hold on a healthy service. Comments explain the parts a
person fills in (dependencies, environment, rules).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scenarios.scaffold.mix import GET_WEIGHT, MAX_REQUESTS, WRITE_WEIGHT, Mix
from scenarios.scaffold.probe import METRICS_PATHS, OPENAPI_PATHS, Discovery
from scenarios.scaffold.yamltext import comment, dump, fill, schema_header, with_comment

PROFILE_FILE = "profile.yaml"
SCENARIO_FILE = "first-scenario.yaml"

_REPO = Path(__file__).resolve().parents[2]
PROFILE_SCHEMA = _REPO / "stack" / "profile.schema.json"
SCENARIO_SCHEMA = _REPO / "scenarios" / "scenario.schema.json"


def render_profile(name: str, found: Discovery, mix: Mix, out_dir: Path) -> str:
    """The text of ``profile.yaml``."""
    ready = found.ready or "/"
    health: dict[str, str] = {"ready": ready}
    if found.live is not None:
        health["live"] = found.live
    openapi = (
        f"the OpenAPI document at {found.openapi_path}"
        if found.openapi_path
        else "no OpenAPI document"
    )
    parts = [
        schema_header(PROFILE_SCHEMA, out_dir),
        comment(
            fill(
                f"The service at {found.url} as a chaoslab target profile, written by "
                f"`chaoslab init`. Found: health {ready}"
                + (f" (live {found.live})" if found.live else "")
                + f", metrics {found.metrics or 'none'}, {openapi}."
            )
            + "\nRead it through and fill in what only you know: dependencies, env, rules."
        ),
        dump({"name": name, "description": f"the service at {found.url} (chaoslab init)"}),
        with_comment({"service": name}, "its service name in traces (OTEL_SERVICE_NAME)"),
        with_comment({"url": found.url}, "you run it; the lab attaches to it"),
    ]
    if found.ready_failed:
        parts.append(comment(f"{ready} answered {found.ready_status} when init asked."))
    parts.append(dump({"health": health}))
    if found.metrics is not None:
        parts.append(dump({"metrics": [found.metrics]}))
    else:
        parts.append(
            comment(
                "Prometheus text was found at none of "
                f"{', '.join(METRICS_PATHS)}: the lab refuses to start\n"
                "this target until its metrics path answers. Expose one, or fix the path."
            )
        )
        parts.append(dump({"metrics": ["/metrics"]}))
    parts.append(with_comment({"job": name}, "its Prometheus job label: up{job=...}"))
    parts.append("\n" + comment(_TEMPLATE.replace("NAME_", name)))
    parts.append("\n" + comment(_load_comment(found, mix)))
    load_section: dict[str, Any] = {"requests": mix.requests}
    if mix.vars:
        load_section["vars"] = mix.vars
    parts.append(dump({"load": load_section}))
    return "".join(parts)


_TEMPLATE = """\
env: what the lab hands the service. You run this one yourself (url:), so
`chaoslab up --target profile.yaml` prints these for you to export before you
start it. ${...} placeholders are filled in by the lab:
env:
  DATABASE_URL: ${dep.db.dsn}             # the DSN of postgres dependency db, via its proxy
  PRICING_URL: ${dep.pricing.url}         # http://host:port of dependency pricing, via its proxy
  SENTRY_DSN: ${sentry_dsn}               # the lab's Bugsink project (sentry expectations)
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: ${otlp_traces_endpoint}   # the lab's trace store
  OTEL_SERVICE_NAME: NAME_

dependencies: each TCP upstream of the service goes behind a Toxiproxy proxy
named after it, so toxic (latency, timeout, reset_peer...) and proxy_down faults
can break that link. The service must connect through the proxy: use the
${dep.NAME.*} placeholders above. A profile without dependencies supports no
such fault.
dependencies:
  db:
    kind: postgres              # the lab's own PostgreSQL; or upstream: 127.0.0.1:5432,
                                # with dsn: postgresql://... for db_lock / db_connection_hog
  pricing:
    kind: http
    upstream: 127.0.0.1:9000    # already running; or command: [...] the lab starts on ${port}

rules: the service's own Prometheus alert rule files (relative to this file),
loaded by the lab's Prometheus so `kind: alert` expectations can name them.
time_scale shrinks their ranges and for: durations so minutes-long scenarios can
fire them (1/30: [5m] runs as [10s], for: 2m as for: 4s).
rules:
  files: [alerts/NAME_.rules.yml]
  time_scale: 1/30
"""


def _load_comment(found: Discovery, mix: Mix) -> str:
    paragraphs = [
        "load: the request mix Locust runs. Weights are relative; {var} in a path or in a "
        "JSON string is an integer drawn from vars; a status not in expect is a failure."
    ]
    if found.openapi_path is not None and not mix.note:
        left_out = (
            f", and {mix.left_out} more operations (cap {MAX_REQUESTS})" if mix.left_out else ""
        )
        paragraphs.append(
            f"Proposed from the OpenAPI document at {found.openapi_path}: GETs weigh "
            f"{GET_WEIGHT}, writes {WRITE_WEIGHT}, bodies are minimal valid values of their "
            f"schemas; DELETE, health, metrics, docs and admin paths are left out{left_out}."
        )
        if mix.vars:
            paragraphs.append(
                "Ids are drawn from the vars ranges: if fewer exist, narrow them or add 404 "
                "to expect."
            )
    else:
        why = (
            f"The OpenAPI document at {found.openapi_path} offered no usable operation"
            if found.openapi_path is not None
            else f"No OpenAPI document was found (at {', '.join(OPENAPI_PATHS)})"
        )
        paragraphs.append(
            f"{why}, so this mix is a placeholder: {mix.note}. "
            "List the service's real requests here."
        )
    text = "\n".join(fill(p) for p in paragraphs)
    return (
        f"{text}\nOr use a Locust file of your own instead of requests:\n"
        "load: {locustfile: locustfile.py, user_classes: [MyUser]}"
    )


def render_scenario(name: str, out_dir: Path) -> str:
    """The text of ``first-scenario.yaml``: steady load, no fault, healthy expectations."""
    scenario_name = f"{name.replace('_', '-')}-first"
    head = {
        "name": scenario_name,
        "title": f"{name} under steady load, nothing broken",
        "story": (
            "A first run against a healthy service, to check the lab sees it: Prometheus\n"
            "scrapes it the whole time and no error reaches Sentry. Once it passes, copy it,\n"
            "add a dependency to the profile and a fault here, and expect what should\n"
            "surface (a metric, an alert, failed spans, a Sentry issue, a log line).\n"
        ),
        "target": {"profile": PROFILE_FILE},
        "load": {"users": 5, "spawn_rate": 5, "duration": "30s"},
    }
    expectations = [
        {
            "id": "target-up",
            "kind": "metric",
            "description": "Prometheus scrapes the service all along",
            "query": f'up{{job="{name}"}}',
            "op": "==",
            "threshold": 1,
            "hold": "10s",
        },
        {
            "id": "no-sentry-issue",
            "kind": "sentry",
            "description": "a healthy service reports no error (vacuous if it has no SENTRY_DSN)",
            "absent": True,
        },
    ]
    return "".join(
        [
            schema_header(SCENARIO_SCHEMA, out_dir),
            comment(
                f"The first scenario on {PROFILE_FILE}, written by `chaoslab init`:\n"
                "run it with `chaoslab run` once `chaoslab validate` is happy."
            ),
            dump(head),
            "\n",
            comment(_FAULT_TEMPLATE),
            dump({"faults": []}),
            "\n",
            dump({"expectations": expectations}),
        ]
    )


_FAULT_TEMPLATE = """\
No fault: a profile with no dependencies supports none. Once profile.yaml has a
dependency (say db), a fault on it looks like this:
faults:
  - id: db-slow
    kind: toxic
    target: db                  # a dependency of profile.yaml
    toxic: latency
    stream: downstream
    attributes: {latency: 1000} # milliseconds added to each answer
    at: 10s
    duration: 15s
"""
