"""The local stack end to end: every signal reaches its real backend, and down leaves nothing."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assertions import BugsinkClient
from stack.local import COMPONENTS, LocalStack
from stack.ports import is_listening
from stack.process import pid_alive, stop_pid
from stack.state import StackState, read_state
from tests.integration.browser import open_page
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration


def ports_of(state: StackState) -> list[int]:
    ports = []
    for record in state.components.values():
        tail = record.url.rsplit(":", 1)[1]
        ports.append(int(tail.split("/", 1)[0]))
    ports += [int(listen.rsplit(":", 1)[1]) for listen in state.endpoints.proxies.values()]
    return ports


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("lab") / ".chaoslab") as stack:
        yield stack


def test_every_component_is_up_and_recorded(lab: LocalStack) -> None:
    state = read_state(lab.state_dir)
    assert state is not None
    assert state.complete
    assert set(state.components) == {*COMPONENTS, "classifier"}
    for name, record in state.components.items():
        assert record.pid is not None, name
        assert pid_alive(record.pid), name
        assert "127.0.0.1" in record.url, name
    assert set(state.endpoints.proxies) == {"postgres", "downstream"}
    # The target reaches PostgreSQL and the classifier through the proxies.
    assert state.endpoints.proxies["postgres"] in state.endpoints.target_dsn


def test_a_request_shows_in_prometheus_traces_and_logs(lab: LocalStack) -> None:
    ep = lab.endpoints
    run_id = f"run-{uuid.uuid4().hex[:12]}"
    created = httpx.post(
        ep.target_url + "/api/documents",
        json={"title": "stack", "body": "end to end", "owner_email": "lab@example.com"},
        headers={"X-Chaoslab-Run": run_id},
        timeout=10,
    )
    assert created.status_code == 201

    def scraped() -> list[Any] | None:
        query = 'sum(http_requests_total{job="target",route="/api/documents",status="201"})'
        body = httpx.get(ep.prometheus_url + "/api/v1/query", params={"query": query}).json()
        result: list[Any] = body["data"]["result"]
        return result if result and float(result[0]["value"][1]) >= 1 else None

    eventually(scraped, 20, "the request to show in Prometheus")

    def traced() -> list[Any] | None:
        params = {"service": "target", "tags": json.dumps({"chaoslab.run_id": run_id})}
        data: list[Any] = httpx.get(ep.traces_url + "/api/traces", params=params).json()["data"]
        both = [
            t
            for t in data
            if {p["serviceName"] for p in t["processes"].values()} == {"target", "classifier"}
        ]
        return both or None

    trace = eventually(traced, 20, "a trace spanning target and classifier")[0]
    log_lines = [json.loads(line) for line in Path(ep.target_log).read_text().splitlines()]
    created_lines = [
        x for x in log_lines if x["event"] == "document.created" and x.get("run_id") == run_id
    ]
    assert created_lines
    assert created_lines[0]["trace_id"] == trace["traceID"]


def test_a_forced_error_is_one_bugsink_issue_with_fingerprint_and_run_id(lab: LocalStack) -> None:
    ep = lab.endpoints
    run_id = f"run-{uuid.uuid4().hex[:12]}"
    headers = {"X-Chaos-Token": ep.chaos_token}
    switched = httpx.patch(
        ep.target_url + "/admin/chaos",
        json={"exception_rate": 1.0, "exception_type": "StackSmokeError"},
        headers=headers,
    )
    assert switched.status_code == 200
    try:
        for _ in range(3):
            response = httpx.post(
                ep.target_url + "/api/documents",
                json={"title": "t", "body": "b", "owner_email": "e@example.com"},
                headers={"X-Chaoslab-Run": run_id},
            )
            assert response.status_code == 500
    finally:
        httpx.delete(ep.target_url + "/admin/chaos", headers=headers)

    with BugsinkClient(ep.bugsink_url, ep.sentry_api_token, ep.sentry_project_id) as api:
        issues = eventually(
            lambda: [i for i in api.issues(tags={"run_id": run_id}) if i.event_count >= 3],
            30,
            "a Bugsink issue with 3 events for the run",
        )
        assert len(issues) == 1
        assert issues[0].exception_type == "StackSmokeError"
        events = api.events(issues[0].id)
        assert len(events) == 3
        detail = api.event(events[0].id)
        assert detail is not None
        assert detail.fingerprint == ["chaos-exception", "StackSmokeError"]
        assert detail.tags["run_id"] == run_id
        assert api.issues(tags={"run_id": "no-such-run"}) == []


def prometheus_query(url: str, path: str, **params: str | float) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(url + path, params=params, timeout=10).json()
    assert answer["status"] == "success", (params, answer)
    data: dict[str, Any] = answer["data"]
    return data


def test_the_dashboard_shows_the_profile_panels_and_a_firing_alert(
    lab: LocalStack, tmp_path: Path
) -> None:
    ep = lab.endpoints
    state = read_state(lab.state_dir)
    assert state is not None
    assert ep.dashboard_url == f"{ep.prometheus_url}/consoles/chaoslab.html"
    assert state.endpoints.dashboard_url == ep.dashboard_url
    body = {"title": "dash", "body": "board", "owner_email": "lab@example.com"}
    for _ in range(5):
        assert httpx.post(ep.target_url + "/api/documents", json=body, timeout=10).is_success
        assert httpx.get(ep.target_url + "/api/documents", timeout=10).is_success
    # A real alert: every request raises until ExceptionStorm fires (lab time: ~10 s).
    headers = {"X-Chaos-Token": ep.chaos_token}
    storm = {"exception_rate": 1.0, "exception_type": "DashboardStormError"}
    assert httpx.patch(ep.target_url + "/admin/chaos", json=storm, headers=headers).is_success

    def storm_firing() -> bool:
        httpx.get(ep.target_url + "/api/documents", timeout=10)
        alerts = prometheus_query(ep.prometheus_url, "/api/v1/alerts")["alerts"]
        return any(
            a["labels"]["alertname"] == "ExceptionStorm" and a["state"] == "firing" for a in alerts
        )

    try:
        eventually(storm_firing, 60, "ExceptionStorm firing")
    finally:
        httpx.delete(ep.target_url + "/admin/chaos", headers=headers)

    page = httpx.get(ep.dashboard_url, timeout=10)
    assert page.status_code == 200, page.text[-2000:]
    panels = [(p.title, p.query_for("target")) for p in lab.profile.dashboard]
    assert len(panels) == 10
    exprs = re.findall(r'expr: ("(?:[^"\\]|\\.)*")', page.text)
    assert [json.loads(e) for e in exprs] == [query for _, query in panels]
    assert [html.unescape(t) for t in re.findall(r"<h3>(.*?)</h3>", page.text)] == [
        title for title, _ in panels
    ]
    assert 'data-alertname="ExceptionStorm" data-state="firing"' in page.text
    links = dict(re.findall(r'<a id="link-([a-z-]+)" href="([^"]+)"', page.text))
    assert links["alertmanager"] == ep.alertmanager_url + "/#/alerts"
    assert httpx.get(links["alertmanager-api"], timeout=10).status_code == 200
    assert links["bugsink"] == ep.bugsink_url
    assert links["traces"] == ep.traces_url + "/search"
    end = time.time()
    with_data = []
    for title, query in panels:  # every query runs on the real series (no runtime error)
        prometheus_query(ep.prometheus_url, "/api/v1/query", query=query)
        found = prometheus_query(
            ep.prometheus_url, "/api/v1/query_range", query=query, start=end - 900, end=end, step=2
        )
        with_data += [title] if found["result"] else []
    assert {
        "Request rate",
        "Error ratio (5xx)",
        "Latency p50 / p95 / p99",
        "Pool connections",
        "Pool acquire wait p95 / p99",
        "Downstream latency p95",
        "Exceptions",
    } <= set(with_data)

    result = open_page(ep.dashboard_url, tmp_path / "dashboard.png", wait_ms=12_000)

    assert result.console_errors == []
    assert result.network_requests == [], "the page loaded something beyond its origin"
    for request in result.origin_requests:
        assert httpx.get(request, timeout=10).status_code == 200, request
    for index, (title, _) in enumerate(panels):
        start = result.dom.index(f'id="graph-{index}"')
        graph = result.dom[start : result.dom.find("</section>", start)]
        drawn = re.search(r'<path [^>]*d="M', graph) is not None
        assert drawn == (title in with_data), f"{title}: drawn {drawn}"
    assert 'data-alertname="ExceptionStorm" data-state="firing"' in result.dom


def test_target_down_fires_in_prometheus_alertmanager_and_the_webhook(lab: LocalStack) -> None:
    ep = lab.endpoints
    state = read_state(lab.state_dir)
    assert state is not None

    def notifications() -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = httpx.get(ep.webhook_url + "/notifications").json()
        return data

    def target_down_notes() -> list[dict[str, Any]]:
        return [
            n for n in notifications()
            if any(a["labels"]["alertname"] == "TargetDown" and a["status"] == "firing"
                   for a in n["payload"]["alerts"])
        ]  # fmt: skip

    # Control: with the target up, nothing about TargetDown has been sent.
    assert target_down_notes() == []
    target = state.components["target"]
    assert target.pid is not None
    stop_pid(target.pid, target.start_time)

    def firing_in_prometheus() -> bool:
        alerts = httpx.get(ep.prometheus_url + "/api/v1/alerts").json()["data"]["alerts"]
        return any(
            a["labels"]["alertname"] == "TargetDown" and a["state"] == "firing" for a in alerts
        )

    eventually(firing_in_prometheus, 45, "TargetDown firing in Prometheus")

    def in_alertmanager() -> bool:
        alerts = httpx.get(ep.alertmanager_url + "/api/v2/alerts").json()
        return any(a["labels"]["alertname"] == "TargetDown" for a in alerts)

    eventually(in_alertmanager, 30, "TargetDown in Alertmanager")
    notes = eventually(target_down_notes, 30, "a TargetDown notification at the webhook")
    assert notes[0]["received_at"]


def chaoslab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scenarios.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_cli_up_status_down_leaves_nothing_behind(tmp_path: Path) -> None:
    state_dir = tmp_path / ".chaoslab"
    up = chaoslab("--state-dir", str(state_dir), "up")
    assert up.returncode == 0, up.stdout + up.stderr
    for name in COMPONENTS:
        assert f"  {name} " in up.stdout, f"{name} not reported by up:\n{up.stdout}"

    again = chaoslab("--state-dir", str(state_dir), "up")
    assert again.returncode == 0
    assert "already up" in again.stdout

    status = chaoslab("--state-dir", str(state_dir), "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["stack"] == "local"
    assert report["state_dir"] == str(state_dir.resolve())
    assert set(report["components"]) == {*COMPONENTS, "classifier"}
    assert all(c["healthy"] is True for c in report["components"].values()), report
    assert all(set(c) == {"url", "pid", "healthy"} for c in report["components"].values())

    state = read_state(state_dir)
    assert state is not None
    pids = [r.pid for r in state.components.values() if r.pid is not None]
    ports = ports_of(state)
    scratch = list(state.scratch_dirs)

    down = chaoslab("--state-dir", str(state_dir), "down")
    assert down.returncode == 0, down.stderr
    assert chaoslab("--state-dir", str(state_dir), "down").stdout.strip() == "nothing was running"
    assert [pid for pid in pids if pid_alive(pid)] == []
    assert [port for port in ports if is_listening(port)] == []
    assert not any(Path(d).exists() for d in scratch)
    after = chaoslab("--state-dir", str(state_dir), "status", "--json")
    assert json.loads(after.stdout)["components"] == {}
    shutil.rmtree(state_dir)
    assert not state_dir.exists()


def test_up_after_the_runner_was_killed_cleans_the_leftovers(tmp_path: Path) -> None:
    state_dir = tmp_path / ".chaoslab"
    runner = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from stack.local import LocalStack
        LocalStack(Path({str(state_dir)!r})).up()
        print("UP", flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", runner], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "UP"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    orphaned = read_state(state_dir)
    assert orphaned is not None
    old_pids = [r.pid for r in orphaned.components.values() if r.pid is not None]
    assert all(pid_alive(pid) for pid in old_pids), "the killed runner's stack should be orphaned"

    with LocalStack(state_dir) as second:
        assert [pid for pid in old_pids if pid_alive(pid)] == []
        fresh = read_state(state_dir)
        assert fresh is not None
        assert fresh.complete
        assert httpx.get(second.endpoints.target_url + "/readiness", timeout=10).status_code == 200
