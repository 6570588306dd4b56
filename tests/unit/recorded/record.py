"""Record real backend responses as JSON fixtures for the ``assertions`` unit tests.

Not a test (pytest only collects ``test_*.py``): run it by hand when a backend
changes version or the clients need a new response::

    uv run python -m tests.unit.recorded.record

It starts the real thing on 127.0.0.1 — PostgreSQL, the trace store, Bugsink,
the classifier and the target service, Prometheus (rules from
``compose/prometheus/alerts.yml``, scaled to lab time as the stack loads them)
and Alertmanager routing to a small webhook recorder that speaks the lab's
``GET /notifications`` contract — drives the target with a short exception
storm tagged with :data:`RUN_ID` until ``ExceptionStorm`` fires and resolves,
then writes every response below.

Each ``*.json`` fixture is ``{"request": {"method", "path", "params"},
"status": N, "body": <the JSON the backend answered>}``; ``target.jsonl`` is
a slice of the target's real log file. Every process is stopped by its own PID
on the way out.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx

from stack import apps
from stack.alerting import ALERT_RULES, BUNDLED_RULE_SCALE, scale_rule_file
from stack.bugsink import BugsinkServer
from stack.ports import LOOPBACK, free_port
from stack.postgres import PostgresCluster
from stack.process import ManagedProcess
from stack.tracestore import TraceStoreProcess

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
RUN_ID = "rec-20240601-0001"
CHAOS_TOKEN = "recorder-chaos-token"
EXCEPTION_TYPE = "PoolCheckoutTimeout"

PROMETHEUS_YML = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["{alertmanager}"]
scrape_configs:
  - job_name: target
    static_configs:
      - targets: ["{target}"]
"""

ALERTMANAGER_YML = """\
route:
  receiver: lab
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: lab
    webhook_configs:
      - url: "{webhook}/alerts"
        send_resolved: true
"""


class _WebhookHandler(BaseHTTPRequestHandler):
    """POST /alerts records a notification; GET /notifications lists them."""

    notifications: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length))
        received_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        self.notifications.append({"received_at": received_at, "payload": payload})
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        body = json.dumps(self.notifications).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def webhook_receiver() -> Iterator[str]:
    server = ThreadingHTTPServer((LOOPBACK, free_port()), _WebhookHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def managed(process: ManagedProcess, probe: Callable[[], bool]) -> Iterator[ManagedProcess]:
    process.start()
    try:
        process.wait_healthy(probe, 30.0)
        yield process
    finally:
        process.stop()


class Recorder:
    """Saves responses as fixtures."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.client = httpx.Client(timeout=10.0)

    def get(
        self,
        name: str,
        base: str,
        path: str,
        trim: Callable[[Any], Any] | None = None,
        **params: str,
    ) -> httpx.Response:
        response = self.client.get(base + path, params=params)
        body = response.json()
        fixture = {
            "request": {"method": "GET", "path": path, "params": params},
            "status": response.status_code,
            "body": body if trim is None else trim(body),
        }
        (self.out / f"{name}.json").write_text(json.dumps(fixture, indent=2) + "\n")
        print(f"recorded {name}: {response.status_code}", file=sys.stderr)
        return response


def trim_event(body: Any) -> Any:
    """Drop what no client reads and only bloats the fixture (~50 kB → a few kB).

    ``stacktrace_md`` (a Markdown rendering of the stack with every local
    variable), the installed ``modules`` and all but the innermost two stack
    frames of each exception. Everything else is as Bugsink answered.
    """
    body.pop("stacktrace_md", None)
    body["data"].pop("modules", None)
    for value in body["data"].get("exception", {}).get("values", []):
        frames = value.get("stacktrace", {}).get("frames", [])
        for frame in frames:
            frame.pop("vars", None)
        if frames:
            value["stacktrace"]["frames"] = frames[-2:]
    return body


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.5)


def drive(client: httpx.Client, target: str, seconds: float) -> None:
    """Create and read documents for ``seconds`` (about 8 requests per second)."""
    headers = {"X-Chaoslab-Run": RUN_ID}
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        document = {"title": f"doc {n}", "body": "lorem ipsum", "owner_email": "a@example.com"}
        client.post(f"{target}/api/documents", json=document, headers=headers)
        client.get(f"{target}/api/documents", headers=headers)
        time.sleep(0.25)


def record(out: Path, state: Path) -> None:
    with ExitStack() as stack:
        postgres = stack.enter_context(PostgresCluster())
        traces = stack.enter_context(TraceStoreProcess(state / "traces"))
        bugsink = stack.enter_context(BugsinkServer(state / "bugsink"))
        classifier = stack.enter_context(
            apps.classifier(state / "classifier", {"CLASSIFIER_OTLP_ENDPOINT": traces.url})
        )
        log_file = state / "target" / "target.jsonl"
        target = apps.target(
            state / "target",
            {
                "TARGET_DSN": postgres.dsn(),
                "TARGET_DOWNSTREAM_URL": classifier.url,
                "TARGET_OTLP_ENDPOINT": traces.url,
                "TARGET_SENTRY_DSN": bugsink.dsn,
                "TARGET_CHAOS_TOKEN": CHAOS_TOKEN,
                "TARGET_LOG_FILE": str(log_file),
            },
        )
        stack.enter_context(target)
        webhook = stack.enter_context(webhook_receiver())

        am_port, prom_port = free_port(), free_port()
        am_url, prom_url = f"http://{LOOPBACK}:{am_port}", f"http://{LOOPBACK}:{prom_port}"
        am_dir, prom_dir = state / "alertmanager", state / "prometheus"
        am_dir.mkdir()
        prom_dir.mkdir()
        # The bundled rules are written in production windows: load them 30
        # times faster, as PrometheusServer(rule_time_scale=BUNDLED_RULE_SCALE) does.
        rules = prom_dir / "rules" / ALERT_RULES.name
        scale_rule_file(ALERT_RULES, rules, BUNDLED_RULE_SCALE, scrape_interval_s=1)
        (am_dir / "alertmanager.yml").write_text(ALERTMANAGER_YML.format(webhook=webhook))
        (prom_dir / "prometheus.yml").write_text(
            PROMETHEUS_YML.format(
                rules=rules, alertmanager=f"{LOOPBACK}:{am_port}", target=target.url[7:]
            )
        )
        am_argv = [
            "prometheus-alertmanager",
            f"--config.file={am_dir / 'alertmanager.yml'}",
            f"--storage.path={am_dir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{am_port}",
            "--cluster.listen-address=",
        ]
        prom_argv = [
            "prometheus",
            f"--config.file={prom_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={prom_dir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{prom_port}",
        ]
        stack.enter_context(
            managed(
                ManagedProcess("alertmanager", am_argv, am_dir / "log"),
                lambda: apps.http_ok(f"{am_url}/-/ready"),
            )
        )
        stack.enter_context(
            managed(
                ManagedProcess("prometheus", prom_argv, prom_dir / "log"),
                lambda: apps.http_ok(f"{prom_url}/-/ready"),
            )
        )

        client = stack.enter_context(httpx.Client(timeout=10.0))
        rec = Recorder(out)
        t0 = time.time()
        drive(client, target.url, 4)
        # A few slow requests, for duration filters on traces.
        chaos = {"X-Chaos-Token": CHAOS_TOKEN}
        client.patch(f"{target.url}/admin/chaos", json={"slow_query_s": 0.3}, headers=chaos)
        drive(client, target.url, 2)
        switches = {"slow_query_s": 0.0, "exception_rate": 0.5, "exception_type": EXCEPTION_TYPE}
        client.patch(f"{target.url}/admin/chaos", json=switches, headers=chaos)

        def storm_firing() -> bool:
            drive(client, target.url, 1)
            alerts = client.get(f"{prom_url}/api/v1/alerts").json()["data"]["alerts"]
            return any(
                a["labels"]["alertname"] == "ExceptionStorm" and a["state"] == "firing"
                for a in alerts
            )

        wait_for("ExceptionStorm firing", storm_firing, 90)
        wait_for(
            "a notification",
            lambda: bool(client.get(f"{webhook}/notifications").json()),
            30,
        )
        time.sleep(2)
        window_end = time.time()

        # --- Prometheus ---------------------------------------------------------------
        rec.get("prometheus_query_vector", prom_url, "/api/v1/query", query="up")
        rec.get(
            "prometheus_query_vector_multi",
            prom_url,
            "/api/v1/query",
            query='sum by (route, status) (rate(http_requests_total{job="target"}[30s]))',
        )
        rec.get("prometheus_query_scalar", prom_url, "/api/v1/query", query="scalar(up)")
        rec.get("prometheus_query_string", prom_url, "/api/v1/query", query='"chaoslab"')
        rec.get(
            "prometheus_query_empty",
            prom_url,
            "/api/v1/query",
            query='up{job="does-not-exist"}',
        )
        rec.get(
            "prometheus_query_range",
            prom_url,
            "/api/v1/query_range",
            query='sum by (type) (rate(app_exceptions_total{job="target"}[30s]))',
            start=f"{t0:.3f}",
            end=f"{window_end:.3f}",
            step="2s",
        )
        rec.get("prometheus_query_bad_data", prom_url, "/api/v1/query", query="sum(rate(")
        rec.get("prometheus_alerts", prom_url, "/api/v1/alerts")
        rec.get("prometheus_rules", prom_url, "/api/v1/rules")

        # --- Alertmanager (firing) ----------------------------------------------------
        rec.get("alertmanager_alerts", am_url, "/api/v2/alerts")
        rec.get("alertmanager_status", am_url, "/api/v2/status")

        # --- Traces -------------------------------------------------------------------
        start_us, end_us = str(int(t0 * 1e6)), str(int(window_end * 1e6) + 10_000_000)
        rec.get("jaeger_services", traces.url, "/api/services")
        found = rec.get(
            "jaeger_traces_run",
            traces.url,
            "/api/traces",
            service="target",
            tags=json.dumps({"chaoslab.run_id": RUN_ID, "error": "true"}),
            start=start_us,
            end=end_us,
            limit="3",
        )
        rec.get(
            "jaeger_traces_slow",
            traces.url,
            "/api/traces",
            service="target",
            minDuration="250ms",
            start=start_us,
            end=end_us,
            limit="2",
        )
        rec.get("jaeger_traces_none", traces.url, "/api/traces", service="nobody")
        rec.get("jaeger_traces_bad_duration", traces.url, "/api/traces", service="target",
                minDuration="soon")  # fmt: skip
        trace_id = found.json()["data"][0]["traceID"]
        rec.get("jaeger_trace", traces.url, f"/api/traces/{trace_id}")
        rec.get("jaeger_trace_missing", traces.url, f"/api/traces/{'0' * 31}1")

        # --- Bugsink ------------------------------------------------------------------
        api = bugsink.url + "/api/canonical/0"
        project = str(bugsink.project_id)
        wait_for(
            "a Sentry issue",
            lambda: bool(
                client.get(
                    f"{api}/issues/",
                    params={"project": project, "q": f"run_id:{RUN_ID}"},
                    headers={"Authorization": f"Bearer {bugsink.api_token}"},
                ).json()["results"]
            ),
            30,
        )
        rec.client.headers["Authorization"] = f"Bearer {bugsink.api_token}"
        issues = rec.get("bugsink_issues", api, "/issues/", project=project, q=f"run_id:{RUN_ID}")
        rec.get("bugsink_issues_none", api, "/issues/", project=project, q="run_id:nope")
        issue_id = issues.json()["results"][0]["id"]
        events = rec.get("bugsink_events", api, "/events/", issue=issue_id)
        event_id = events.json()["results"][0]["id"]
        rec.get("bugsink_event", api, f"/events/{event_id}/", trim=trim_event)
        rec.client.headers["Authorization"] = "Bearer wrong-token"
        rec.get("bugsink_unauthorized", api, "/issues/", project=project)
        del rec.client.headers["Authorization"]

        # --- Health -------------------------------------------------------------------
        rec.get("health_liveness", target.url, "/liveness")
        rec.get("health_readiness_ok", target.url, "/readiness")

        # --- Resolution ---------------------------------------------------------------
        client.delete(f"{target.url}/admin/chaos", headers=chaos)

        def resolved() -> bool:
            drive(client, target.url, 1)
            notifications = client.get(f"{webhook}/notifications").json()
            return any(n["payload"]["status"] == "resolved" for n in notifications)

        wait_for("ExceptionStorm resolved", resolved, 120)
        rec.get("webhook_notifications", webhook, "/notifications")
        rec.get("alertmanager_alerts_after", am_url, "/api/v2/alerts")

        classifier.stop()
        rec.get("health_readiness_failing", target.url, "/readiness")

        # --- Logs: the first 60 lines, and a slice with the storm's errors ------------
        lines = log_file.read_text().splitlines(keepends=True)
        errors = [line for line in lines if EXCEPTION_TYPE in line][:10]
        (out / "target.jsonl").write_text("".join(lines[:60] + errors))
        print(f"recorded target.jsonl: {min(len(lines), 60) + len(errors)} lines", file=sys.stderr)


def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="chaoslab-record-"))
    try:
        record(HERE, state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
